//go:build linux

package contract

// backpressure.go - the stream model's backpressure, made certain and measured.
//
// The slow-reader scenarios wait until the client's receive queue stops growing, which
// does not prove that the server's send ever met EAGAIN: with Linux's default tcp_wmem a
// megabyte echo may fit in the socket buffers. Here the client shrinks its SO_RCVBUF
// before it connects (a receive window of a few kilobytes), sends more than every buffer
// on the way can hold, and reads nothing; the test then looks at the server's own socket
// (in process it is in the test's descriptor table; standalone it is fetched from the
// server with pidfd_getfd) until it is not writable (poll without POLLOUT: a send would
// meet EAGAIN) while bytes wait unread in its receive queue (SIOCINQ: the server has
// stopped reading, as it must while its echo waits), and stays so. The server's socket's
// SO_SNDBUF is set small too, through that descriptor (shrinkServerSndbuf says why). Then, while the peer
// stalls:
//   - the serving thread stays asleep: its running and runnable time (schedstat, of
//     /proc/self/task/TID in process, of every thread of /proc/PID standalone) stays near
//     zero, where a server that retries the send on EAGAIN is busy all the time;
//   - a second connection is served meanwhile: a server stuck in a send loop never gets
//     to it.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"golang.org/x/sys/unix"
)

// serverSocketFd is a descriptor, in this process, for the server's end of connection c:
// in process the server's own descriptor duplicated, standalone the server's descriptor
// fetched with pidfd_getfd. The caller closes it. Both are placed from descriptor 4096 up,
// out of the way of the numbers the server gives its connections.
func serverSocketFd(r *engine.Run, c *engine.Conn) (int, error) {
	pid, err := r.ServerPid()
	if err != nil {
		return -1, err
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1, err
	}
	pidfd := -1
	if pid != os.Getpid() {
		if pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
			return -1, os.NewSyscallError("pidfd_open", err)
		}
		defer unix.Close(pidfd)
	}
	for _, e := range ents {
		target, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, target)); err != nil || !strings.HasPrefix(link, "socket:") {
			continue
		}
		var fd int
		if pidfd >= 0 {
			low, err := unix.PidfdGetfd(pidfd, target, 0)
			if err != nil {
				continue // closed meanwhile, or not ours to take
			}
			fd, err = unix.FcntlInt(uintptr(low), unix.F_DUPFD_CLOEXEC, 4096)
			unix.Close(low)
			if err != nil {
				return -1, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
			}
		} else if fd, err = unix.FcntlInt(uintptr(target), unix.F_DUPFD_CLOEXEC, 4096); err != nil {
			continue // closed meanwhile
		}
		local, lerr := unix.Getsockname(fd)
		peer, perr := unix.Getpeername(fd)
		l4, lok := local.(*unix.SockaddrInet4)
		p4, pok := peer.(*unix.SockaddrInet4)
		if lerr == nil && perr == nil && lok && pok && l4.Port == r.Target().Port() && p4.Port == c.Port() {
			return fd, nil
		}
		unix.Close(fd)
	}
	return -1, fmt.Errorf("no socket of the server's is connected to %s (port %d)", c.Name(), c.Port())
}

// shrinkServerSndbuf sets SO_SNDBUF on the server's socket for name (the socket, not a
// copy: a descriptor the test holds refers to the same socket), which also ends the
// kernel's autotuning of it. Without it the server's send buffer grows on loopback to
// tcp_wmem's maximum (4 MiB by default): a stream of a few megabytes fits, and the send
// never meets EAGAIN.
func shrinkServerSndbuf(name string, size int) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("set SO_SNDBUF %d on the server's socket for %s", size, name), Do: func(r *engine.Run) error {
		c, err := r.Conn(name)
		if err != nil {
			return err
		}
		fd, err := serverSocketFd(r, c)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return os.NewSyscallError("setsockopt SO_SNDBUF", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, size))
	}}
}

