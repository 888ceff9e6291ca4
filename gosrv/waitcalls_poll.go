//go:build linux && (amd64 || 386 || arm || mips || mipsle || mips64 || mips64le || ppc64 || ppc64le || s390x)

package gosrv

import "golang.org/x/sys/unix"

// The wait calls as glibc makes them where the kernel still has poll(2) and epoll_wait(2)
// (x86-64 among them): C's poll() and epoll_wait() are those system calls there, and the Go
// port makes the same ones. x/sys/unix's Poll and EpollWait would make ppoll and
// epoll_pwait instead (and Poll allocates a timespec for a timeout of 0 or more).
// waitcalls_ppoll.go is the twin for architectures that have only the p-variants.

// poll is poll(2).
func poll(fds []unix.PollFd, timeout int) (int, error) {
	n, _, errno := unix.Syscall(unix.SYS_POLL, uintptr(first(fds)), uintptr(len(fds)), uintptr(timeout))
	return result(n, errno)
}

// PollNow is poll(2) with a zero timeout: it never waits, a raw call (rawcalls.go).
func (rawCalls) PollNow(fds []unix.PollFd) (int, error) {
	n, errno := rawSyscall6(unix.SYS_POLL, uintptr(first(fds)), uintptr(len(fds)), 0, 0, 0, 0)
	return result(n, errno)
}

// epollWait is epoll_wait(2).
func epollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(first(events)), uintptr(len(events)), uintptr(msec), 0, 0)
	return result(n, errno)
}

// sysPollForever and pollForever are the raw call and its third argument that wait with no
// timeout, for the fork child, which may only make raw system calls: poll(fds, n, -1).
const (
	sysPollForever = unix.SYS_POLL
	pollForever    = ^uintptr(0) // -1
)
