//go:build linux

package gosrv

// fork.go - blocking I/O, one process per connection (seed: 多进程 + 阻塞IO).
//
// The parent accepts and starts a process for each connection; the process serves that one
// connection with blocking calls and exits, so a stalled client holds only its own process.
//
// How it maps to csrc/fork.c: Go cannot fork() without exec (the child would hold one
// thread of a runtime that needs many), so where C forks, Go forks and execs itself
// (/proc/self/exe) through syscall.ForkExec, handing the child exactly the descriptors the
// C child keeps (close_other_fds): the connection as fd 0, the log streams as fds 1 and 2,
// the stop eventfd as fd 3. The environment variable forkChildEnv tells the new process
// that it is such a child; this package's init sees it, serves and exits before main runs,
// so any binary that links gosrv (the server, the tests) can be its own child. The parent's
// loop is C's: a pidfd per child in the poll set, each child reaped by its pid as it exits
// (no SIGCHLD handler, no zombie), and at stop the shared eventfd ends every child.

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

const forkChildEnv = "IOMODELS_FORK_CHILD"

func init() {
	if os.Getenv(forkChildEnv) == "1" {
		os.Exit(serveChild())
	}
}

// serveChild is the child: fds 0-3 are the connection, out, err and the stop eventfd.
func serveChild() int {
	srv := &Server{ListenFd: -1, StopFd: 3, OutFd: 1, ErrFd: 2}
	const connFd = 0
	if ready, _ := waitReadable(connFd, srv.StopFd); ready == 1 {
		echoOnce(srv, connFd)
	} else {
		unix.Close(connFd)
	}
	return 0
}

// children is the parent's poll set: [0] listener, [1] stop, then one pidfd per live child.
type children struct {
	pfds []unix.PollFd
	pids []int // pids[i] belongs to pfds[i]; the first two are unused
}

// reap waits for child i (it has exited, or is told to by the stop eventfd) and drops it.
func (ch *children) reap(i int) {
	var ws unix.WaitStatus
	ignoringEINTR(func() (err error) { _, err = unix.Wait4(ch.pids[i], &ws, 0, nil); return err })
	if ch.pfds[i].Fd >= 0 {
		unix.Close(int(ch.pfds[i].Fd))
	}
	last := len(ch.pfds) - 1
	ch.pfds[i], ch.pids[i] = ch.pfds[last], ch.pids[last]
	ch.pfds, ch.pids = ch.pfds[:last], ch.pids[:last]
}

// startChild is fork + exec of this binary with the child's four descriptors.
func startChild(srv *Server, connFd int) (int, error) {
	attr := &syscall.ProcAttr{
		Env:   append(os.Environ(), forkChildEnv+"=1"),
		Files: []uintptr{uintptr(connFd), uintptr(srv.OutFd), uintptr(srv.ErrFd), uintptr(srv.StopFd)},
	}
	return syscall.ForkExec("/proc/self/exe", []string{os.Args[0]}, attr)
}

func serveFork(srv *Server) int {
	ch := &children{
		pfds: []unix.PollFd{
			{Fd: int32(srv.ListenFd), Events: unix.POLLIN},
			{Fd: int32(srv.StopFd), Events: unix.POLLIN},
		},
		pids: []int{0, 0},
	}
	var acc acceptor
	acc.open(unix.SOCK_CLOEXEC)
	status := 0

	for {
		if _, err := unix.Poll(ch.pfds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			logErrno(srv.ErrFd, "poll_listenfd", err)
			status = -1
			break
		}
		if ch.pfds[1].Revents != 0 {
			break
		}
		// A pidfd turns readable when its process exits: reap it now, no zombie stays.
		for i := len(ch.pfds) - 1; i >= 2; i-- {
			if ch.pfds[i].Revents != 0 {
				ch.reap(i)
			}
		}
		if ch.pfds[0].Revents == 0 {
			continue
		}

		connFd, peer := acceptConn(srv, &acc)
		if connFd < 0 {
			continue
		}
		logNewConn(srv.OutFd, peer, true)

		pid, err := startChild(srv, connFd)
		if err != nil {
			logErrno(srv.ErrFd, "fork", err)
			unix.Close(connFd)
			continue
		}

		unix.Close(connFd) // the child has its own copy
		pidFd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			logErrno(srv.ErrFd, "pidfd_open", err)
			pidFd = -1
		}
		// Without a pidfd (fd -1, which poll skips) the child is still reaped at stop.
		ch.pfds = append(ch.pfds, unix.PollFd{Fd: int32(pidFd), Events: unix.POLLIN})
		ch.pids = append(ch.pids, pid)
	}

	// The stop eventfd is shared with the children: each leaves its wait and exits.
	for len(ch.pfds) > 2 {
		ch.reap(len(ch.pfds) - 1)
	}
	acc.close()
	return status
}
