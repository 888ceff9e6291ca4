//go:build linux

package gosrv

// defs_sigio.go - what golang.org/x/sys/unix lacks for signal-driven I/O (gosrv/sigio.go):
// the F_SETOWN_EX owner types and struct, the SIGPOLL fields of siginfo, and a wrapper for
// rt_sigtimedwait. Values from the kernel's include/uapi/asm-generic/fcntl.h and
// include/uapi/asm-generic/siginfo.h.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// F_SETOWN_EX owner types (struct f_owner_ex.type).
const (
	fOwnerTid  = 0 // F_OWNER_TID: signals go to one thread
	fOwnerPid  = 1 // F_OWNER_PID: to the process, any thread that does not block them
	fOwnerPgrp = 2 // F_OWNER_PGRP: to a process group
)

// fOwnerEx is struct f_owner_ex, F_SETOWN_EX's argument.
type fOwnerEx struct {
	Type int32
	Pid  int32
}

// siginfoPoll is siginfo_t as the kernel fills it for a SIGPOLL-class signal (which is
// what F_SETSIG makes of the chosen signal): signo, errno, code, then the union, whose
// _sigpoll member is {long si_band; int si_fd}. A Go int is as wide as C's long, so Band
// sits where C puts it on 32- and 64-bit ABIs alike (after 4 bytes of padding on 64-bit).
// The kernel writes all 128 bytes of siginfo_t, so the struct is exactly that large.
type siginfoPoll struct {
	Signo int32
	Errno int32
	Code  int32                               // POLL_IN, POLL_OUT, POLL_ERR, POLL_HUP... (1..6)
	Band  int                                 // the poll(2) event bits: POLLIN|POLLRDNORM and so on
	Fd    int32                               // the descriptor that became ready
	_     [116 - 2*unsafe.Sizeof(int(0))]byte // up to the kernel's 128 bytes
}

// sigsetAdd is sigaddset(3): signal n is bit n-1.
func sigsetAdd(set *unix.Sigset_t, sig unix.Signal) {
	bits := uint(unsafe.Sizeof(set.Val[0])) * 8
	set.Val[uint(sig-1)/bits] |= 1 << (uint(sig-1) % bits)
}

// setOwnEx is fcntl(fd, F_SETOWN_EX, &owner): unix.FcntlInt cannot pass a pointer. It
// never waits: a raw call (rawcalls.go).
func setOwnEx(fd int, owner *fOwnerEx) error {
	_, errno := rawSyscall6(unix.SYS_FCNTL, uintptr(fd), unix.F_SETOWN_EX, uintptr(unsafe.Pointer(owner)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// sigtimedwait is rt_sigtimedwait(2), which x/sys/unix does not wrap: it takes one of the
// signals in set from the calling thread's pending queue (they must be blocked), or
// fails with EAGAIN once timeout passes; a nil timeout waits for ever (sigwaitinfo). The last argument is the kernel's sigset size
// (8 bytes, _NSIG/8), not Go's larger Sigset_t.
func sigtimedwait(set *unix.Sigset_t, info *siginfoPoll, timeout *unix.Timespec) (unix.Signal, error) {
	sig, _, errno := unix.Syscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(set)),
		uintptr(unsafe.Pointer(info)), uintptr(unsafe.Pointer(timeout)), 8, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return unix.Signal(sig), nil
}
