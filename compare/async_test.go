//go:build linux

package compare

// async_test.go - C/Go parity of the signal-driven (sigio) and asynchronous (uring)
// models, on the standalone binaries: the same traffic against `server MODEL 0` of each
// language, then both servers' stdout and stderr compared byte for byte once every
// client's port is replaced by a name for its connection.

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/gosrv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const asyncTimeout = 10 * time.Second // watchdog on every start, exchange and exit

var asyncModels = []string{"sigio", "uring"}

// asyncPeerRE finds a client's address in a log line.
var asyncPeerRE = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)

// uringSetupError is "" where io_uring_setup works, else its errno's text: the reason to
// skip (ENOSYS on old kernels, EPERM under kernel.io_uring_disabled or seccomp).
func uringSetupError() string {
	var params [120]byte // struct io_uring_params
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	if errno != 0 {
		return gosrv.Strerror(errno) // glibc's text, as the servers print it
	}
	unix.Close(int(fd))
	return ""
}

// asyncRun is what one server printed for a scenario, with the ports named.
type asyncRun struct {
	seqOut     string // stdout of the sequential part, ports named in order of appearance
	concurrent []string
	stderr     string
	code       int
}

// asyncNamer replaces each client port by a name: a known one (raw sockets, whose port
// the test knows) or "#k" for the k-th unknown port to appear.
type asyncNamer struct {
	known map[int]string
	next  int
	seen  map[string]string
}

func (n *asyncNamer) name(log string) string {
	return asyncPeerRE.ReplaceAllStringFunc(log, func(addr string) string {
		port, _ := strconv.Atoi(addr[len("127.0.0.1:"):])
		if name, ok := n.known[port]; ok {
			return "peer(" + name + ")"
		}
		if n.seen == nil {
			n.seen = map[string]string{}
		}
		if name, ok := n.seen[addr]; ok {
			return name
		}
		n.next++
		n.seen[addr] = "peer#" + strconv.Itoa(n.next)
		return n.seen[addr]
	})
}

// asyncExchange sends msg on a raw socket (nothing: only a half-close), reads the reply
// to end of file, and returns it with the socket's local port.
func asyncExchange(port int, msg []byte) ([]byte, int, error) {
	c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), asyncTimeout)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	tc.SetDeadline(time.Now().Add(asyncTimeout))
	local := tc.LocalAddr().(*net.TCPAddr).Port
	if len(msg) > 0 {
		if _, err := tc.Write(msg); err != nil {
			return nil, local, err
		}
	} else if err := tc.CloseWrite(); err != nil {
		return nil, local, err
	}
	reply, err := io.ReadAll(tc)
	return reply, local, err
}

