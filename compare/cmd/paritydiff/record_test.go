//go:build linux

package main

// record_test.go - paritydiff record in front of the C key-value example
// (compare/examples/kv): a session of several clients, one building state another reads,
// recorded into a scenario file that replays at parity against C and the Go port, and that
// catches a Go port whose DEL does not delete.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kvBinaries builds the C key-value server (cc -Wall -Wextra -Werror) and its Go port into
// dir; overlay, if not nil, replaces the Go port's main.go (a mutant).
func kvBinaries(t *testing.T, dir string, overlay map[string]string) (c, goPort string) {
	t.Helper()
	root := standalone.RepoRoot()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	c = filepath.Join(dir, "kv-c")
	out, err := exec.CommandContext(ctx, cc, "-Wall", "-Wextra", "-Werror", "-O2", "-o", c, filepath.Join(root, "compare/examples/kv/c/kv.c")).CombinedOutput()
	require.NoError(t, err, "cc kv.c: %s", out)
	goPort = filepath.Join(dir, "kv-go")
	args := []string{"build", "-o", goPort}
	if overlay != nil {
		o, err := json.Marshal(map[string]map[string]string{"Replace": overlay})
		require.NoError(t, err)
		path := filepath.Join(dir, "overlay.json")
		require.NoError(t, os.WriteFile(path, o, 0o644))
		args = append(args, "-overlay", path)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./compare/examples/kv")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "go build kv: %s", out)
	return c, goPort
}

// startKV runs bin on a port the kernel picks and returns its address once it listens (its
// first stderr line says where), and stop, which sends SIGTERM and returns the rest of
// its stderr once it exited.
func startKV(t *testing.T, bin string) (addr string, stop func() string) {
	t.Helper()
	cmd := exec.Command(bin, "0")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var once sync.Once
	rest := make(chan string, 1)
	stop = func() string {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case r := <-rest:
				cmd.Wait()
				rest <- r
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				cmd.Wait()
				rest <- "(killed: kv did not end within 10 s of SIGTERM)"
			}
		})
		r := <-rest
		rest <- r
		return r
	}
	t.Cleanup(func() { stop() })
	line := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stderr)
		l, _ := br.ReadString('\n')
		line <- l
		r, _ := io.ReadAll(br)
		rest <- string(r)
	}()
	select {
	case l := <-line:
		m := regexp.MustCompile(`^listening on 0\.0\.0\.0:(\d+)\n$`).FindStringSubmatch(l)
		require.NotNil(t, m, "kv's first stderr line: %q", l)
		return "127.0.0.1:" + m[1], stop
	case <-time.After(10 * time.Second):
		t.Fatal("kv did not say where it listens within 10 s")
		return "", nil
	}
}

// syncBuffer is a buffer two goroutines may use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// until polls cond every millisecond for at most 10 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// kvClient is a client of the key-value server that waits for each reply.
type kvClient struct {
	t *testing.T
	c *net.TCPConn
	r *bufio.Reader
}

func dialKV(t *testing.T, addr string) *kvClient {
	c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	require.NoError(t, err)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &kvClient{t, c.(*net.TCPConn), bufio.NewReader(c)}
}

// ask sends the request line(s) and reads one reply line per wanted reply.
func (k *kvClient) ask(req string, want ...string) {
	k.t.Helper()
	_, err := k.c.Write([]byte(req))
	require.NoError(k.t, err)
	for _, w := range want {
		got, err := k.r.ReadString('\n')
		require.NoError(k.t, err, "reply to %q", req)
		require.Equal(k.t, w, got, "reply to %q", req)
	}
}

