//go:build linux

package gosrv

// rawcalls.go - the system calls of the serving paths that cannot wait, made as raw system
// calls. Go only: C has no scheduler between its calls and the kernel.
//
// unix.Syscall brackets a call with the runtime's entersyscall and exitsyscall: the
// goroutine's processor (P) is marked as in a system call, so that if the thread blocks
// there, sysmon can hand the P to another thread and the program's other goroutines run
// on. For a call that returns without waiting that bookkeeping buys nothing and costs time
// on every call (measured: compare/cmd/benchreport/README.md, "Raw system calls").
// unix.RawSyscall skips it: to the runtime the goroutine is running Go code throughout the
// call.
//
// The rule: a raw call must never wait. If one did, its thread would keep the P while it
// waited, a garbage collection's stop-the-world would wait with it, and with one P every
// other goroutine (the one that turns a stop signal into the stop eventfd) too. So:
//
// Raw (cannot wait):
//   - close of a connection: no socket here sets
//     SO_LINGER, the one option that makes close wait for the peer;
//   - shutdown(SHUT_WR): queues a FIN and returns;
//   - epoll_ctl, and fcntl's F_GETFL, F_SETFL, F_SETSIG and F_SETOWN_EX (sigio's arming);
//   - poll with a zero timeout (readableNow);
//   - accept4, recv and send on a descriptor that is O_NONBLOCK: where the blocking call
//     would wait, these fail with EAGAIN (epoll-et, nonblock and sigio, whose listener and
//     connections are all non-blocking);
//   - accept4 and recv on a blocking listener or connection that poll, select or epoll
//     has just reported readable (iterative, fork, epoll-lt, thread, select, poll: every
//     accept4 of theirs and echoOnce's recv come right after such a report). On Linux a
//     listening TCP socket is readable when a connection is queued, and a connection reset
//     while queued stays in the queue (accept returns it; its first recv reports the
//     reset); a connected TCP socket is readable when bytes, the end of stream or an error
//     are there to be read. One thread takes them, so nothing empties the queue or the
//     buffer in between, and the call returns at once;
//   - write of a log line to the standalone server's stdout or stderr when it is a pipe,
//     a terminal or a device such as /dev/null: LogNonblocking gave it an O_NONBLOCK
//     description of its own, so a full pipe answers EAGAIN, and emit then waits in poll.
//
// Through unix.Syscall (may wait), even where the protocol means them not to:
//   - the waits: poll, epoll_wait, select, rt_sigtimedwait, io_uring_enter that waits for
//     a completion, the long sleeps of nonblock (nonblock.go: backoffSleep);
//   - send on a blocking connection (iterative, thread, fork, epoll-lt, select, poll):
//     it waits for memory when TCP is short of it;
//   - write of a log line to a regular file, a socket, or a descriptor an in-process
//     host gave (emit's logWrite): they keep their blocking description.
//
// The raw calls of the serving paths go through rawSyscall6, one assembly function on
// amd64 (rawsyscall_amd64.s): unix.RawSyscall6 reaches the same SYSCALL instruction through
// three functions and two ABI wrappers, which cost as much again as the calls themselves
// in user space (the same section of the performance document). Setup and teardown (once per server) keep x/sys/unix's wrappers: nothing to gain
// there. Where a call takes a pointer, the conversion to uintptr stays in the call
// expression itself (unsafe.Pointer's rule for system calls, which holds for any function
// written in assembly), as in first's callers.
// The calls are methods of raw so that a call site reads like x/sys's (raw.Close(fd) for
// unix.Close(fd)) and says which kind it is.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

type rawCalls struct{}

// raw makes the system calls that cannot wait (see above).
var raw rawCalls

// Close is close(2); its error is not needed by any caller.
func (rawCalls) Close(fd int) {
	rawSyscall6(unix.SYS_CLOSE, uintptr(fd), 0, 0, 0, 0, 0)
}

// Shutdown is shutdown(2); its error is not needed by any caller.
func (rawCalls) Shutdown(fd, how int) {
	rawSyscall6(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0, 0, 0, 0)
}

// EpollCtl is epoll_ctl(2).
func (rawCalls) EpollCtl(epfd, op, fd int, event *unix.EpollEvent) error {
	_, errno := rawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(event)), 0, 0)
	return errnoErr(errno)
}

// FcntlInt is fcntl(2) with an integer argument, for the commands that never wait
// (F_GETFL, F_SETFL, F_SETSIG; never a lock command). F_SETOWN_EX, which takes a pointer,
// is setOwnEx (defs_sigio.go), raw too.
func (rawCalls) FcntlInt(fd, cmd, arg int) (int, error) {
	n, errno := rawSyscall6(unix.SYS_FCNTL, uintptr(fd), uintptr(cmd), uintptr(arg), 0, 0, 0)
	return result(n, errno)
}

// Recv is recv(2), recvfrom with no address as glibc's recv makes it (x/sys/unix's
// Recvfrom asks for the peer's address, which a connected TCP socket leaves empty), on an
// O_NONBLOCK socket or one just reported readable.
func (rawCalls) Recv(fd int, p []byte, flags int) (int, error) {
	n, errno := rawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(first(p)), uintptr(len(p)), uintptr(flags), 0, 0)
	return result(n, errno)
}

// Write is write(2) on an O_NONBLOCK descriptor.
func (rawCalls) Write(fd int, p []byte) (int, error) {
	n, errno := rawSyscall6(unix.SYS_WRITE, uintptr(fd), uintptr(first(p)), uintptr(len(p)), 0, 0, 0)
	return result(n, errno)
}

// Send is send(2) on an O_NONBLOCK socket.
func (rawCalls) Send(fd int, p []byte, flags int) (int, error) {
	n, errno := rawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(first(p)), uintptr(len(p)), uintptr(flags), 0, 0)
	return result(n, errno)
}

// Getpid is getpid(2) and Gettid gettid(2). (x/sys's go through an assembly stub with no
// frame, where a stack walker such as strace -k's loses the caller.)
func (rawCalls) Getpid() int {
	pid, _ := rawSyscall6(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
	return int(pid)
}

func (rawCalls) Gettid() int {
	tid, _ := rawSyscall6(unix.SYS_GETTID, 0, 0, 0, 0, 0, 0)
	return int(tid)
}

// errnoErr is a raw call's errno as an error: nil for 0.
func errnoErr(errno unix.Errno) error {
	if errno != 0 {
		return errno
	}
	return nil
}
