//go:build linux

package gosrv

// sigio.go - signal-driven I/O (seed: 信号驱动式IO).
//
// The kernel tells the server that a descriptor became ready by queueing a signal: with
// O_ASYNC set on a file, every wake-up of its wait queue (new data, a new connection, an
// error, a hang-up) calls kill_fasync, which sends the signal chosen by F_SETSIG to the
// owner chosen by F_SETOWN_EX, with the descriptor in si_fd and the cause in si_code. The
// first phase of I/O (waiting for readiness) is thus the kernel's business; the second
// (copying the bytes) is still the server's own recv. Unlike epoll, nothing is registered
// with a waiting object: the signal queue is the event queue. Like edge-triggered epoll, a
// signal reports a change, not a state, so every descriptor is non-blocking and a signal
// may be stale: every call tolerates EAGAIN. The signal is never handled: it stays blocked
// on the serving thread, its owner, and rt_sigtimedwait takes it from the thread's queue
// with its siginfo; Go's runtime owns every signal handler, so this is the only way a Go
// program can see si_fd, and the goroutine is locked to its OS thread. The stop eventfd
// cannot raise a signal, so a small watcher goroutine turns it into one (stopWatch). Go
// only: raw.* are the calls that cannot wait (rawcalls.go), slice.yield the scheduler's
// time slice (timeSlice in common.go). C twin: csrc/sigio.c.

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// sigioReady is the readiness signal: a real-time signal, because real-time signals
// queue (one siginfo per event, each with its si_fd) where a classic SIGIO would coalesce
// into one. 40 and not SIGRTMIN: glibc takes 32 and 33 for itself (SIGRTMIN is 34 with
// glibc 2.36, which the C twin may use inside this process via cgo), and Go's runtime
// treats 32-34 as the C library's and keeps them unblocked on its threads
// (runtime/sigtab_linux_generic.go). 40 is free in both (Go's handler would merely drop
// it: it is blocked where it is aimed), and the same number in C.
const sigioReady = unix.Signal(40)

// SigioReady is sigioReady, for the standalone server, which leaves it to the model.
const SigioReady = sigioReady

// step: watch the stop
// The stop. eventfd has no fasync method, so O_ASYNC on the stop eventfd is silently
// ignored (F_SETFL leaves the flag unset and no signal comes; checked on Linux 6.18), and
// the stop cannot raise the signal by itself. A watcher does it: a goroutine sleeps in poll
// on the stop eventfd (and a private one that ends it) and, when a stop comes, sends SIGIO
// to the serving thread with tgkill. SIGIO and not sigioReady: a real-time signal needs a
// queue entry, which tgkill cannot get once the queue is full (RLIMIT_SIGPENDING; it fails
// with EAGAIN and the stop would be lost: seen with the limit at 3), while a classic
// signal is a pending bit that is always set. So the serving thread waits for signals
// only, without a timeout, and a stop is as prompt as any event. (C uses a pthread, which
// starts with the stop signals blocked so that the serving thread takes them; here the
// runtime takes them on a thread of its own.)
type stopWatch struct {
	quitFd int           // written when serveSigio returns, so the watcher ends with it
	done   chan struct{} // closed when the watcher has ended
}

func startWatch(stopFd, tid int) (*stopWatch, error) {
	quitFd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &stopWatch{quitFd: quitFd, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		pfd := []unix.PollFd{
			{Fd: int32(stopFd), Events: unix.POLLIN},
			{Fd: int32(quitFd), Events: unix.POLLIN},
		}
		ignoringEINTR(func() error { _, err := poll(pfd, -1); return err })
		if pfd[0].Revents != 0 {
			unix.Tgkill(raw.Getpid(), tid, unix.SIGIO)
		}
	}()
	return w, nil
}

