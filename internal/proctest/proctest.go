//go:build linux

// Package proctest holds what the in-process tests of native/ and gosrv/ share: counting
// this process's descriptors, threads and child processes (through internal/procfs), waiting (bounded) for
// such a count to settle, and a loopback echo client for both wire protocols.
package proctest

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/iomodels/iomodels/internal/procfs"
	"golang.org/x/sys/unix"
)

// Fds is the number of open descriptors of this process (procfs.Fds of this pid).
func Fds() int { return procfs.Fds(os.Getpid()) }

// Threads is the number of threads (tasks) of this process.
func Threads() int { return procfs.Threads(os.Getpid()) }

// Proc is a process seen in /proc: its pid and state letter (R, S, Z for a zombie, ...).
type Proc = procfs.Proc

// Children lists the processes whose parent is this process, zombies included.
func Children() ([]Proc, error) { return procfs.Children(os.Getpid()) }

// Settle polls count every 10 ms until it is at most want, or timeout passes; it returns
// the last count. The runtime and the kernel release threads and descriptors a little after
// the call that frees them returns, so an exact count needs a bounded wait, never a sleep.
func Settle(count func() int, want int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		n := count()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Exchange is one client connection's outcome: the reply read to end of file and the
// client's address as the server logs it.
type Exchange struct {
	Reply string
	Local string
}

// Echo connects to 127.0.0.1:port, sends msg and reads the reply to end of file, within
// timeout. With halfClose the client shuts its sending side after msg: the stream model
// (epoll-et) echoes until it sees that end of stream, then closes; the one-shot models close
// after their one reply either way.
func Echo(port int, msg string, halfClose bool, timeout time.Duration) (Exchange, error) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), timeout)
	if err != nil {
		return Exchange{}, err
	}
	defer conn.Close()
	ex := Exchange{Local: conn.LocalAddr().String()}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return ex, err
	}
	if _, err := conn.Write([]byte(msg)); err != nil {
		return ex, err
	}
	if halfClose {
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			return ex, err
		}
	}
	b, err := io.ReadAll(conn)
	ex.Reply = string(b)
	return ex, err
}

// NewConnLine is the stdout line a model writes when it accepts a connection from local,
// as the table of models says (CONTRACT.md § Output).
func NewConnLine(model, local string) string { return gosrv.Traits(model).NewConnLine(local) }

// Stream reports whether the model speaks the stream protocol rather than one-shot
// (CONTRACT.md § Wire protocols), as the table of models says.
func Stream(model string) bool { return gosrv.Traits(model).Protocol == gosrv.Stream }

// WithFreeFds runs f with the soft RLIMIT_NOFILE lowered so that exactly free descriptor
// numbers are still unused, then restores it: a way to make the n+1st descriptor a call
// asks for fail with EMFILE, as on a busy server. Nothing else may open descriptors
// meanwhile, so the caller must not run in parallel with other tests.
func WithFreeFds(free int, f func()) error {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		return err
	}
	// The limit is one above the free-th unused descriptor number; F_GETFD tells which are
	// in use without opening one (a directory listing would itself hold a descriptor).
	limit := 0
	for unused := 0; unused < free; limit++ {
		if limit >= 1<<16 {
			return fmt.Errorf("no %d unused descriptor numbers below %d", free, limit)
		}
		if _, err := unix.FcntlInt(uintptr(limit), unix.F_GETFD, 0); err == unix.EBADF {
			unused++
		}
	}
	lowered := old
	lowered.Cur = uint64(limit)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		return err
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	f()
	return nil
}

// SkipUnsupported skips a test of model where this machine cannot run it (io_uring
// disabled or missing for a model that needs it), with the reason the server would log.
func SkipUnsupported(t *testing.T, model string) {
	t.Helper()
	if !gosrv.Traits(model).NeedsUring {
		return
	}
	if why := gosrv.UringUnavailable(); why != "" {
		ciskip.Skipf(t, ciskip.Uring, "io_uring unavailable: %s", why)
	}
}
