//go:build linux

#include "textflag.h"

// func rawSyscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1 uintptr, errno unix.Errno)
//
// One system call, straight to the kernel, as a libc wrapper makes it: the number in AX,
// the arguments in DI, SI, DX, R10, R8, R9; a return in [-4095, -1] is -errno (r1 is then
// -1, as unix.RawSyscall6 gives). unix.RawSyscall6 reaches the same SYSCALL through three
// functions and two ABI wrappers (x/sys's jump, syscall.RawSyscall6, the runtime's
// Syscall6); see rawcalls.go for what that costs. Its 8-byte frame makes the assembler
// save BP: a stack walker (strace -k) then finds the caller, which a frameless function
// hides.
TEXT ·rawSyscall6(SB),NOSPLIT,$8-72
	MOVQ	a1+8(FP), DI
	MOVQ	a2+16(FP), SI
	MOVQ	a3+24(FP), DX
	MOVQ	a4+32(FP), R10
	MOVQ	a5+40(FP), R8
	MOVQ	a6+48(FP), R9
	MOVQ	trap+0(FP), AX
	SYSCALL
	CMPQ	AX, $-4095
	JLS	ok
	NEGQ	AX
	MOVQ	$-1, r1+56(FP)
	MOVQ	AX, errno+64(FP)
	RET
ok:
	MOVQ	AX, r1+56(FP)
	MOVQ	$0, errno+64(FP)
	RET