// awaitServerSendBlocked waits until the server's socket for name cannot take a byte (a
// send would meet EAGAIN) while its receive queue holds bytes the server does not read,
// and both have held for hold: the server is waiting for the peer, not serving it.
func awaitServerSendBlocked(name string, hold time.Duration) engine.Step {
	return engine.Step{Desc: "await the server's send on " + name + " blocked", Do: func(r *engine.Run) error {
		c, err := r.Conn(name)
		if err != nil {
			return err
		}
		var fd int
		if werr := r.WaitFor("the server's socket for "+name, func() bool {
			fd, err = serverSocketFd(r, c)
			return err == nil
		}); werr != nil {
			return fmt.Errorf("%w (%v)", werr, err)
		}
		defer unix.Close(fd)
		blocked := func() bool {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			n, err := unix.Poll(pfd, 0)
			if err != nil || n != 0 {
				return false // writable: a send would take bytes
			}
			unread, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
			return err == nil && unread > 0
		}
		since := time.Time{}
		if err := r.WaitFor("the server's socket for "+name+" full and unread for "+hold.String(), func() bool {
			if !blocked() {
				since = time.Time{}
				return false
			}
			if since.IsZero() {
				since = time.Now()
			}
			return time.Since(since) >= hold
		}); err != nil {
			return err
		}
		r.Note("%s: the server's send would block (EAGAIN), bytes wait unread on its socket", name)
		return nil
	}}
}

// servingBusy is how long the thread that serves (in process), or every thread of the
// server's process (standalone), has been running or waiting to run: the first two fields
// of /proc/.../schedstat, in nanoseconds. Not CPU time alone: on a loaded machine (a load
// of 24 on 2 cores was measured here) a spinning thread gets only its share of a core,
// which CPU time would report as near idle, while a spinning thread is always running or
// runnable and a waiting one is neither.
func servingBusy(r *engine.Run) (time.Duration, error) {
	var paths []string
	if st, ok := inProcessAs[serveThread](r.Target()); ok {
		paths = []string{fmt.Sprintf("/proc/self/task/%d/schedstat", st.ServeTid())}
	} else {
		pid, err := r.ServerPid()
		if err != nil {
			return 0, err
		}
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return 0, err
		}
		for _, task := range tasks {
			paths = append(paths, fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, task.Name()))
		}
	}
	var total time.Duration
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			if len(paths) > 1 {
				continue // a thread that ended meanwhile
			}
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return 0, fmt.Errorf("%s: %q", path, b)
		}
		run, err1 := strconv.ParseInt(f[0], 10, 64)
		wait, err2 := strconv.ParseInt(f[1], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, err
		}
		total += time.Duration(run + wait)
	}
	return total, nil
}

// stallBusyBound is how much of a window the server may spend running or runnable while
// its peer stalls: it sleeps in epoll_wait and should spend next to none; a spin spends
// all of it.
const stallBusyBound = 10 // percent

// servingQuiet measures the serving thread's running and runnable time over d and notes
// whether it stayed under stallBusyBound percent of d.
func servingQuiet(d time.Duration) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("measure the serving thread's busy time for %v", d), Do: func(r *engine.Run) error {
		before, err := servingBusy(r)
		if err != nil {
			return err
		}
		start := time.Now()
		engine.MeasureUntil(start.Add(d))
		after, err := servingBusy(r)
		if err != nil {
			return err
		}
		used, window := after-before, time.Since(start)
		r.Note("server running or runnable while the peer stalls under %d%% of the time: %v", stallBusyBound, used*100 < window*stallBusyBound)
		return nil
	}}
}

// streamBackpressure: a stalled reader with a small receive window, a stream far larger
// than the buffers, the server's send certainly blocked (EAGAIN) and idle meanwhile, and a
// second client served beside it; then the reader reads and gets every byte back.
func streamBackpressure(name string, n int, seed uint64) engine.Scenario {
	data := engine.Payload(seed, n)
	beside := []byte("served beside the stalled stream")
	return engine.Scenario{
		Name:   name,
		Models: StreamModel,
		Steps: func(string) []engine.Step {
			return []engine.Step{
				engine.ConnectRcvbuf("a", 4096),
				engine.AwaitStdoutLines(1),
				shrinkServerSndbuf("a", 16384),
				engine.SendAsync("a", data),
				awaitServerSendBlocked("a", 100*time.Millisecond),
				servingQuiet(300 * time.Millisecond),
				engine.Connect("b"), engine.Send("b", beside),
				engine.ExpectOpenFor("b", 2*time.Second, len(beside)-1),
				// a first: a server stuck on a's send serves b only once a reads.
				engine.StartReading("a"), engine.AwaitSent("a"), engine.HalfClose("a"), engine.AwaitEnd("a"),
				engine.HalfClose("b"), engine.AwaitEnd("b"),
			}
		},
		Expect: Expects(WantEcho("a", data), WantEcho("b", beside),
			WantNote("a: the server's send would block (EAGAIN)"),
			WantNote(fmt.Sprintf("under %d%% of the time: true", stallBusyBound)),
			WantNote("b: answered within")),
	}
}
