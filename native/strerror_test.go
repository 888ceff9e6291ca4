//go:build linux && cgo

package native_test

import (
	"testing"

	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/native"
	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

// TestStrerrorMatchesGlibc checks gosrv's table of error texts, which the Go side prints in
// its perror-format lines, against the C library this test is linked with, errno by errno.
func TestStrerrorMatchesGlibc(t *testing.T) {
	for n := 1; n <= 133; n++ {
		assert.Equal(t, native.Strerror(n), gosrv.Strerror(unix.Errno(n)), "errno %d", n)
	}
	// Past the table both sides fall back to the same words.
	assert.Equal(t, "Unknown error 4000", native.Strerror(4000), "C text beyond glibc's table")
	assert.Equal(t, native.Strerror(4000), gosrv.Strerror(unix.Errno(4000)), "errno 4000")
}