// TestRecordReplay records a session of four clients through paritydiff record, with
// state built by one and read by another, and replays the file: C against C and Go at
// parity, and against a Go port whose DEL does not delete, a difference.
func TestRecordReplay(t *testing.T) {
	dir := t.TempDir()
	kvC, kvGo := kvBinaries(t, dir, nil)
	ref, stopRef := startKV(t, kvC)

	scenarios := filepath.Join(dir, "scenarios")
	require.NoError(t, os.Mkdir(scenarios, 0o755))
	file := filepath.Join(scenarios, "kv-session.scenario")
	var rec *recorder
	onRecording = func(r *recorder) { rec = r }
	defer func() { onRecording = nil }()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- runRecord(ctx, []string{"-listen", "127.0.0.1:0", "-to", ref, "-o", file}, &stdout, &stderr)
	}()
	listening := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+),`)
	until(t, "the recorder listens", func() bool { return listening.MatchString(stderr.String()) })
	proxy := listening.FindStringSubmatch(stderr.String())[1]
	idle := func() { until(t, "the recorder has seen every session end", func() bool { return rec.open() == 0 }) }

	a := dialKV(t, proxy)
	a.ask("SET color blue\n", "OK\n")
	a.ask("GET color\n", "VALUE blue\n")
	b := dialKV(t, proxy)
	b.ask("GET color\n", "VALUE blue\n") // a's state, read by b
	b.ask("DEL color\n", "DELETED\n")
	a.ask("GET color\n", "NOT_FOUND\n") // b's delete, seen by a
	a.ask("SET size 10\n", "OK\n")
	require.NoError(t, a.c.CloseWrite())
	_, err := a.r.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server ends a after its half-close")
	a.c.Close()
	b.ask("BOGUS\n", "ERROR unknown command\n")
	b.ask("GET size\n", "VALUE 10\n")
	b.c.Close()
	idle()
	c := dialKV(t, proxy)
	c.ask("SET x 1\n", "OK\n")
	c.c.SetLinger(0)
	c.c.Close() // reset
	idle()
	d := dialKV(t, proxy)
	d.ask("GET x\r\nDEL x\nGET x\n", "VALUE 1\n", "DELETED\n", "NOT_FOUND\n")
	d.c.Close()
	idle()
	stop()
	select {
	case c := <-code:
		require.Equal(t, exitEqual, c, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("paritydiff record did not end within 10 s of its stop")
	}
	assert.Contains(t, stdout.String(), "paritydiff record: stopped: 4 session(s), 34 steps, ")

	assert.Equal(t, "stop: 1 keys\n", stopRef(), "the recorded reference's stderr after SIGTERM: size is left")

	text, err := os.ReadFile(file)
	require.NoError(t, err)
	t.Logf("the recording:\n%s", text)
	_, body, ok := strings.Cut(string(text), "log: ordered\n")
	require.True(t, ok, "the recording's headers")
	assert.Equal(t, `connect c1
