//go:build linux && !(amd64 || 386 || arm || mips || mipsle || mips64 || mips64le || ppc64 || ppc64le || s390x)

package gosrv

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The wait calls where the kernel has only ppoll(2) and epoll_pwait(2) (arm64, riscv64,
// loong64): glibc's poll() and epoll_wait() make those there, with no signal mask, and so
// does the Go port. waitcalls_poll.go is the twin for architectures with poll(2).

// poll is glibc's poll(): ppoll with the timeout in a timespec, none for a negative one.
func poll(fds []unix.PollFd, timeout int) (int, error) {
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout) * 1e6)
		ts = &t
	}
	n, _, errno := unix.Syscall6(unix.SYS_PPOLL, uintptr(first(fds)), uintptr(len(fds)), uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	return result(n, errno)
}

// PollNow is glibc's poll() with a zero timeout: ppoll with a zeroed timespec. It never
// waits, a raw call (rawcalls.go).
func (rawCalls) PollNow(fds []unix.PollFd) (int, error) {
	var ts unix.Timespec
	n, errno := rawSyscall6(unix.SYS_PPOLL, uintptr(first(fds)), uintptr(len(fds)), uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	return result(n, errno)
}

// epollWait is glibc's epoll_wait(): epoll_pwait with no signal mask.
func epollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(first(events)), uintptr(len(events)), uintptr(msec), 0, 0)
	return result(n, errno)
}

// sysPollForever and pollForever are the raw call and its third argument that wait with no
// timeout, for the fork child: ppoll(fds, n, NULL, NULL).
const (
	sysPollForever = unix.SYS_PPOLL
	pollForever    = uintptr(0) // no timespec
)
