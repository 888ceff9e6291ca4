//go:build linux

package gosrv

// fork.go - blocking I/O, one process per connection (seed: 多进程 + 阻塞IO).
//
// The parent accepts and forks; the child serves the one connection with blocking calls
// and exits, so a stalled client holds only its own process. The fork is C's: one clone3(2)
// call with CLONE_PIDFD and CLONE_CLEAR_SIGHAND, a copy-on-write copy of the process, and
// the parent reaps each child by its pid through a pidfd in its poll set. What is special
// in Go: the child is a copy of a multithreaded runtime with one thread left in it, so it
// runs only the raw, allocation-free code of fork_child.go, and the fork and the child's
// serving are one function that never returns in the child. C twin: csrc/fork.c.

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// step: the children
// children is the parent's poll set: [0] listener, [1] stop, then one pidfd per live child.
type children struct {
	pfds []unix.PollFd
	pids []int // pids[i] belongs to pfds[i]; the first two are unused
}

// add is child_add; append cannot fail as realloc can, so there is no malloc_children error.
func (ch *children) add(pid, pidFd int) {
	ch.pfds = append(ch.pfds, unix.PollFd{Fd: int32(pidFd), Events: unix.POLLIN})
	ch.pids = append(ch.pids, pid)
}

// reap is child_reap: reaps child i (it has exited, or is told to by the stop eventfd) and
// drops its slot.
func (ch *children) reap(i int) {
	ignoringEINTR(func() error { return waitpid(ch.pids[i]) })
	unix.Close(int(ch.pfds[i].Fd))
	last := len(ch.pfds) - 1
	ch.pfds[i], ch.pids[i] = ch.pfds[last], ch.pids[last]
	ch.pfds, ch.pids = ch.pfds[:last], ch.pids[:last]
}

// waitpid is waitpid(pid, NULL, 0): x/sys's Wait4 passes a status pointer even for nil.
func waitpid(pid int) error {
	_, _, errno := unix.Syscall6(unix.SYS_WAIT4, uintptr(pid), 0, 0, 0, 0, 0)
	return errnoErr(errno)
}

// step: fork
// forkChild is fork_child(&pidfd) and, in the child, serve_child(srv, connfd): fork(2) as
// one clone3(2) call. CLONE_CLEAR_SIGHAND resets every signal that has a handler (for a Go
// process, nearly every signal) to SIG_DFL in the child in the same step as the copy, so
// the child can never run one of the runtime's handlers and nothing is blocked around the
// call; the child keeps the signal mask of the thread that forked. CLONE_PIDFD stores the
// child's pidfd in c.pidFd, in the parent. Returns the pid in the parent, or the errno; the
// child does not return: it serves in c, its copy of the parent's, and exits.
//
//go:noinline
//go:nosplit
//go:norace
//go:nocheckptr
func forkChild(c *child, srv *Server, connFd int) (int, syscall.Errno) {
	c.connFd, c.stopFd, c.outFd, c.errFd = connFd, srv.StopFd, srv.OutFd, srv.ErrFd
	c.pidFd = -1
	c.args = cloneArgs{
		flags:      unix.CLONE_PIDFD | unix.CLONE_CLEAR_SIGHAND,
		pidfd:      uint64(uintptr(unsafe.Pointer(&c.pidFd))),
		exitSignal: uint64(unix.SIGCHLD),
	}
	pid, _, errno := syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&c.args)), unsafe.Sizeof(c.args), 0)
	if pid == 0 && errno == 0 {
		c.serveChild()
	}
	return int(pid), errno
}

// step: serve in the child
// serveChild is serve_child: keep only the connection and the server's streams, serve, _exit.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *child) serveChild() {
	c.ignoreSignal33() // Go only: see there
	c.closeOtherFds()
	if c.waitReadable() == 1 {
		c.echoOnce()
	} else {
		rawClose(c.connFd)
	}
	exitGroup(0)
}

func serveFork(srv *Server) int {
	// step: set up
	ch := children{
		pfds: []unix.PollFd{
			{Fd: int32(srv.ListenFd), Events: unix.POLLIN},
			{Fd: int32(srv.StopFd), Events: unix.POLLIN},
		},
		pids: []int{0, 0},
	}

	var acc acceptor
	acc.open(unix.SOCK_CLOEXEC)
	var c child // Go only: the memory each child serves in (fork_child.go)
	status := 0
	// A connection takes a descriptor until its child is forked, and the child's pidfd one
	// more: at the descriptor limit the fork can fail with EMFILE after the accept worked.
	// The connection is then held, accepting paused, and forked again once a child's exit
	// frees its pidfd (or the pause ends). The acceptor's episode: "fork error: Too many
	// open files" once, unless the accept's line began it.
	held := -1

	// step: wait
	var slice timeSlice
	for {
		slice.yield() // Go only: see timeSlice
		// Paused at the descriptor limit: the listener's slot is ignored (a negative fd).
		ch.pfds[0].Fd = int32(srv.ListenFd)
		timeout := -1
		if acc.paused {
			ch.pfds[0].Fd, timeout = -1, acceptPauseMs
		}
		var nready int
		if err := ignoringEINTR(func() (err error) { nready, err = poll(ch.pfds, timeout); return err }); err != nil {
			logErrno(srv.ErrFd, "poll_listenfd", err)
			status = -1
			break
		}
		// step: the stop
		if ch.pfds[1].Revents != 0 {
			break
		}
		// step: reap
		// A pidfd turns readable when its process exits: reap it now, no zombie stays.
		for i := len(ch.pfds) - 1; i >= 2; i-- {
			if ch.pfds[i].Revents != 0 {
				ch.reap(i)
				acc.paused = false // its pidfd is free for the next connection
			}
		}
		if nready == 0 {
			slice.rested()     // Go only: see timeSlice
			acc.paused = false // the pause is over
		}

		// step: accept
		connFd, exhausted := held, acc.exhausted
		if held >= 0 {
			if acc.paused {
				continue
			}
			held = -1
		} else {
			if ch.pfds[0].Revents == 0 {
				continue
			}
			var peer unix.SockaddrInet4
			if connFd, peer = acceptConn(srv, &acc); connFd < 0 {
				continue
			}
			logNewConn(srv.OutFd, peer, true)
		}

		// step: start a child
		pid, errno := forkChild(&c, srv, connFd)
		if errno == unix.EMFILE || errno == unix.ENFILE {
			if !exhausted && !acc.exhausted {
				logErrno(srv.ErrFd, "fork", errno)
			}
			acc.exhausted = true
			held = connFd
			acc.paused = true
			continue
		}
		if errno != 0 {
			logErrno(srv.ErrFd, "fork", errno)
			raw.Close(connFd)
			continue
		}

		raw.Close(connFd) // the child has its own copy
		ch.add(pid, int(c.pidFd))
	}

	// step: clean up
	if held >= 0 {
		unix.Close(held)
	}
	// The stop eventfd is shared with the children: each leaves its wait and exits.
	for len(ch.pfds) > 2 {
		ch.reap(len(ch.pfds) - 1)
	}
	return status
}
