//go:build linux

package gosrv

// thread.go - blocking I/O, one thread per connection (seed: 多线程 + 阻塞IO, named in the text
// without code).
//
// The accept loop is iterative's; each accepted connection gets a goroutine that blocks in
// its own poll and recv, so a silent client holds only its own thread: the calls are raw
// system calls (poll, recvfrom, sendto through unix.Syscall), which the runtime's netpoller
// never sees, so a goroutine blocked in one keeps its OS thread blocked in the kernel while
// the runtime hands the processor (P) to another thread, and n silent connections hold n
// threads, as C's detached pthreads do. What differs from C is the thread afterwards: the
// pthread ends with its connection, the goroutine's thread returns to the runtime's idle
// pool and serves a later connection (serveConn says why the goroutine is not locked to
// it). A sync.WaitGroup takes the place of C's counter and condition variable. C twin:
// csrc/thread.c.

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxConnThreads stands in for pthread_create's EAGAIN. The Go runtime aborts the whole
// process when it needs more than 10000 OS threads (runtime/debug.SetMaxThreads); C's
// pthread_create fails politely instead. Beyond this many live connection threads the
// connection is refused the way C refuses one whose thread cannot be created.
const maxConnThreads = 9000

// step: serve on the connection's thread
// serveConn is one connection's thread: block until it speaks (or a stop), answer once.
//
// It is not locked to its thread (runtime.LockOSThread, exiting locked), which would make
// the runtime create and end one thread per connection as C does: creating a Go thread
// (newm: its g0 stack, signal stack and mask, clone) and ending it costs more than a
// pthread's (compare/cmd/benchreport/README.md, "thread: unlocked goroutines"), and the
// model's property holds either way, because what holds the thread is the blocking system
// call, not the lock. The process keeps as many idle threads as it ever had connections
// blocked at once (the runtime never ends an idle thread); none is created while one is
// idle (the thread-500-at-once scenario counts them).
func serveConn(srv *Server, connFd int) {
	ready, err := waitReadable(connFd, srv.StopFd)
	if ready == 1 {
		echoOnce(srv, connFd)
		return
	}
	if ready < 0 {
		logErrno(srv.ErrFd, "poll_connfd", err)
	}
	raw.Close(connFd)
}

func serveThread(srv *Server) int {
	// step: set up
	var threads sync.WaitGroup // the live connection threads
	var live atomic.Int32
	var acc acceptor
	acc.open(unix.SOCK_CLOEXEC)
	var connFd int

	// step: accept
	// accept blocks (in poll, so that a stop can wake it: acceptBlocking).
	for connFd = acceptBlocking(srv, &acc); connFd >= 0; connFd = acceptBlocking(srv, &acc) {
		// step: start a thread
		// The connection is the thread's from here: it closes it.
		if live.Load() >= maxConnThreads {
			logErrno(srv.ErrFd, "pthread_create", unix.EAGAIN)
			raw.Close(connFd)
			continue
		}
		live.Add(1)
		threads.Add(1)
		go func(connFd int) { // connFd is the loop's, reassigned by the next accept: pass it
			defer threads.Done()
			defer live.Add(-1)
			serveConn(srv, connFd)
		}(connFd)
	}

	// step: stop
	// Every thread sees the same stop eventfd in its poll and finishes; after a failed poll
	// (acceptFailed) they still end when their clients speak or the stop comes.
	threads.Wait()
	if connFd == acceptFailed {
		return -1
	}
	return 0
}
