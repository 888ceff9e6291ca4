//go:build linux && cgo

package native_test

import (
	"testing"

	"github.com/iomodels/iomodels/internal/proctest"
	"github.com/iomodels/iomodels/native"
)

// TestNoLeaks starts and stops every C model 200 times in this process, one connection per
// cycle, and requires that no descriptor, thread, goroutine or child process is left.
func TestNoLeaks(t *testing.T) {
	start := func(model string) (proctest.Server, error) { return native.Start(model) }
	for _, model := range native.Models() {
		t.Run(model, func(t *testing.T) {
			proctest.Cycles(t, start, model, 200, 1)
		})
	}
}
