//go:build linux

package gosrv

import (
	"reflect"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneVM is clone3(args) for a child that shares this address space and starts on its
// own stack in entry(c) (fork_clone_amd64.s). pid in the parent, or errno.
//
//go:noescape
func cloneVM(args *cloneArgs, c *forkChild, entry uintptr) (pid, errno uintptr)

// forkChildMainPC is forkChildMain's code address: reflect gives the function's own
// (ABIInternal) entry, the one cloneVM calls with c in AX.
var forkChildMainPC = reflect.ValueOf(forkChildMain).Pointer()

// forkChildMain is where the child starts, on its own stack, called by cloneVM.
//
//go:nosplit
//go:norace
//go:nocheckptr
func forkChildMain(c *forkChild) {
	c.serveChild()
}

// clone starts the slot's child: clone3 with CLONE_VM, on the slot's stack.
func (s *childSlot) clone() (int, syscall.Errno) {
	s.c.args.flags |= unix.CLONE_VM
	s.c.args.stack = uint64(uintptr(unsafe.Pointer(&s.stack[0])))
	s.c.args.stackSize = uint64(len(s.stack))
	pid, errno := cloneVM(&s.c.args, s.c, forkChildMainPC)
	return int(pid), syscall.Errno(errno)
}
