//go:build linux

package gosrv

// fork_child.go - the fork model's child on raw system calls: csrc/fork.c's serve_child,
// with csrc/common.c's close_other_fds, wait_readable, echo_once and log lines, step for
// step, in code that runs beside a Go runtime without being part of it.
//
// The clone (childSlot.clone: fork_clone_amd64.go, fork_clone_other.go) is the clone3(2)
// call of C's fork_child: exit signal SIGCHLD, the pidfd from CLONE_PIDFD, and
// CLONE_CLEAR_SIGHAND, which resets every signal that has a handler — for a Go process,
// nearly every signal — to SIG_DFL in the child in the same step as the clone (ignored
// ones stay ignored). From its first instruction the child cannot run one of the runtime's
// handlers, so nothing is blocked around the call, unlike syscall.forkAndExecInChild1: it
// blocks signals (runtime_BeforeFork) because its child would otherwise run a Go handler
// between fork and exec (go.dev/issue/18600), then resets the handlers one by one
// (runtime_AfterForkInChild: 60-odd rt_sigaction calls) and restores the mask. Here the
// child keeps the signal mask of the thread that cloned, as C's does. On amd64 the clone
// adds CLONE_VM and the child runs on a stack of its own (fork.go says why).
//
// The child is a thread the runtime does not know: no g of its own, no scheduler, no stack
// it could grow, locks held by threads it cannot wait for. So from the clone to exit_group
// it runs only the functions below, each //go:nosplit (no stack check: the linker proves
// the chain fits in the guard space, far less than the slot's stack), //go:norace (no
// race-detector call: its runtime would take the child for the goroutine it interrupted)
// and //go:nocheckptr (no checkptr call under -race), making raw system calls
// (syscall.RawSyscall6: nosplit, norace, assembly underneath) on memory the parent
// prepared before the clone (the slot's forkChild), writing only bytes and integers there,
// never a pointer (no write barrier), and reading nothing else of the parent's but
// errTexts, fixed since init. It allocates nothing and never returns to Go code that
// could: it ends in exit_group. The standard library's forkAndExecInChild1 runs under the
// same rules. objdump of the -race test binary shows these functions call nothing but
// each other, syscall.RawSyscall and, on an index out of range that cannot happen,
// runtime.panicBounds.

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneArgs is struct clone_args of linux/sched.h, its first version (CLONE_ARGS_SIZE_VER0).
type cloneArgs struct {
	flags, pidfd, childTid, parentTid, exitSignal, stack, stackSize, tls uint64
}

// forkChild is all the memory the child uses, prepared by the parent before each clone;
// the child works on its own copy of it.
type forkChild struct {
	args  cloneArgs
	pidFd int32           // the kernel stores the child's pidfd here, in the parent (CLONE_PIDFD)
	ign   kernelSigaction // SIG_IGN, for signal 33 (serveChild)

	connFd, stopFd, outFd, errFd int
	keep                         [4]int // close_other_fds's sorted copy
	pfd                          [2]unix.PollFd
	buf                          [BufSize]byte // echo_once's buffer
	line                         [BufSize + 128]byte
	n                            int // the line's length so far (C: struct line)
}

// errTexts is glibcErrors as an array: a map lookup is Go code the child cannot run.
var errTexts = func() (t [134]string) {
	for errno, text := range glibcErrors {
		if errno >= 0 && errno < len(t) {
			t[errno] = text
		}
	}
	return t
}()

// serveChild is serve_child: keep only the connection and the server's streams, serve, _exit.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) serveChild() {
	// Go only: signal 33 is the runtime's (its all-thread system calls), handled, and so
	// back at SIG_DFL after the clone, where it would kill the child; the C server ignores
	// it (server_main.c's reset_signals), and so does its child. The Go one ignores it too.
	c.ign.handler = sigIgn
	syscall.RawSyscall6(unix.SYS_RT_SIGACTION, 33, uintptr(unsafe.Pointer(&c.ign)), 0, unsafe.Sizeof(c.ign.mask), 0, 0)
	c.closeOtherFds()
	if c.waitReadable() == 1 {
		c.echoOnce()
	} else {
		rawClose(c.connFd)
	}
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
}

// closeOtherFds is close_other_fds(keep, 4): close_range over the gaps between the kept ones.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) closeOtherFds() {
	c.keep = [4]int{c.connFd, c.stopFd, c.outFd, c.errFd}
	for i := 1; i < len(c.keep); i++ { // insertion sort: n is tiny
		for j := i; j > 0 && c.keep[j-1] > c.keep[j]; j-- {
			c.keep[j], c.keep[j-1] = c.keep[j-1], c.keep[j]
		}
	}
	from := uint(0)
	for _, fd := range c.keep {
		if uint(fd) > from {
			syscall.RawSyscall(unix.SYS_CLOSE_RANGE, uintptr(from), uintptr(fd-1), 0)
		}
		from = uint(fd) + 1
	}
	syscall.RawSyscall(unix.SYS_CLOSE_RANGE, uintptr(from), uintptr(^uint32(0)), 0)
}

