//go:build linux

package gosrv

// async_test.go - in-process tests of the signal-driven (sigio) and asynchronous (uring)
// models: they serve inside this test binary, under -race, beside Go's runtime, which owns
// every signal handler (the hard case for sigio) and preempts threads with signals (the
// EINTR case for io_uring_enter).

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/iomodels/iomodels/internal/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const asyncWatchdog = 10 * time.Second

// asyncServer is one model serving in a goroutine of this process.
type asyncServer struct {
	srv      Server
	port     int
	out, err *os.File
	done     chan int
}

func asyncOpenFds(t *testing.T) int {
	n := procfs.Fds(os.Getpid())
	require.NotEqual(t, -1, n, "read /proc/self/fd")
	return n
}

// newAsyncServer makes a listener on port 0, a stop eventfd and two log files.
func newAsyncServer(t *testing.T) *asyncServer {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(dir + "/stdout")
	require.NoError(t, err, "create stdout file")
	errf, err := os.Create(dir + "/stderr")
	require.NoError(t, err, "create stderr file")
	listenFd := OpenListener(0, int(errf.Fd()))
	require.GreaterOrEqual(t, listenFd, 0, "open listener")
	stopFd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err, "eventfd")
	s := &asyncServer{
		srv:  Server{ListenFd: listenFd, StopFd: stopFd, OutFd: int(out.Fd()), ErrFd: int(errf.Fd())},
		port: ListenerPort(listenFd),
		out:  out, err: errf,
	}
	t.Cleanup(func() {
		s.stop(t)
		unix.Close(listenFd)
		unix.Close(stopFd)
		out.Close()
		errf.Close()
	})
	return s
}

// skipWithoutUring skips the test where io_uring_setup fails (ENOSYS on an old kernel,
// EPERM where kernel.io_uring_disabled or seccomp forbids it), with the server's line.
func skipWithoutUring(t *testing.T) {
	var r ring
	if err := ringSetup(&r, 4); err != nil {
		ciskip.Skipf(t, ciskip.Uring, "io_uring unavailable: io_uring_setup error: %s", Strerror(err))
	}
	r.close()
}

// startAsync runs serve on a new server in a goroutine. No wait for readiness is needed:
// a connection made before the model arms the listener waits in the backlog, and both
// models look at the backlog when they start.
func startAsync(t *testing.T, name string, serve func(*Server) int) *asyncServer {
	t.Helper()
	if Traits(name).NeedsUring {
		skipWithoutUring(t)
	}
	s := newAsyncServer(t)
	s.done = make(chan int, 1)
	go func() { s.done <- serve(&s.srv) }()
	return s
}

func (s *asyncServer) stdout(t *testing.T) string {
	b, err := os.ReadFile(s.out.Name())
	require.NoError(t, err, "read stdout")
	return string(b)
}

func (s *asyncServer) stderr(t *testing.T) string {
	b, err := os.ReadFile(s.err.Name())
	require.NoError(t, err, "read stderr")
	return string(b)
}

// stop writes the stop eventfd and waits for serve to return; idempotent.
func (s *asyncServer) stop(t *testing.T) int {
	if s.done == nil {
		return 0
	}
	unix.Write(s.srv.StopFd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	select {
	case rc := <-s.done:
		s.done = nil
		return rc
	case <-time.After(asyncWatchdog):
		require.FailNow(t, "serve did not return after a stop")
		return -1
	}
}

func asyncDial(t *testing.T, port int) *net.TCPConn {
	c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), asyncWatchdog)
	require.NoError(t, err, "dial")
	c.SetDeadline(time.Now().Add(asyncWatchdog))
	return c.(*net.TCPConn)
}

// asyncExchange sends msg, half-closes, and returns everything the server sent until EOF,
// with the client's port (the server's log names it).
func asyncExchange(t *testing.T, port int, msg []byte) ([]byte, int) {
	c := asyncDial(t, port)
	defer c.Close()
	if len(msg) > 0 {
		_, err := c.Write(msg)
		require.NoError(t, err, "write")
	} else {
		require.NoError(t, c.CloseWrite(), "half-close")
	}
	reply, err := io.ReadAll(c)
	require.NoError(t, err, "read reply")
	return reply, c.LocalAddr().(*net.TCPAddr).Port
}

var asyncModels = []struct {
	name  string
	serve func(*Server) int
}{
	{"sigio", serveSigio},
	{"uring", serveUring},
}

func TestAsyncSequential(t *testing.T) {
	for _, m := range asyncModels {
		t.Run(m.name, func(t *testing.T) {
			fdsBefore := asyncOpenFds(t)
			s := startAsync(t, m.name, m.serve)
			var want strings.Builder
			long := bytes.Repeat([]byte("0123456789abcdef"), 40) // 640 bytes
			msgs := [][]byte{[]byte("hello"), {}, long[:512], long[:513], []byte("bin\x00ary\xff")}
			for i := 0; i < 20; i++ {
				msgs = append(msgs, []byte(fmt.Sprintf("message %d", i)))
			}
			for _, msg := range msgs {
				reply, cport := asyncExchange(t, s.port, msg)
				wantReply := msg
				if len(wantReply) > BufSize {
					wantReply = wantReply[:BufSize]
				}
				assert.Equal(t, wantReply, reply, "reply to a %d-byte message", len(msg))
				shown, _, _ := bytes.Cut(wantReply, []byte{0})
				fmt.Fprintf(&want, "new conn 127.0.0.1:%d\nrecv_msg: %s\n", cport, shown)
			}
			require.Equal(t, 0, s.stop(t), "serve's result")
			assert.Equal(t, want.String(), s.stdout(t), "stdout")
			assert.Equal(t, "", s.stderr(t), "stderr")
			// The listener and stop eventfd are the test's; everything else must be closed.
			assert.Equal(t, fdsBefore+4, asyncOpenFds(t), "open descriptors after stop (listener, eventfd, 2 log files)")
		})
	}
}

