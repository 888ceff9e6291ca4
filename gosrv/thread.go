//go:build linux

package gosrv

// thread.go - blocking I/O, one thread per connection (seed: 多线程 + 阻塞IO, named in the
// text without code).
//
// The accept loop is iterative's; each accepted connection gets a goroutine that blocks in
// its own poll and recv, so a silent client holds only its own thread. C twin:
// csrc/thread.c, where that is a detached pthread.
//
// Why a goroutine here is a thread: the calls are raw system calls (unix.Poll, Recvfrom,
// sendto), which the runtime's netpoller never sees. A goroutine blocked in one keeps its
// OS thread (M) blocked in the kernel, and the runtime hands the processor (P) to another
// thread, so even without locking, each connection blocked in poll already occupies one OS
// thread of its own. What runtime.LockOSThread changes: the goroutine and its thread are
// wired together for the connection's whole life. Between its system calls (recv, log,
// send) it runs only on that thread, and that thread runs no other goroutine; without
// the lock the goroutine may resume on any thread and its thread goes back to the idle
// pool to run others. And because the goroutine exits still locked, the runtime ends
// that thread with it, as the pthread ends in C: one thread created and destroyed per
// connection. A sync.WaitGroup takes the place of C's counter and condition variable.

import (
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxConnThreads stands in for pthread_create's EAGAIN. The Go runtime aborts the whole
// process when it needs more than 10000 OS threads (runtime/debug.SetMaxThreads); C's
// pthread_create fails politely instead. Beyond this many live connection threads the
// connection is refused the way C refuses one whose thread cannot be created.
const maxConnThreads = 9000

// serveConn is one connection's thread: block until it speaks (or a stop), answer once.
func serveConn(srv *Server, connFd int) {
	// No UnlockOSThread: exiting locked makes the runtime end this thread.
	runtime.LockOSThread()
	ready, err := waitReadable(connFd, srv.StopFd)
	if ready == 1 {
		echoOnce(srv, connFd)
		return
	}
	if ready < 0 {
		logErrno(srv.ErrFd, "poll_connfd", err)
	}
	unix.Close(connFd)
}

func serveThread(srv *Server) int {
	var threads sync.WaitGroup // the live connection threads
	var live atomic.Int32
	var acc acceptor
	acc.open(unix.SOCK_CLOEXEC)
	status := 0

	for {
		// accept would block here; waiting in poll instead lets a stop wake us.
		ready, err := waitReadable(srv.ListenFd, srv.StopFd)
		if ready == 0 {
			break
		}
		if ready < 0 {
			// The threads still end when their clients speak or the stop comes.
			logErrno(srv.ErrFd, "poll_listenfd", err)
			status = -1
			break
		}

		connFd, peer := acceptConn(srv, &acc)
		if connFd < 0 {
			continue
		}
		logNewConn(srv.OutFd, peer, true)

		// The connection is the thread's from here: it closes it.
		if live.Load() >= maxConnThreads {
			logErrno(srv.ErrFd, "pthread_create", unix.EAGAIN)
			unix.Close(connFd)
			continue
		}
		live.Add(1)
		threads.Add(1)
		go func() {
			defer threads.Done()
			defer live.Add(-1)
			serveConn(srv, connFd)
		}()
	}

	// Every thread sees the same stop eventfd in its poll and finishes.
	threads.Wait()
	acc.close()
	return status
}