// waitReadable is wait_readable(connfd, stopfd): 1 for the connection, 0 for a stop, -1 on
// error; a stop wins a tie.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) waitReadable() int {
	c.pfd = [2]unix.PollFd{{Fd: int32(c.connFd), Events: unix.POLLIN}, {Fd: int32(c.stopFd), Events: unix.POLLIN}}
	if _, errno := rawNoEINTR(sysPollForever, uintptr(unsafe.Pointer(&c.pfd[0])), 2, pollForever, 0, 0, 0); errno != 0 {
		return -1
	}
	if c.pfd[1].Revents != 0 {
		return 0
	}
	return 1
}

// echoOnce is echo_once and echo_reply: recv, log, send, half-close, close.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) echoOnce() {
	buf := uintptr(unsafe.Pointer(&c.buf[0]))
	n, errno := rawNoEINTR(unix.SYS_RECVFROM, uintptr(c.connFd), buf, BufSize, 0, 0, 0)
	if errno != 0 {
		c.logErrno("recv_connfd", errno)
		rawClose(c.connFd)
		return
	}
	c.logMsg("recv_msg: ", int(n))
	if _, errno = rawNoEINTR(unix.SYS_SENDTO, uintptr(c.connFd), buf, n, unix.MSG_NOSIGNAL, 0, 0); errno != 0 {
		c.logErrno("send_connfd", errno)
		rawClose(c.connFd)
		return
	}
	syscall.RawSyscall(unix.SYS_SHUTDOWN, uintptr(c.connFd), unix.SHUT_WR, 0)
	rawClose(c.connFd)
}

// rawNoEINTR is the child's NO_EINTR (csrc/echo.h): a raw system call, made again while it
// fails with EINTR; the result and the errno.
//
//go:nosplit
//go:norace
func rawNoEINTR(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, syscall.Errno) {
	for {
		r, _, errno := syscall.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
		if errno != unix.EINTR {
			return r, errno
		}
	}
}

//go:nosplit
//go:norace
func rawClose(fd int) {
	syscall.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// ---- log lines, built by hand in c.line: log_msg, log_errno, emit ----

// logMsg is log_msg(outfd, prefix, buf, n): the message cut at its first NUL byte.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) logMsg(prefix string, n int) {
	for i := 0; i < n; i++ {
		if c.buf[i] == 0 {
			n = i
			break
		}
	}
	c.n = 0
	c.putStr(prefix)
	for i := 0; i < n; i++ {
		c.putByte(c.buf[i])
	}
	c.emit(c.outFd)
}

// logErrno is log_errno(errfd, what, errno): "WHAT error: MESSAGE", glibc's text.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) logErrno(what string, errno syscall.Errno) {
	c.n = 0
	c.putStr(what)
	c.putStr(" error: ")
	if int(errno) < len(errTexts) && errTexts[errno] != "" {
		c.putStr(errTexts[errno])
	} else {
		c.putStr("Unknown error ")
		c.putUint(uint(errno))
	}
	c.emit(c.errFd)
}

//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) putByte(b byte) {
	if c.n < len(c.line) {
		c.line[c.n] = b
		c.n++
	}
}

//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) putStr(s string) {
	for i := 0; i < len(s); i++ {
		c.putByte(s[i])
	}
}

//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) putUint(v uint) {
	var digits [20]byte
	i := len(digits)
	for {
		i--
		digits[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	for ; i < len(digits); i++ {
		c.putByte(digits[i])
	}
}

// emit ends the line and writes it whole; a log write that fails has nowhere to be reported.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *forkChild) emit(fd int) {
	c.putByte('\n')
	off := 0
	for off < c.n {
		w, errno := rawNoEINTR(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&c.line[off])), uintptr(c.n-off), 0, 0, 0)
		if errno == unix.EAGAIN { // a stalled log stream: room, or a stop (common.go's emit)
			c.pfd = [2]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}, {Fd: int32(c.stopFd), Events: unix.POLLIN}}
			if _, errno := rawNoEINTR(sysPollForever, uintptr(unsafe.Pointer(&c.pfd[0])), 2, pollForever, 0, 0, 0); errno != 0 || c.pfd[1].Revents != 0 {
				return
			}
			continue
		}
		if errno != 0 || w == 0 {
			return
		}
		off += int(w)
	}
}