func TestAsyncConcurrentAndReset(t *testing.T) {
	for _, m := range asyncModels {
		t.Run(m.name, func(t *testing.T) {
			s := startAsync(t, m.name, m.serve)
			// A silent client first: it must not hold up anyone (no model here blocks).
			silent := asyncDial(t, s.port)
			defer silent.Close()
			const n = 40
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					msg := []byte(fmt.Sprintf("concurrent %d", i))
					c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", s.port), asyncWatchdog)
					if !assert.NoError(t, err, "dial %d", i) {
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(asyncWatchdog))
					_, err = c.Write(msg)
					assert.NoError(t, err, "write %d", i)
					reply, err := io.ReadAll(c)
					assert.NoError(t, err, "read %d", i)
					assert.Equal(t, msg, reply, "reply %d", i)
				}(i)
			}
			wg.Wait()
			// A client that resets: the server logs recv's error and goes on.
			reset := asyncDial(t, s.port)
			require.NoError(t, reset.SetLinger(0), "SO_LINGER 0")
			// Wait until the server has accepted it, so the reset reaches an accepted socket.
			deadline := time.Now().Add(asyncWatchdog)
			for strings.Count(s.stdout(t), "new conn") < n+2 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			require.NoError(t, reset.Close(), "close with RST")
			reply, _ := asyncExchange(t, s.port, []byte("after reset"))
			assert.Equal(t, "after reset", string(reply), "a client after the reset is served")
			require.Equal(t, 0, s.stop(t), "serve's result")
			// The silent client is closed by the stop.
			_, err := silent.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF, "silent client sees EOF after stop")
			out := s.stdout(t)
			assert.Equal(t, n+3, strings.Count(out, "new conn 127.0.0.1:"), "connections logged:\n%s", out)
			assert.Equal(t, n+1, strings.Count(out, "recv_msg: "), "messages logged")
			assert.Equal(t, "recv_connfd error: Connection reset by peer\n", s.stderr(t), "stderr")
		})
	}
}

// TestSigioThreadState: serveSigio blocks two signals on its thread and arms the listener;
// after it returns, the thread's mask and the listener's flags are what they were, and no
// signal is left pending on the thread.
func TestSigioThreadState(t *testing.T) {
	s := newAsyncServer(t)
	flagsBefore, err := unix.FcntlInt(uintptr(s.srv.ListenFd), unix.F_GETFL, 0)
	require.NoError(t, err, "F_GETFL")

	type state struct {
		mask, pending unix.Sigset_t
		rc            int
	}
	res := make(chan state, 1)
	before := make(chan unix.Sigset_t, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var st state
		var m unix.Sigset_t
		unix.PthreadSigmask(unix.SIG_BLOCK, nil, &m)
		before <- m
		st.rc = serveSigio(&s.srv)
		unix.PthreadSigmask(unix.SIG_BLOCK, nil, &st.mask)
		unix.RawSyscall(unix.SYS_RT_SIGPENDING, uintptr(unsafe.Pointer(&st.pending)), 8, 0)
		res <- st
	}()
	maskBefore := <-before
	// Traffic, so that signals were queued on the thread.
	for i := 0; i < 5; i++ {
		reply, _ := asyncExchange(t, s.port, []byte("x"))
		assert.Equal(t, "x", string(reply), "reply %d", i)
	}
	unix.Write(s.srv.StopFd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	var st state
	select {
	case st = <-res:
	case <-time.After(asyncWatchdog):
		require.FailNow(t, "serveSigio did not return after a stop")
	}
	assert.Equal(t, 0, st.rc, "serveSigio's result")
	assert.Equal(t, maskBefore, st.mask, "thread's signal mask restored")
	assert.False(t, sigsetHas(&st.pending, sigioReady) || sigsetHas(&st.pending, unix.SIGIO), "no readiness signal left pending")
	flagsAfter, err := unix.FcntlInt(uintptr(s.srv.ListenFd), unix.F_GETFL, 0)
	require.NoError(t, err, "F_GETFL")
	assert.Equal(t, flagsBefore, flagsAfter, "listener's flags restored")
	sig, err := unix.FcntlInt(uintptr(s.srv.ListenFd), unix.F_GETSIG, 0)
	require.NoError(t, err, "F_GETSIG")
	assert.Equal(t, 0, sig, "listener's F_SETSIG restored")
}

func TestSiginfoPollLayout(t *testing.T) {
	assert.Equal(t, uintptr(128), unsafe.Sizeof(siginfoPoll{}), "siginfo_t is 128 bytes")
	assert.Equal(t, uintptr(64), unsafe.Sizeof(ioUringSqe{}), "struct io_uring_sqe is 64 bytes")
	assert.Equal(t, uintptr(16), unsafe.Sizeof(ioUringCqe{}), "struct io_uring_cqe is 16 bytes")
	assert.Equal(t, uintptr(120), unsafe.Sizeof(ioUringParams{}), "struct io_uring_params is 120 bytes")
}

func sigsetHas(set *unix.Sigset_t, sig unix.Signal) bool {
	bits := uint(unsafe.Sizeof(set.Val[0])) * 8
	return set.Val[uint(sig-1)/bits]&(1<<(uint(sig-1)%bits)) != 0
}
