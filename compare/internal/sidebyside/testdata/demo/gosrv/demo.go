//go:build linux

package demo

// demo.go - a made-up model for the tests of compare/internal/sidebyside: reads until end
// of stream, then closes. C twin: csrc/demo.c.

import "golang.org/x/sys/unix"

// step: read once
func helper(fd int) int {
	return sharedRead(fd)
}

func serveDemo(fd int) int {
	// step: set up
	n := 0
	// step: clean up (deferred)
	defer unix.Close(fd)
	var slice timeSlice
	// step: wait
	for {
		slice.yield()
		n = helper(fd)
		if n <= 0 {
			break
		}
	}
	return n
}