func (w *stopWatch) end() {
	unix.Write(w.quitFd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	<-w.done
	unix.Close(w.quitFd)
}

// step: arm a descriptor
// armFd makes fd raise sigioReady at thread tid whenever it becomes ready. flags are fd's
// current file status flags (F_GETFL): the caller knows them, which saves a system call
// per connection. The owner is this thread (F_OWNER_TID), not the process: a signal
// directed at the process goes to any thread that does not block it, where the runtime's
// handler drops a signal nobody asked for.
func armFd(fd, tid, flags int) error {
	if err := setOwnEx(fd, &fOwnerEx{Type: fOwnerTid, Pid: int32(tid)}); err != nil {
		return err
	}
	// Without F_SETSIG the kernel sends plain SIGIO and leaves si_fd unset.
	if _, err := raw.FcntlInt(fd, unix.F_SETSIG, int(sigioReady)); err != nil {
		return err
	}
	// O_ASYNC last: from here on, readiness is signalled, to the owner set above.
	_, err := raw.FcntlInt(fd, unix.F_SETFL, flags|unix.O_ASYNC|unix.O_NONBLOCK)
	return err
}

// step: serve
// tryEcho is the one-shot protocol on a non-blocking connection: recv, and unless it meets
// EAGAIN, echoReply. It returns false when the connection had nothing to read yet (EAGAIN:
// its signal will come), true when it was served and closed.
func tryEcho(srv *Server, conns *fdSet, connFd int) bool {
	var buf [BufSize]byte
	var n int
	err := ignoringEINTR(func() (err error) { n, err = raw.Recv(connFd, buf[:], 0); return err })
	if err == unix.EAGAIN {
		return false
	}
	conns.del(connFd)
	echoReply(srv, connFd, buf[:], n, err, nonblocking)
	return true
}

// step: accept
// sigioAcceptAll accepts until the queue is empty (EAGAIN): one signal may stand for
// several queued connections. At the descriptor limit (acceptPaused) the rest stay
// queued: the loop calls this again when a connection closes or the pause ends. Under
// load it is the serving loop: each connection is served here as it is accepted (tryEcho
// below), and the clients' next connections refill the backlog, so it
// may go on for seconds without returning; it ends the time slice too (Go only: see
// timeSlice; without it sysmon preempts the loop and retakes its P, measured in
// compare/cmd/benchreport/README.md, "sigio's accept loop").
func sigioAcceptAll(srv *Server, acc *acceptor, conns *fdSet, tid int, slice *timeSlice) {
	for {
		slice.yield()
		connFd := acceptQueued(srv, acc)
		if connFd < 0 {
			return // acceptEmpty: drained; acceptPaused, acceptFailed: logged
		}
		// An accepted socket inherits neither O_ASYNC nor the owner from the listener; its
		// flags are accept4's: O_NONBLOCK (O_CLOEXEC is a descriptor flag, not a file one).
		if err := armFd(connFd, tid, unix.O_NONBLOCK); err != nil {
			logErrno(srv.ErrFd, "fcntl_connfd", err)
			raw.Close(connFd)
			continue
		}
		conns.add(connFd)
		// Bytes that came before O_ASYNC was set raised no signal: look once now.
		tryEcho(srv, conns, connFd)
	}
}

func serveSigio(srv *Server) int {
	// step: block the signals
	// The signals are directed at this thread and blocked on it alone: the goroutine must
	// not move to another thread until it has restored the mask.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := raw.Gettid()

	var waitSet, oldMask unix.Sigset_t
	sigsetAdd(&waitSet, sigioReady)
	// The kernel sends plain SIGIO instead when the real-time queue is full; the stop
	// watcher sends it too.
	sigsetAdd(&waitSet, unix.SIGIO)
	// Blocked, the signals stay pending on this thread until sigtimedwait takes them.
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &waitSet, &oldMask); err != nil {
		logErrno(srv.ErrFd, "sigmask", err)
		return -1
	}
	// step: arm the listener
	listenFlags, err := unix.FcntlInt(uintptr(srv.ListenFd), unix.F_GETFL, 0)
	if err == nil {
		err = armFd(srv.ListenFd, tid, listenFlags)
	}
	if err != nil {
		logErrno(srv.ErrFd, "fcntl_listenfd", err)
		unix.PthreadSigmask(unix.SIG_SETMASK, &oldMask, nil)
		return -1
	}

	// step: start the watcher
	watch, err := startWatch(srv.StopFd, tid)
	if err != nil {
		logErrno(srv.ErrFd, "start_stopwatch", err)
		unix.FcntlInt(uintptr(srv.ListenFd), unix.F_SETFL, listenFlags)
		unix.PthreadSigmask(unix.SIG_SETMASK, &oldMask, nil)
		return -1
	}

	// step: set up
	var acc acceptor
	acc.open(unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	var conns fdSet
	var info siginfoPoll
	status := 0

	// Connections queued before O_ASYNC was set raised no signal either.
	var slice timeSlice
	sigioAcceptAll(srv, &acc, &conns, tid, &slice)
	// step: wait
	for {
		slice.yield() // Go only: see timeSlice
		// EINTR: the runtime's preemption signal (SIGURG) interrupted the wait: wait on.
		// Paused at the descriptor limit: for a while at most (EAGAIN), then accept what
		// is queued.
		var pause *unix.Timespec
		if acc.paused {
			pause = &unix.Timespec{Nsec: acceptPauseMs * 1000000}
		}
		var sig unix.Signal
		err := ignoringEINTR(func() (err error) { sig, err = sigtimedwait(&waitSet, &info, pause); return err })
		if err == unix.EAGAIN {
			slice.rested() // Go only: see timeSlice
			acc.paused = false
			sigioAcceptAll(srv, &acc, &conns, tid, &slice)
			continue
		}
		if err != nil {
			logErrno(srv.ErrFd, "sigwaitinfo", err)
			status = -1
			break
		}
		// step: the stop
		if sig == unix.SIGIO {
			// The watcher's stop, or the kernel's word that the real-time queue was full.
			if stopRequested(srv.StopFd) {
				break
			}
			// Events were lost: look at every descriptor once, by ascending number.
			sigioAcceptAll(srv, &acc, &conns, tid, &slice)
			for fd := range conns.open {
				if conns.open[fd] {
					tryEcho(srv, &conns, fd)
				}
			}
			continue
		}
		// step: dispatch
		// POLL_IN, POLL_ERR and POLL_HUP alike: the next call will not block.
		fd := int(info.Fd)
		if fd == srv.ListenFd {
			sigioAcceptAll(srv, &acc, &conns, tid, &slice)
		} else if conns.has(fd) {
			// Served and closed: a descriptor is free for what waits in the queue.
			if tryEcho(srv, &conns, fd) && acc.paused {
				acc.paused = false
				sigioAcceptAll(srv, &acc, &conns, tid, &slice)
			}
		}
		// else: stale, for a descriptor already served and closed.
	}

	// step: clean up
	watch.end()
	conns.closeAll()
	// Give the listener back as it came: no more signals from it.
	unix.FcntlInt(uintptr(srv.ListenFd), unix.F_SETFL, listenFlags)
	unix.FcntlInt(uintptr(srv.ListenFd), unix.F_SETSIG, 0)
	// Take the signals still queued (stale readiness, the watcher's), so that none is
	// left pending on the thread.
	zero := unix.Timespec{}
	for i := 0; i < 1<<16; i++ {
		// EINTR (a handler ran) is not "none left": look again (TestInject).
		_, err := sigtimedwait(&waitSet, &info, &zero)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break
		}
	}
	unix.PthreadSigmask(unix.SIG_SETMASK, &oldMask, nil)
	return status
}
