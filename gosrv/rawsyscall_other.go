//go:build linux && !amd64

package gosrv

import "golang.org/x/sys/unix"

// rawSyscall6 is unix.RawSyscall6 (on amd64, one assembly function: rawsyscall_amd64.s).
func rawSyscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1 uintptr, errno unix.Errno) {
	r1, _, errno = unix.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
	return r1, errno
}
