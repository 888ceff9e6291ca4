//go:build linux && cgo

package native_test

import (
	"testing"

	"github.com/iomodels/iomodels/internal/proctest"
	"github.com/iomodels/iomodels/native"
)

// TestNoLeaks starts and stops every C model 200 times in this process and requires that no
// descriptor, thread, goroutine or child process is left. Every cycle connects once, except
// for fork: one in ten, as a fork of this -race process (its shadow memory makes the page
// tables large) costs up to 25 ms, and fork_test.go already runs 200 clients.
func TestNoLeaks(t *testing.T) {
	start := func(model string) (proctest.Server, error) { return native.Start(model) }
	for _, model := range native.Models() {
		t.Run(model, func(t *testing.T) {
			proctest.SkipUnsupported(t, model)
			connEvery := 1
			if model == "fork" {
				connEvery = 10
			}
			proctest.Cycles(t, start, model, 200, connEvery)
		})
	}
}
