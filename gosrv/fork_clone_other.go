//go:build linux && !amd64

package gosrv

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// clone starts the slot's child as a copy of this process (no CLONE_VM: without an
// assembly entry on its own stack, the child must run on a copy of the caller's stack).
func (s *childSlot) clone() (int, syscall.Errno) {
	return cloneChild(s.c)
}

// cloneChild is C's fork_child and, in the child, serve_child's call: pid in the parent,
// and the child never returns. It is its own frame, as syscall's forkAndExecInChild1 is.
//
//go:noinline
//go:nosplit
//go:norace
//go:nocheckptr
func cloneChild(c *forkChild) (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&c.args)), unsafe.Sizeof(c.args), 0)
	if errno != 0 || pid != 0 {
		return int(pid), errno
	}
	c.serveChild()
	return 0, 0 // not reached: serveChild ends in exit_group
}
