//go:build linux

package compare

// models4_test.go - scenarios that need many connections at once, for the select and
// thread models: select's FD_SETSIZE wall, and 500 threads alive at the same time. Each
// runs the same traffic against the C and the Go standalone server and compares the
// transcripts (stdout and stderr) byte for byte, once every peer port is replaced by the
// connection's name. The helpers here (m4*) are self-contained on purpose.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// m4Buffer is an output buffer that the process's copier and the test share.
type m4Buffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *m4Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *m4Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// m4Server is a standalone server started with extra descriptors (fds 3, 4, ...) below
// its own, so that two servers can be given the same descriptor layout.
type m4Server struct {
	cmd            *exec.Cmd
	port           int
	stdout, stderr *m4Buffer
	done           chan struct{}
}

var m4Listening = regexp.MustCompile(`^listening on 0\.0\.0\.0:(\d+)\n`)

func m4Start(t *testing.T, path string, pad int, env []string, args ...string) *m4Server {
	t.Helper()
	s := &m4Server{cmd: exec.Command(path, args...), stdout: &m4Buffer{}, stderr: &m4Buffer{}, done: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	for i := 0; i < pad; i++ {
		f, err := os.Open(os.DevNull)
		require.NoError(t, err, "opening a padding descriptor")
		defer f.Close() // the child has its copy once Start returns
		s.cmd.ExtraFiles = append(s.cmd.ExtraFiles, f)
	}
	require.NoError(t, s.cmd.Start(), "starting %s %v", path, args)
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	m4WaitFor(t, 10*time.Second, func() bool {
		if m := m4Listening.FindStringSubmatch(s.stderr.String()); m != nil {
			s.port, _ = strconv.Atoi(m[1])
			return true
		}
		return false
	}, func() string {
		return fmt.Sprintf("%s %v: no listening line; stderr %q", path, args, s.stderr.String())
	})
	return s
}

// stop sends SIGTERM and requires the seed's goodbye line and exit status 0.
func (s *m4Server) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM), "sending SIGTERM")
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the server did not exit within 10s of SIGTERM")
	}
	assert.Equal(t, 0, s.cmd.ProcessState.ExitCode(), "exit status after SIGTERM; stderr tail %q", m4Tail(s.stderr.String()))
	assert.True(t, strings.HasSuffix(s.stderr.String(), "signal: SIGTERM(15)   close server ... done\n"),
		"the last stderr line after SIGTERM; stderr tail %q", m4Tail(s.stderr.String()))
}

func m4Tail(s string) string {
	if len(s) > 300 {
		return "..." + s[len(s)-300:]
	}
	return s
}

// m4WaitFor polls cond (every 5 ms) until it holds or timeout passes: a wait for the
// server to reach a state that its output shows, bounded in time.
func m4WaitFor(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "timed out after "+timeout.String(), msg())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// m4Fds lists the server's descriptors: number -> what /proc/PID/fd links to.
func m4Fds(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err, "listing %s", dir)
	fds := map[int]string{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		require.NoError(t, err, "fd name %q", e.Name())
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err == nil {
			fds[n] = target
		}
	}
	return fds
}

// m4ListenFd is the server's one socket before any client connects: its listener.
func m4ListenFd(t *testing.T, pid int) int {
	t.Helper()
	fd := -1
	for n, target := range m4Fds(t, pid) {
		if strings.HasPrefix(target, "socket:") {
			require.Equal(t, -1, fd, "two sockets before any client: fds %v", m4Fds(t, pid))
			fd = n
		}
	}
	require.GreaterOrEqual(t, fd, 0, "no listening socket among %v", m4Fds(t, pid))
	return fd
}

// m4Conns names connections by the order they connected: c0000, c0001, ...
type m4Conns struct {
	conns []*net.TCPConn
	names map[string]string // "127.0.0.1:PORT" (the server's view) -> name
}

func (c *m4Conns) name(i int) string { return fmt.Sprintf("c%04d", i) }

// dial opens n connections one after the other, so that the server's listen queue holds
// them in this order.
func m4Dial(t *testing.T, port, n int) *m4Conns {
	t.Helper()
	c := &m4Conns{names: map[string]string{}}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	for i := 0; i < n; i++ {
		conn, err := net.DialTCP("tcp4", nil, addr)
		require.NoError(t, err, "connection %d of %d", i, n)
		t.Cleanup(func() { conn.Close() })
		c.conns = append(c.conns, conn)
		c.names[conn.LocalAddr().String()] = c.name(i)
	}
	return c
}

var m4PeerRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// normalise replaces every peer address by the connection's name, and the server's own
// port in the listening line by PORT.
func (c *m4Conns) normalise(s string) string {
	s = m4Listening.ReplaceAllString(s, "listening on 0.0.0.0:PORT\n")
	return m4PeerRE.ReplaceAllStringFunc(s, func(addr string) string {
		if name, ok := c.names[addr]; ok {
			return name
		}
		return addr
	})
}

