//go:build linux && cgo

package native_test

import (
	"testing"

	"github.com/iomodels/iomodels/internal/proctest"
	"github.com/iomodels/iomodels/native"
)

// TestForkInProcess runs csrc/fork.c inside this Go process under load while os/exec keeps
// working beside it: the C child is a fork of a multithreaded process (only async-signal-
// safe calls, close_range, _exit) and the parent reaps each child by pid through a pidfd.
// After Stop no zombie and no descriptor may remain.
func TestForkInProcess(t *testing.T) {
	proctest.ForkLoad(t, func(model string) (proctest.Server, error) { return native.Start(model) }, 200, 16)
}