send c1 "SET color blue\n"
await-reply c1 "OK\n"
send c1 "GET color\n"
await-reply c1 "VALUE blue\n"
connect c2
send c2 "GET color\n"
await-reply c2 "VALUE blue\n"
send c2 "DEL color\n"
await-reply c2 "DELETED\n"
send c1 "GET color\n"
await-reply c1 "NOT_FOUND\n"
send c1 "SET size 10\n"
await-reply c1 "OK\n"
half-close c1
await-end c1
close c1
send c2 "BOGUS\n"
await-reply c2 "ERROR unknown command\n"
send c2 "GET size\n"
await-reply c2 "VALUE 10\n"
half-close c2
await-end c2
close c2
connect c3
send c3 "SET x 1\n"
await-reply c3 "OK\n"
reset c3
connect c4
send c4 "GET x\r\nDEL x\nGET x\n"
await-reply c4 "VALUE 1\nDELETED\nNOT_FOUND\n"
half-close c4
await-end c4
close c4
`, body, "the recorded steps")

	// Replayed against fresh servers: C twice against Go, at parity.
	r := paritydiff(t, "-ref", kvC+" {port}", "-port", kvGo+" {port}", "-builtin=false", "-scenarios", scenarios, "-timeout", "5s")
	require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "1 scenario: 1 equal, 0 differs")

	// The example's hand-written scenarios (the reply steps on the protocol's edges).
	r = paritydiff(t, "-ref", kvC+" {port}", "-port", kvGo+" {port}", "-builtin=false", "-scenarios", filepath.Join(standalone.RepoRoot(), "compare/examples/kv/scenarios"), "-timeout", "5s")
	require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "1 scenario: 1 equal, 0 differs")

	// A Go port whose DEL does not delete: c1's GET after c2's DEL differs.
	src := filepath.Join(standalone.RepoRoot(), "compare/examples/kv/main.go")
	orig, err := os.ReadFile(src)
	require.NoError(t, err)
	const line = "\t\tdelete(s.m, string(key))\n"
	require.Equal(t, 1, strings.Count(string(orig), line), "the line the mutant removes")
	mutDir := t.TempDir()
	mutated := filepath.Join(mutDir, "main.go")
	require.NoError(t, os.WriteFile(mutated, []byte(strings.Replace(string(orig), line, "", 1)), 0o644))
	_, mutant := kvBinaries(t, mutDir, map[string]string{src: mutated})
	r = paritydiff(t, "-ref", kvC+" {port}", "-port", mutant+" {port}", "-builtin=false", "-scenarios", scenarios, "-timeout", "5s")
	require.Equal(t, exitDiffers, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	t.Logf("the mutant's diff:\n%s", r.stdout)
	assert.Contains(t, r.stdout, "c1: the reply differs from the recording at byte 14", "c1's GET after the DEL: NOT_FOUND recorded at c1's byte 14")
}

// TestRecordStopsOnSignal: paritydiff record as a command, stopped by SIGINT or SIGTERM
// while a client is still connected, writes what it recorded and exits 0.
func TestRecordStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	kvC, _ := kvBinaries(t, dir, nil)
	bin := filepath.Join(dir, "paritydiff")
	build := exec.Command("go", "build", "-o", bin, "./compare/cmd/paritydiff")
	build.Dir = standalone.RepoRoot()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build paritydiff: %s", out)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ref, stopRef := startKV(t, kvC)
			file := filepath.Join(t.TempDir(), "one.scenario")
			cmd := exec.Command(bin, "record", "-to", ref, "-o", file)
			var stdout syncBuffer
			cmd.Stdout = &stdout
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			waited := false
			defer func() {
				if !waited {
					cmd.Process.Kill()
					<-exited
				}
			}()
			first := make(chan string, 1)
			go func() {
				l, _ := bufio.NewReader(stderr).ReadString('\n')
				first <- l
			}()
			var proxy string
			select {
			case l := <-first:
				m := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+),`).FindStringSubmatch(l)
				require.NotNil(t, m, "the recorder's first line: %q", l)
				proxy = m[1]
			case <-time.After(10 * time.Second):
				t.Fatal("paritydiff record did not say where it listens within 10 s")
			}
			c := dialKV(t, proxy)
			defer c.c.Close()
			c.ask("SET k v\n", "OK\n") // the reply is recorded before it is forwarded
			require.NoError(t, cmd.Process.Signal(sig))
			select {
			case err := <-exited:
				waited = true
				require.NoError(t, err, "paritydiff record's exit status; stdout: %s", stdout.String())
			case <-time.After(10 * time.Second):
				t.Fatalf("paritydiff record did not end within 10 s of %v", sig)
			}
			assert.Contains(t, stdout.String(), "1 session(s), 3 steps")
			text, err := os.ReadFile(file)
			require.NoError(t, err)
			assert.True(t, strings.HasSuffix(string(text), "log: ordered\nconnect c1\nsend c1 \"SET k v\\n\"\nawait-reply c1 \"OK\\n\"\n"), "the recording:\n%s", text)
			stopRef()
		})
	}
}