// readAll reads to end of stream within a deadline.
func m4ReadAll(conn *net.TCPConn) (string, error) {
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	return string(b), err
}

func m4Build(t *testing.T) standalone.Binaries {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bins, err := standalone.Build(ctx, t.TempDir())
	require.NoError(t, err, "building the standalone binaries")
	return bins
}

func m4Count(s, sub string) int { return strings.Count(s, sub) }

// TestSelectBeyondFDSetSize: select's fd_set holds descriptors 0 to 1023. With ~1030
// connections open at once the server's descriptors pass 1023; each connection that got
// such a descriptor must be refused (a log line, then end of stream), and every one below
// must still be served. The Go runtime keeps descriptors of its own (on cgroup v1 the CPU
// quota files, for GOMAXPROCS), so the C server is started with as many padding
// descriptors: both then number their connections alike and their transcripts can be
// compared byte for byte.
func TestSelectBeyondFDSetSize(t *testing.T) {
	bins := m4Build(t)
	const nconns = 1030

	run := func(t *testing.T, srv *m4Server) (stdout, stderr string) {
		pid := srv.cmd.Process.Pid
		// os/exec gives the child the soft RLIMIT_NOFILE that the test process started
		// with (the Go runtime raised only its own); the server must be able to go
		// past 1024 descriptors for FD_SETSIZE, not EMFILE, to be what stops it.
		var lim unix.Rlimit
		require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &lim), "reading the server's RLIMIT_NOFILE")
		want := unix.Rlimit{Cur: min(4096, lim.Max), Max: lim.Max}
		require.GreaterOrEqual(t, want.Cur, uint64(nconns+64), "the hard RLIMIT_NOFILE (%d) is too low for this test", lim.Max)
		require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, &want, nil), "raising the server's RLIMIT_NOFILE")

		// Descriptors are allocated lowest free first, and nothing closes while the
		// clients connect, so connection i gets the i-th free descriptor below
		// FD_SETSIZE, and every one after those gets FD_SETSIZE itself (the refused
		// connection before it has just freed it). The free ones are counted rather than
		// assumed: a test process may pass on descriptors it inherited without
		// close-on-exec, and the servers then hold those too.
		open := m4Fds(t, pid)
		var free []int
		for fd := 0; fd < unix.FD_SETSIZE; fd++ {
			if _, ok := open[fd]; !ok {
				free = append(free, fd)
			}
		}
		served := len(free) // connections 0 .. served-1 fit in the fd_set
		require.Less(t, served, nconns, "too few connections to pass FD_SETSIZE; open fds %v", open)

		conns := m4Dial(t, srv.port, nconns)
		m4WaitFor(t, 20*time.Second, func() bool {
			return m4Count(srv.stdout.String(), "new conn ") == nconns &&
				m4Count(srv.stderr.String(), "beyond FD_SETSIZE") == nconns-served
		}, func() string {
			return fmt.Sprintf("want %d new conn lines and %d refusals, have %d and %d; stderr tail %q",
				nconns, nconns-served, m4Count(srv.stdout.String(), "new conn "),
				m4Count(srv.stderr.String(), "beyond FD_SETSIZE"), m4Tail(srv.stderr.String()))
		})

		for i, conn := range conns.conns {
			if i >= served {
				got, err := m4ReadAll(conn)
				assert.NoError(t, err, "%s (fd %d): a refused connection must end with EOF", conns.name(i), unix.FD_SETSIZE)
				assert.Empty(t, got, "%s (fd %d): a refused connection got bytes", conns.name(i), unix.FD_SETSIZE)
				continue
			}
			msg := "msg-" + conns.name(i)
			_, err := conn.Write([]byte(msg))
			require.NoError(t, err, "%s: sending", conns.name(i))
			got, err := m4ReadAll(conn)
			require.NoError(t, err, "%s (fd %d): reading the echo", conns.name(i), free[i])
			require.Equal(t, msg, got, "%s (fd %d): the echo", conns.name(i), free[i])
		}
		srv.stop(t)
		stdout, stderr = conns.normalise(srv.stdout.String()), conns.normalise(srv.stderr.String())
		assert.Equal(t, served, m4Count(stdout, "recv_msg: "), "served connections")
		wantRefusal := fmt.Sprintf("fd %d beyond FD_SETSIZE: close conn\n", unix.FD_SETSIZE)
		assert.Contains(t, stderr, wantRefusal, "the first refusal names fd %d", unix.FD_SETSIZE)
		return stdout, stderr
	}

	// Go first: its listener's descriptor tells how many the C server is padded with.
	// GOGC=off: the Go runtime opens two more descriptors (its netpoller's epoll and
	// eventfd) the first time it arms a timer, which the background scavenger does after
	// a garbage collection; in the middle of this test that would shift the Go server's
	// numbering by two and with it the refusals. Measured, this traffic stays below the
	// first collection's 4 MB heap goal anyway; GOGC=off makes that certain.
	goSrv := m4Start(t, bins.Server(standalone.Go), 0, []string{"GOGC=off"}, "select", "0")
	goListen := m4ListenFd(t, goSrv.cmd.Process.Pid)
	cProbe := m4Start(t, bins.Server(standalone.C), 0, nil, "select", "0")
	pad := goListen - m4ListenFd(t, cProbe.cmd.Process.Pid)
	cProbe.stop(t)
	require.GreaterOrEqual(t, pad, 0, "the C server holds more descriptors than the Go server")
	cSrv := m4Start(t, bins.Server(standalone.C), pad, nil, "select", "0")
	require.Equal(t, goListen, m4ListenFd(t, cSrv.cmd.Process.Pid), "padded C listener descriptor")

	var out, errs [2]string
	t.Run("c", func(t *testing.T) { out[0], errs[0] = run(t, cSrv) })
	t.Run("go", func(t *testing.T) { out[1], errs[1] = run(t, goSrv) })
	m4Same(t, "stdout", out[0], out[1])
	m4Same(t, "stderr", errs[0], errs[1])
}