// waitFor polls a server's log until cond holds: the server's own output is the only
// readiness signal a separate process gives. Bounded by asyncTimeout.
func waitForLog(t *testing.T, what string, log func() string, cond func(string) bool) {
	deadline := time.Now().Add(asyncTimeout)
	for !cond(log()) {
		if time.Now().After(deadline) {
			require.FailNowf(t, "server log did not show "+what, "log so far:\n%s", log())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// firstDiff says where two logs part: lengths, first differing offset and line.
func logDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	line := strings.Count(a[:i], "\n") + 1
	lineOf := func(s string) string {
		start := strings.LastIndexByte(s[:i], '\n') + 1
		end := strings.IndexByte(s[i:], '\n')
		if end < 0 {
			return s[start:]
		}
		return s[start : i+end]
	}
	return fmt.Sprintf("lengths %d and %d, first difference at offset %d (line %d): %q vs %q",
		len(a), len(b), i, line, lineOf(a), lineOf(b))
}

// asyncScenario drives one server through the whole scenario and stops it with SIGINT.
func asyncScenario(t *testing.T, bins standalone.Binaries, model string, impl standalone.Impl) asyncRun {
	p, err := standalone.StartServer(bins.Server(impl), asyncTimeout, model, "0")
	require.NoError(t, err, "start %s server %s", impl, model)
	t.Cleanup(p.Kill)
	port := strconv.Itoa(p.Port)
	namer := &asyncNamer{known: map[int]string{}}
	rng := rand.New(rand.NewPCG(2026, 11)) // the same payloads for C and Go
	payload := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return b
	}

	// Sequential: each client has its reply (sent after the server logged the message)
	// before the next starts, so the log's order is defined.
	for _, c := range []struct {
		impl standalone.Impl
		msg  string
	}{{standalone.C, "hello from c"}, {standalone.Go, "hello from go"}} {
		out, errOut, code, err := standalone.Run(asyncTimeout, bins.Client(c.impl), c.msg, port)
		require.NoError(t, err, "%s client", c.impl)
		assert.Equal(t, 0, code, "%s client exit code (stderr %q)", c.impl, errOut)
		assert.Equal(t, "echo_msg: "+c.msg+"\n", out, "%s client output", c.impl)
	}
	raw := []struct {
		name      string
		msg, want []byte
	}{
		{"empty", nil, []byte{}},
		{"512", payload(512), nil},
		{"513", payload(513), nil},
		{"binary", []byte("bin\x00ary\xff\x01 tail"), nil},
	}
	for _, r := range raw {
		want := r.want
		if want == nil {
			want = r.msg[:min(len(r.msg), 512)]
		}
		reply, local, err := asyncExchange(p.Port, r.msg)
		require.NoError(t, err, "raw client %s", r.name)
		namer.known[local] = r.name
		assert.Equal(t, len(want), len(reply), "raw client %s: reply length", r.name)
		assert.True(t, bytes.Equal(want, reply), "raw client %s: reply bytes", r.name)
	}

	// A client that resets after the server accepted it: recv reports the reset.
	rc, err := net.DialTimeout("tcp4", "127.0.0.1:"+port, asyncTimeout)
	require.NoError(t, err, "reset client: dial")
	resetPort := rc.LocalAddr().(*net.TCPAddr).Port
	namer.known[resetPort] = "reset"
	waitForLog(t, "the reset client's connection", p.Stdout, func(s string) bool {
		return strings.Contains(s, fmt.Sprintf("new conn 127.0.0.1:%d\n", resetPort))
	})
	require.NoError(t, rc.(*net.TCPConn).SetLinger(0), "reset client: SO_LINGER 0")
	require.NoError(t, rc.Close(), "reset client: close with RST")
	waitForLog(t, "the reset", p.Stderr, func(s string) bool { return strings.Contains(s, "recv_connfd error") })

	for i := 0; i < 100; i++ {
		msg := []byte(fmt.Sprintf("sequential %d", i))
		reply, _, err := asyncExchange(p.Port, msg)
		require.NoError(t, err, "sequential client %d", i)
		require.Equal(t, string(msg), string(reply), "sequential client %d: reply", i)
	}
	// The reply came after the log line's write, but the test reads the server's stdout
	// pipe on its own goroutine: wait until the last line has been copied.
	waitForLog(t, "the last sequential message", p.Stdout, func(s string) bool {
		return strings.HasSuffix(s, "recv_msg: sequential 99\n")
	})
	seqOut := p.Stdout()

	// Concurrent: 40 at once, raw sockets (named by their message) and both clients.
	// The order between connections is not defined, so these lines are compared sorted.
	const nConc = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < nConc; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg := fmt.Sprintf("concurrent %d", i)
			switch i % 4 {
			case 0, 1:
				reply, local, err := asyncExchange(p.Port, []byte(msg))
				assert.NoError(t, err, "concurrent raw client %d", i)
				assert.Equal(t, msg, string(reply), "concurrent raw client %d: reply", i)
				mu.Lock()
				namer.known[local] = fmt.Sprintf("conc%d", i)
				mu.Unlock()
			default:
				impl := []standalone.Impl{standalone.C, standalone.Go}[i%2]
				out, errOut, code, err := standalone.Run(asyncTimeout, bins.Client(impl), msg, port)
				assert.NoError(t, err, "concurrent %s client %d", impl, i)
				assert.Equal(t, 0, code, "concurrent %s client %d exit code (stderr %q)", impl, i, errOut)
				assert.Equal(t, "echo_msg: "+msg+"\n", out, "concurrent %s client %d output", impl, i)
			}
		}(i)
	}
	wg.Wait()

	// A silent client is open when the signal comes: the stop must still be prompt.
	silent, err := net.DialTimeout("tcp4", "127.0.0.1:"+port, asyncTimeout)
	require.NoError(t, err, "silent client: dial")
	defer silent.Close()
	silentPort := silent.LocalAddr().(*net.TCPAddr).Port
	namer.known[silentPort] = "silent"
	waitForLog(t, "the silent client's connection", p.Stdout, func(s string) bool {
		return strings.Contains(s, fmt.Sprintf("new conn 127.0.0.1:%d\n", silentPort))
	})
	code, err := p.Signal(syscall.SIGINT, asyncTimeout)
	require.NoError(t, err, "SIGINT")
	silent.SetDeadline(time.Now().Add(asyncTimeout))
	_, err = silent.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the silent client sees end of file once the server stopped")

	// Unknown ports (the client binaries') in the concurrent part all become "peer#?".
	conc := strings.Split(strings.TrimSuffix(p.Stdout()[len(seqOut):], "\n"), "\n")
	for i, line := range conc {
		conc[i] = asyncPeerRE.ReplaceAllStringFunc(line, func(addr string) string {
			port, _ := strconv.Atoi(addr[len("127.0.0.1:"):])
			if name, ok := namer.known[port]; ok {
				return "peer(" + name + ")"
			}
			return "peer#?"
		})
	}
	sort.Strings(conc)
	stderr := regexp.MustCompile(`listening on 0\.0\.0\.0:\d+`).ReplaceAllString(p.Stderr(), "listening on 0.0.0.0:PORT")
	return asyncRun{seqOut: namer.name(seqOut), concurrent: conc, stderr: stderr, code: code}
}

