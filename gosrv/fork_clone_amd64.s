//go:build linux

#include "textflag.h"

// func cloneVM(args *cloneArgs, c *forkChild, entry uintptr) (pid, errno uintptr)
//
// clone3(args, 64): in the parent it returns the child's pid, or the errno. The child
// starts on its own stack (args.stack, args.stack_size), so it must not return into the
// frames above, which are the parent's: it calls entry(c), which never returns, and
// exit_group(0) should it ever do so. entry is the ABIInternal code of forkChildMain (a Go
// function called from here by name would go through an ABI0 wrapper that, under -race,
// calls the race runtime): c goes in AX, X15 must be zero; nosplit code never reads g
// (R14). R12 and R13 carry c and entry across: the child gets the parent's registers, and
// SYSCALL clobbers only CX and R11.
TEXT ·cloneVM(SB),NOSPLIT,$0-40
	MOVQ	args+0(FP), DI
	MOVQ	$64, SI		// sizeof(struct clone_args): CLONE_ARGS_SIZE_VER0
	MOVQ	c+8(FP), R12
	MOVQ	entry+16(FP), R13
	MOVQ	$435, AX	// SYS_clone3
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $-4095
	JLS	parent
	NEGQ	AX
	MOVQ	$0, pid+24(FP)
	MOVQ	AX, errno+32(FP)
	RET
parent:
	MOVQ	AX, pid+24(FP)
	MOVQ	$0, errno+32(FP)
	RET
child:
	MOVQ	R12, AX
	XORPS	X15, X15
	CALL	R13
exit:
	MOVQ	$0, DI
	MOVQ	$231, AX	// SYS_exit_group
	SYSCALL
	JMP	exit
