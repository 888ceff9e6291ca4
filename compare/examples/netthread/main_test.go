package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/stretchr/testify/require"
)

// build compiles the example as its README says it builds: CGO_ENABLED=0. Under -race the
// test runs a -race build of it instead (the race detector needs cgo), so that the
// example's own goroutines are checked too.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "netthread")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "CGO_ENABLED=0 go build: %s", out)
	if raceEnabled {
		cmd = exec.Command("go", "build", "-race", "-o", bin, ".")
		out, err = cmd.CombinedOutput()
		require.NoError(t, err, "go build -race: %s", out)
	}
	return bin
}

// lines delivers r's lines on a channel, closed at end of stream.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// next is the next line of ch, or a failure after a deadline.
func next(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	select {
	case line, ok := <-ch:
		require.True(t, ok, "%s: the stream ended", what)
		return line
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no line in 10s", what)
		return ""
	}
}

// rest is every line left on ch, up to its end (the process has exited or will).
func rest(t *testing.T, ch <-chan string) []string {
	t.Helper()
	var all []string
	for {
		select {
		case line, ok := <-ch:
			if !ok {
				return all
			}
			all = append(all, line)
		case <-time.After(10 * time.Second):
			require.FailNow(t, "the stream did not end in 10s", "after %q", all)
		}
	}
}

func TestEchoAndStop(t *testing.T) {
	cmd := exec.Command(build(t), "0") // port 0: the kernel picks a free port
	stdoutPipe, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderrPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill() }) // a no-op once it has exited
	stdout, stderr := lines(stdoutPipe), lines(stderrPipe)

	// The first line names the port; wait until it accepts, with a deadline.
	port, ok := standalone.ParseListening(next(t, stderr, "stderr"))
	require.True(t, ok, "first stderr line")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var conn net.Conn
	require.Eventually(t, func() bool {
		conn, err = net.DialTimeout("tcp4", addr, time.Second)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "connect to %s", addr)

	// One message: sent, half-closed, echoed, then end of stream.
	_, err = conn.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	reply, err := io.ReadAll(conn)
	require.NoError(t, err)
	require.Equal(t, "hello", string(reply))
	require.NoError(t, conn.Close())
	peer := conn.LocalAddr().(*net.TCPAddr).Port
	require.Equal(t, fmt.Sprintf("new conn(127.0.0.1:%d)", peer), next(t, stdout, "stdout"))
	require.Equal(t, "recv_msg: hello", next(t, stdout, "stdout"))

	// A silent client, accepted (its line is out) when the stop comes, sees end of stream.
	silent, err := net.DialTimeout("tcp4", addr, 10*time.Second)
	require.NoError(t, err)
	defer silent.Close()
	silentPort := silent.LocalAddr().(*net.TCPAddr).Port
	require.Equal(t, "new conn(127.0.0.1:"+strconv.Itoa(silentPort)+")", next(t, stdout, "stdout"))

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, silent.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err := silent.Read(make([]byte, 1))
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF, "the silent client's ending")

	require.Empty(t, rest(t, stdout), "stdout after the stop")
	require.Equal(t, []string{"signal: SIGTERM(15)   close server ... done"}, rest(t, stderr))
	require.NoError(t, cmd.Wait(), "exit status")
	require.Equal(t, 0, cmd.ProcessState.ExitCode())
}