// asyncExpected is what both servers must print for asyncScenario, ports named.
func asyncExpected() (seqOut string, conc []string, stderr string) {
	rng := rand.New(rand.NewPCG(2026, 11))
	payload := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	var b strings.Builder
	b.WriteString("new conn peer#1\nrecv_msg: hello from c\nnew conn peer#2\nrecv_msg: hello from go\n")
	b.WriteString("new conn peer(empty)\nrecv_msg: \n")
	b.WriteString("new conn peer(512)\nrecv_msg: " + payload(512) + "\n")
	b.WriteString("new conn peer(513)\nrecv_msg: " + payload(513)[:512] + "\n")
	b.WriteString("new conn peer(binary)\nrecv_msg: bin\n")
	b.WriteString("new conn peer(reset)\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "new conn peer#%d\nrecv_msg: sequential %d\n", i+3, i)
	}
	for i := 0; i < 40; i++ {
		peer := "peer#?"
		if i%4 < 2 {
			peer = fmt.Sprintf("peer(conc%d)", i)
		}
		conc = append(conc, "new conn "+peer, fmt.Sprintf("recv_msg: concurrent %d", i))
	}
	conc = append(conc, "new conn peer(silent)")
	sort.Strings(conc)
	stderr = "listening on 0.0.0.0:PORT\nrecv_connfd error: Connection reset by peer\n" +
		"signal: SIGINT(2)   close server ... done\n"
	return b.String(), conc, stderr
}

// TestAsync builds the standalone binaries once and runs every scenario of this file.
func TestAsync(t *testing.T) {
	bins, err := standalone.Build(t.Context(), t.TempDir())
	require.NoError(t, err, "build the standalone binaries")
	t.Run("parity", func(t *testing.T) { asyncParity(t, bins) })
	t.Run("signals", func(t *testing.T) { asyncSignals(t, bins) })
	t.Run("sigio-overflow", func(t *testing.T) { asyncSigioOverflow(t, bins) })
}

// asyncParity: the whole scenario against each model and language, C against Go and both
// against the expected lines.
func asyncParity(t *testing.T, bins standalone.Binaries) {
	wantSeq, wantConc, wantErr := asyncExpected()

	for _, model := range asyncModels {
		t.Run(model, func(t *testing.T) {
			if model == "uring" {
				if reason := uringSetupError(); reason != "" {
					asyncCheckUnavailable(t, bins, reason)
					t.Skipf("io_uring unavailable: io_uring_setup error: %s", reason)
				}
			}
			runs := map[standalone.Impl]asyncRun{}
			for _, impl := range []standalone.Impl{standalone.C, standalone.Go} {
				t.Run(string(impl), func(t *testing.T) {
					run := asyncScenario(t, bins, model, impl)
					runs[impl] = run
					assert.Equal(t, 0, run.code, "exit code after SIGINT")
					assert.True(t, run.seqOut == wantSeq, "sequential stdout against the expected: %s", logDiff(run.seqOut, wantSeq))
					assert.Equal(t, wantConc, run.concurrent, "concurrent stdout, sorted")
					assert.Equal(t, wantErr, run.stderr, "stderr")
				})
			}
			c, g := runs[standalone.C], runs[standalone.Go]
			require.Len(t, runs, 2, "both servers ran")
			assert.True(t, c.seqOut == g.seqOut, "sequential stdout, C vs Go: %s", logDiff(c.seqOut, g.seqOut))
			assert.Equal(t, c.concurrent, g.concurrent, "concurrent stdout, sorted, C vs Go")
			assert.True(t, c.stderr == g.stderr, "stderr, C vs Go: %s", logDiff(c.stderr, g.stderr))
		})
	}
}

