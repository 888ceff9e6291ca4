//go:build linux

package gosrv

// defs_signal.go - what golang.org/x/sys/unix lacks for signal dispositions: rt_sigaction,
// with which the standalone server (gosrv/cmd/server) gives a signal back its default
// disposition under the Go runtime, and dies of SIGPIPE (common.go's emit).

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is the kernel's struct sigaction (x86-64 and arm64 alike: both define
// SA_RESTORER): handler, flags, restorer, mask.
type kernelSigaction struct {
	handler  uintptr // 0 is SIG_DFL, 1 is SIG_IGN
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	sigDfl = 0
	sigIgn = 1
)

func setDisposition(sig unix.Signal, handler uintptr) error {
	sa := kernelSigaction{handler: handler}
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&sa)), 0,
		unsafe.Sizeof(sa.mask), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// SetDefaultSignal gives sig its default disposition (SIG_DFL) behind the runtime's back:
// from then on the kernel acts on it as on a C program's, without the runtime's handler
// (which ignores a signal nobody asked for, or dumps goroutines and exits 2). Only for
// signals the runtime does not need: not SIGURG (preemption), SIGSEGV, SIGBUS, SIGFPE
// (panics), SIGPROF while profiling, nor one that os/signal was asked for.
func SetDefaultSignal(sig unix.Signal) error { return setDisposition(sig, sigDfl) }

// DieOfSignal ends the process by sig, as its default disposition does: the default
// disposition, the signal unblocked on this thread, then sent to this thread. If it comes
// back (it cannot, for a signal whose default terminates), it exits 2 as the runtime's
// dieFromSignal does.
func DieOfSignal(sig unix.Signal) {
	setDisposition(sig, sigDfl)
	var set unix.Sigset_t
	sigsetAdd(&set, sig)
	unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	unix.Tgkill(raw.Getpid(), raw.Gettid(), sig)
	unix.Exit(2)
}

// TakePending blocks sigs on the calling thread (which the caller has locked) and takes
// those pending for the process or for this thread, one rt_sigtimedwait each with a zero
// timeout, without waiting: a signal the kernel queued that no thread has taken yet.
// It returns the lowest-numbered taken, or 0. C: take_pending in csrc/server_main.c.
func TakePending(sigs ...unix.Signal) unix.Signal {
	var set unix.Sigset_t
	for _, sig := range sigs {
		sigsetAdd(&set, sig)
	}
	unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil)
	var low unix.Signal
	var info siginfoPoll
	zero := unix.Timespec{}
	for range sigs {
		sig, err := sigtimedwait(&set, &info, &zero)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break // EAGAIN: none left
		}
		if low == 0 || sig < low {
			low = sig
		}
	}
	return low
}
