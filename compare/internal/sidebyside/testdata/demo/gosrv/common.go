//go:build linux

package demo

import "golang.org/x/sys/unix"

func sharedRead(fd int) int {
	var buf [16]byte
	n, _ := unix.Read(fd, buf[:])
	return n
}