// asyncSignals: SIGINT, SIGTERM and SIGHUP each stop the server with exit status 0
// and the seed's line, while a connection is open and silent.
func asyncSignals(t *testing.T, bins standalone.Binaries) {
	sigs := []struct {
		sig  syscall.Signal
		line string
	}{
		{syscall.SIGINT, "signal: SIGINT(2)   close server ... done\n"},
		{syscall.SIGTERM, "signal: SIGTERM(15)   close server ... done\n"},
		{syscall.SIGHUP, "signal: SIGHUP(1)   close server ... done\n"},
	}
	for _, model := range asyncModels {
		if model == "uring" && uringSetupError() != "" {
			continue // parity reports the skip
		}
		for _, impl := range []standalone.Impl{standalone.C, standalone.Go} {
			for _, s := range sigs {
				t.Run(fmt.Sprintf("%s/%s/%s", model, impl, s.sig), func(t *testing.T) {
					p, err := standalone.StartServer(bins.Server(impl), asyncTimeout, model, "0")
					require.NoError(t, err, "start")
					t.Cleanup(p.Kill)
					reply, _, err := asyncExchange(p.Port, []byte("ping"))
					require.NoError(t, err, "echo")
					assert.Equal(t, "ping", string(reply), "reply")
					silent, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", p.Port), asyncTimeout)
					require.NoError(t, err, "silent client")
					defer silent.Close()
					waitForLog(t, "the silent connection", p.Stdout, func(s string) bool { return strings.Count(s, "new conn") == 2 })
					code, err := p.Signal(s.sig, asyncTimeout)
					require.NoError(t, err, "signal %v", s.sig)
					assert.Equal(t, 0, code, "exit status")
					lines := strings.SplitAfter(p.Stderr(), "\n")
					require.GreaterOrEqual(t, len(lines), 2, "stderr %q", p.Stderr())
					assert.Equal(t, s.line, lines[len(lines)-2], "last stderr line")
				})
			}
		}
	}
}

// asyncCheckUnavailable: where io_uring_setup fails, both servers print the one line and
// exit 1.
func asyncCheckUnavailable(t *testing.T, bins standalone.Binaries, reason string) {
	for _, impl := range []standalone.Impl{standalone.C, standalone.Go} {
		_, errOut, code, err := standalone.Run(asyncTimeout, bins.Server(impl), "uring", "0")
		require.NoError(t, err, "%s server", impl)
		assert.Equal(t, 1, code, "%s server exit status without io_uring", impl)
		assert.Contains(t, errOut, "\nio_uring_setup error: "+reason+"\n", "%s server's line", impl)
	}
}

// asyncSigioOverflow: with RLIMIT_SIGPENDING at 3 the real-time queue overflows under
// 100 concurrent clients; the kernel then sends plain SIGIO and the server looks at every
// descriptor. Every client is still served, the stop still works, and C and Go print the
// same lines (compared sorted: the order between connections is not defined).
func asyncSigioOverflow(t *testing.T, bins standalone.Binaries) {
	const n = 100
	outs := map[standalone.Impl][]string{}
	for _, impl := range []standalone.Impl{standalone.C, standalone.Go} {
		t.Run(string(impl), func(t *testing.T) {
			p, err := standalone.StartServer(bins.Server(impl), asyncTimeout, "sigio", "0")
			require.NoError(t, err, "start")
			t.Cleanup(p.Kill)
			// The limit is checked when a signal is queued, so setting it now is enough.
			lim := unix.Rlimit{Cur: 3, Max: 3}
			require.NoError(t, unix.Prlimit(p.Pid(), unix.RLIMIT_SIGPENDING, &lim, nil), "prlimit")
			names := map[int]string{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					msg := fmt.Sprintf("overflow %d", i)
					reply, local, err := asyncExchange(p.Port, []byte(msg))
					assert.NoError(t, err, "client %d", i)
					assert.Equal(t, msg, string(reply), "client %d: reply", i)
					mu.Lock()
					names[local] = strconv.Itoa(i)
					mu.Unlock()
				}(i)
			}
			wg.Wait()
			code, err := p.Signal(syscall.SIGTERM, asyncTimeout)
			require.NoError(t, err, "SIGTERM")
			assert.Equal(t, 0, code, "exit status")
			lines := strings.Split(strings.TrimSuffix((&asyncNamer{known: names}).name(p.Stdout()), "\n"), "\n")
			sort.Strings(lines)
			assert.Len(t, lines, 2*n, "stdout lines")
			assert.True(t, strings.HasSuffix(p.Stderr(), "\nsignal: SIGTERM(15)   close server ... done\n"), "stderr %q", p.Stderr())
			assert.NotContains(t, strings.Join(lines, "\n"), "peer#", "every connection named")
			outs[impl] = lines
		})
	}
	assert.Equal(t, outs[standalone.C], outs[standalone.Go], "stdout, sorted, C vs Go")
}
