//go:build linux

package gosrv

// fork_child.go - the fork model's child: what serveChild (fork.go) calls, csrc/common.c's
// close_other_fds, wait_readable, echo_once and log lines, step for step, on raw system
// calls. After the clone the child is a copy of a multithreaded Go process with one thread
// in it, the one that forked, on a copy of its goroutine's stack; the runtime's other
// threads (scheduler, garbage collector, sysmon) were not copied, and a lock one of them
// held stays held for good. So from the clone to exit_group the child runs only fork.go's
// forkChild and serveChild and the functions below, under the rules syscall's
// forkAndExecInChild1 keeps between its fork and exec: each is //go:nosplit (no stack
// check, which could call into the scheduler; the linker proves the chain fits in the
// stack's guard space, and a nosplit function is never preempted), //go:norace (no call
// into the race detector, which would take the child for the goroutine it copied) and
// //go:nocheckptr (no checkptr call under -race); they make raw system calls
// (syscall.RawSyscall6: nosplit, norace, assembly underneath), allocate nothing, store no
// pointer (no write barrier), read nothing of the parent's but their child and errTexts,
// and end in exit_group without returning to Go code that could break a rule.
// TestForkChildCallsOnlyRawCode holds them to it, reading their machine code.

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneArgs is struct clone_args of linux/sched.h, CLONE_ARGS_SIZE_VER2 (Linux 5.7): the
// size C's sizeof passes to clone3.
type cloneArgs struct {
	flags, pidfd, childTid, parentTid, exitSignal, stack, stackSize, tls uint64
	setTid, setTidSize, cgroup                                           uint64
}

// child is the memory the child serves in, a copy of the parent's: forkChild fills it in
// the parent before each clone, so one child value serves every fork.
type child struct {
	args  cloneArgs
	pidFd int32 // the kernel stores the child's pidfd here, in the parent (CLONE_PIDFD)

	connFd, stopFd, outFd, errFd int
	ign                          kernelSigaction // SIG_IGN, for signal 33
	keep                         [4]int          // close_other_fds's sorted copy
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

// ignoreSignal33 sets signal 33 ignored. Go only: 33 is the runtime's (its all-thread
// system calls), handled, and so back at SIG_DFL after the clone, where it would kill the
// child; the C server ignores it (server_main.c's reset_signals), and so does its child.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *child) ignoreSignal33() {
	c.ign.handler = sigIgn
	syscall.RawSyscall6(unix.SYS_RT_SIGACTION, 33, uintptr(unsafe.Pointer(&c.ign)), 0, unsafe.Sizeof(c.ign.mask), 0, 0)
}

// closeOtherFds is close_other_fds(keep, 4): close_range over the gaps between the kept ones.
//
//go:nosplit
//go:norace
//go:nocheckptr
func (c *child) closeOtherFds() {
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
func (c *child) waitReadable() int {
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
func (c *child) echoOnce() {
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

// exitGroup is _exit: exit_group(2), which does not return.
//
//go:nosplit
//go:norace
func exitGroup(status int) {
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, uintptr(status), 0, 0)
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
func (c *child) logMsg(prefix string, n int) {
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
func (c *child) logErrno(what string, errno syscall.Errno) {
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
func (c *child) putByte(b byte) {
	if c.n < len(c.line) {
		c.line[c.n] = b
		c.n++
	}
}

//go:nosplit
//go:norace
//go:nocheckptr
func (c *child) putStr(s string) {
	for i := 0; i < len(s); i++ {
		c.putByte(s[i])
	}
}

//go:nosplit
//go:norace
//go:nocheckptr
func (c *child) putUint(v uint) {
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
func (c *child) emit(fd int) {
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
