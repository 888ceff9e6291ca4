//go:build linux && cgo

package native_test

import (
	"testing"

	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/internal/proctest"
	"github.com/iomodels/iomodels/native"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModelsTable(t *testing.T) {
	names := native.Models()
	require.GreaterOrEqual(t, len(names), 4, "csrc/models.c lists at least the four seed models")
	assert.Equal(t, []string{"iterative", "fork", "epoll-lt", "epoll-et"}, names[:4], "CONTRACT.md § Models order")
	for _, n := range names {
		assert.NotEmpty(t, native.IOModel(n), "model %s has an I/O-model description", n)
	}
	assert.Empty(t, native.IOModel("no-such-model"), "unknown model has no description")
}

// TestTableMatchesGo requires csrc/models.c and gosrv/models.go to be one table: the same
// models in the same order, with the same I/O model and the same traits.
func TestTableMatchesGo(t *testing.T) {
	var goRows []native.Model
	for _, m := range gosrv.Models() {
		goRows = append(goRows, native.Model{Name: m.Name, IOModel: m.IOModel,
			Stream: m.Protocol == gosrv.Stream, Parens: m.ConnLog == gosrv.ConnParens,
			Multiplexes: m.Multiplexes, NeedsUring: m.NeedsUring})
	}
	assert.Equal(t, native.Table(), goRows, "csrc/models.c and gosrv/models.go differ")
}

// TestStartEchoStop runs one echo through every one-shot model and checks both logs.
func TestStartEchoStop(t *testing.T) {
	proctest.StartEchoStop(t, native.Models(), func(model string) (proctest.Server, error) { return native.Start(model) })
}

// TestStartFailure makes open_listener fail (no descriptor left for its socket) and requires
// that Start returns the line the C side logged, and closes what it had opened.
func TestStartFailure(t *testing.T) {
	proctest.StartFailure(t, func(model string) (proctest.Server, error) { return native.Start(model) })
}

func TestServeThreadEnds(t *testing.T) {
	proctest.ThreadEnds(t, func(model string) (proctest.Server, error) { return native.Start(model) },
		func(s proctest.Server) int { return s.(*native.Server).ServeTid() })
}
