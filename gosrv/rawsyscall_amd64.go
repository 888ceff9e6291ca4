//go:build linux

package gosrv

import "golang.org/x/sys/unix"

// rawSyscall6 is unix.RawSyscall6 in one assembly function (rawsyscall_amd64.s), for the
// calls that cannot wait (rawcalls.go). A pointer converted to uintptr in its argument
// list is kept alive until it returns, as for any function written in assembly.
func rawSyscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1 uintptr, errno unix.Errno)
