//go:build linux

package gosrv

// defs_signal.go - what golang.org/x/sys/unix lacks for signal dispositions: rt_sigaction,
// with which the standalone server (gosrv/cmd/server) gives a signal back its default
// disposition under the Go runtime, and dies of SIGPIPE (common.go's emit, DieOfSigpipe).

import (
	"encoding/binary"
	"math"
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

// AbortSockets sets every socket the process holds to abort when it is closed (SO_LINGER
// on, with a zero time): the close at the exit that follows sends a reset, never an end of
// stream, so that a server dying of SIGPIPE ends each client's connection the same way
// whatever the client's timing. The descriptors are read from /proc/self/fd; at the
// descriptor limit every number below the soft limit is tried. Non-sockets refuse the
// option (ENOTSOCK). C: abort_sockets.
func AbortSockets() {
	abortOnClose := unix.Linger{Onoff: 1, Linger: 0}
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		var nofile unix.Rlimit
		if unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &nofile) == nil {
			for fd := uint64(3); fd < nofile.Cur && fd <= math.MaxInt32; fd++ {
				unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &abortOnClose)
			}
		}
		return
	}
	var buf [4096]byte
	for {
		n, err := unix.Getdents(dfd, buf[:])
		if err != nil || n <= 0 {
			break
		}
		// struct linux_dirent64: inode (8), offset (8), record length (2), type (1), name
		for off := 0; off < n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			name := buf[off+19 : off+reclen]
			fd, digits := 0, 0
			for ; digits < len(name) && name[digits] >= '0' && name[digits] <= '9'; digits++ {
				fd = fd*10 + int(name[digits]-'0')
			}
			if digits > 0 && digits < len(name) && name[digits] == 0 && fd > 2 && fd != dfd {
				unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &abortOnClose)
			}
			off += reclen
		}
	}
	unix.Close(dfd)
}

// DieOfSigpipe is death by SIGPIPE with every connection aborted first (AbortSockets): a
// log line written into a pipe whose reader is gone, or SIGPIPE sent by kill (the
// standalone server's runtime hands it to a goroutine that comes here). C: die_of_sigpipe.
func DieOfSigpipe() {
	AbortSockets()
	DieOfSignal(unix.SIGPIPE)
}