// TestRecordBounds: bad usage, a server that is not there, a recording with no client,
// and one that reaches -max-bytes end with a message; only the last writes a file.
func TestRecordBounds(t *testing.T) {
	dir := t.TempDir()
	record := func(args ...string) (int, string, string) {
		var stdout, stderr syncBuffer
		code := runRecord(context.Background(), args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", filepath.Join(dir, "x.scenario")}, "no server: give -to HOST:PORT"},
		{[]string{"-to", "127.0.0.1:1"}, "no file: give -o FILE"},
		{[]string{"-to", "127.0.0.1", "-o", filepath.Join(dir, "x.scenario")}, `-to "127.0.0.1": address 127.0.0.1: missing port in address`},
		{[]string{"-to", "127.0.0.1:1", "-o", filepath.Join(dir, "x y.scenario")}, "the file's name, without .scenario, names the scenario"},
		{[]string{"-to", "127.0.0.1:1", "-o", filepath.Join(dir, "x.scenario"), "-max-bytes", "0"}, "want positive values"},
		{[]string{"-to", "127.0.0.1:1", "-o", filepath.Join(dir, "no/such/dir.scenario")}, "no such file or directory"},
		{[]string{"-to", "127.0.0.1:1", "-o", filepath.Join(dir, "x.scenario"), "extra"}, `unexpected argument "extra"`},
	} {
		code, _, stderr := record(c.args...)
		assert.Equal(t, exitTrouble, code, "%q", c.args)
		assert.Contains(t, stderr, c.want, "%q", c.args)
	}
	_, err := os.Stat(filepath.Join(dir, "x.scenario"))
	assert.True(t, os.IsNotExist(err), "bad usage writes no file")

	// Nobody connects within -for.
	empty := filepath.Join(dir, "empty.scenario")
	code, _, stderr := record("-to", "127.0.0.1:1", "-o", empty, "-for", "50ms")
	assert.Equal(t, exitTrouble, code)
	assert.Contains(t, stderr, "paritydiff record: stopped: no client connected, nothing written")
	_, err = os.Stat(empty)
	assert.True(t, os.IsNotExist(err), "an empty recording writes no file")

	// A server that is not listening: the client is reset, nothing is recorded.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	gone := l.Addr().String()
	l.Close()
	var rec *recorder
	onRecording = func(r *recorder) { rec = r }
	defer func() { onRecording = nil }()
	ctx, stop := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- runRecord(ctx, []string{"-to", gone, "-o", empty}, &out, &errb) }()
	listening := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+),`)
	until(t, "the recorder listens", func() bool { return listening.MatchString(errb.String()) })
	// The reset may come before the dial has looked at its socket's error: either way.
	c, err := net.Dial("tcp4", listening.FindStringSubmatch(errb.String())[1])
	if err == nil {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	assert.ErrorIs(t, err, syscall.ECONNRESET, "the client of a server that is not there")
	until(t, "the recorder's message", func() bool { return strings.Contains(errb.String(), "not recorded: the server: ") })
	stop()
	assert.Equal(t, exitTrouble, <-done)
	assert.Zero(t, rec.n, "no session recorded")

	// -max-bytes: the recording stops once the sessions carried more.
	kvC, _ := kvBinaries(t, dir, nil)
	ref, stopRef := startKV(t, kvC)
	defer stopRef()
	capped := filepath.Join(dir, "capped.scenario")
	errb = syncBuffer{}
	out = syncBuffer{}
	done = make(chan int, 1)
	go func() {
		done <- runRecord(context.Background(), []string{"-to", ref, "-o", capped, "-max-bytes", "20"}, &out, &errb)
	}()
	until(t, "the recorder listens", func() bool { return listening.MatchString(errb.String()) })
	k := dialKV(t, listening.FindStringSubmatch(errb.String())[1])
	defer k.c.Close()
	k.ask("SET a 1\n", "OK\n")          // 11 bytes carried
	k.c.Write([]byte("GET a\nGET b\n")) // 12 more: beyond 20
	select {
	case code := <-done:
		assert.Equal(t, exitEqual, code, "stderr: %s", errb.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the recording did not stop at -max-bytes within 10 s")
	}
	assert.Contains(t, out.String(), "paritydiff record: stopped at -max-bytes 20: 1 session(s), 3 steps, 11 bytes carried")
	text, err := os.ReadFile(capped)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(text), "connect c1\nsend c1 \"SET a 1\\n\"\nawait-reply c1 \"OK\\n\"\n"), "the recording:\n%s", text)
}