// m4Same compares two transcripts; on a mismatch it reports the lengths, the first
// differing line and the text around it, not the whole of both.
func m4Same(t *testing.T, what, c, g string) {
	t.Helper()
	if c == g {
		return
	}
	cl, gl := strings.Split(c, "\n"), strings.Split(g, "\n")
	i := 0
	for i < len(cl) && i < len(gl) && cl[i] == gl[i] {
		i++
	}
	at := func(l []string) string {
		if i < len(l) {
			return l[i]
		}
		return "<end>"
	}
	assert.Fail(t, what+" differs between C and Go",
		"C %d bytes, Go %d bytes; first difference at line %d:\nC:  %q\nGo: %q", len(c), len(g), i+1, at(cl), at(gl))
}

// m4Threads is the server's thread count (Threads: in /proc/PID/status).
func m4Threads(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err, "reading the server's status")
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			require.NoError(t, err, "Threads: %q", v)
			return n
		}
	}
	require.FailNow(t, "no Threads: line in /proc/PID/status")
	return 0
}

// TestThread500: 500 connections open at once, each held by its own thread (the test
// checks the server's thread count), then all send and all get their echo. Threads
// answer in no defined order, so the recv_msg lines are sorted by connection name before
// C and Go are compared; the new conn lines keep the accept order.
func TestThread500(t *testing.T) {
	bins := m4Build(t)
	const nconns = 500

	run := func(t *testing.T, impl standalone.Impl) (string, string) {
		srv := m4Start(t, bins.Server(impl), 0, nil, "thread", "0")
		pid := srv.cmd.Process.Pid
		var lim unix.Rlimit
		require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &lim), "reading the server's RLIMIT_NOFILE")
		require.Greater(t, lim.Cur, uint64(nconns+64), "the server's RLIMIT_NOFILE is too low for %d connections", nconns)

		conns := m4Dial(t, srv.port, nconns)
		m4WaitFor(t, 20*time.Second, func() bool { return m4Count(srv.stdout.String(), "new conn(") == nconns },
			func() string {
				return fmt.Sprintf("%d of %d connections accepted", m4Count(srv.stdout.String(), "new conn("), nconns)
			})
		// Each accepted connection's thread is started before the next accept; all are
		// blocked in poll now, so the process holds at least one thread per connection.
		m4WaitFor(t, 10*time.Second, func() bool { return m4Threads(t, pid) > nconns },
			func() string { return fmt.Sprintf("%d threads for %d connections", m4Threads(t, pid), nconns) })

		for i, conn := range conns.conns {
			_, err := conn.Write([]byte("msg-" + conns.name(i)))
			require.NoError(t, err, "%s: sending", conns.name(i))
		}
		var wg sync.WaitGroup
		for i, conn := range conns.conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := m4ReadAll(conn)
				assert.NoError(t, err, "%s: reading the echo", conns.name(i))
				assert.Equal(t, "msg-"+conns.name(i), got, "%s: the echo", conns.name(i))
			}()
		}
		wg.Wait()
		srv.stop(t)

		var news, recvs []string
		for _, line := range strings.Split(strings.TrimSuffix(conns.normalise(srv.stdout.String()), "\n"), "\n") {
			if strings.HasPrefix(line, "recv_msg: ") {
				recvs = append(recvs, line)
			} else {
				news = append(news, line)
			}
		}
		assert.Len(t, recvs, nconns, "recv_msg lines")
		for i, line := range news {
			if i < nconns {
				assert.Equal(t, "new conn("+conns.name(i)+")", line, "accept order")
			}
		}
		sort.Strings(recvs)
		return strings.Join(news, "\n") + "\n" + strings.Join(recvs, "\n") + "\n", conns.normalise(srv.stderr.String())
	}

	var out, errs [2]string
	t.Run("c", func(t *testing.T) { out[0], errs[0] = run(t, standalone.C) })
	t.Run("go", func(t *testing.T) { out[1], errs[1] = run(t, standalone.Go) })
	m4Same(t, "stdout", out[0], out[1])
	m4Same(t, "stderr", errs[0], errs[1])
}
