//go:build linux && cgo

package native_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

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
	_, err := native.Start("no-such-model")
	assert.ErrorContains(t, err, "unknown model", "Start of an unknown model fails")
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
	for _, model := range native.Models() {
		if gosrv.Traits(model).Protocol == gosrv.Stream {
			continue // stream protocol: covered by the leak test's own client
		}
		t.Run(model, func(t *testing.T) {
			proctest.SkipUnsupported(t, model)
			s, err := native.Start(model)
			require.NoError(t, err, "Start")
			t.Cleanup(func() { s.Stop() })
			require.NotZero(t, s.Port(), "port")

			ex, err := proctest.Echo(s.Port(), "hello", false, 5*time.Second)
			require.NoError(t, err, "echo exchange")
			assert.Equal(t, "hello", ex.Reply, "echo reply")

			status, err := s.Stop()
			require.NoError(t, err, "Stop")
			assert.Equal(t, 0, status, "serve status")
			assert.Equal(t, fmt.Sprintf("listening on 0.0.0.0:%d\n", s.Port()), string(s.Stderr()), "stderr")
			assert.Equal(t, proctest.NewConnLine(model, ex.Local)+"recv_msg: hello\n", string(s.Stdout()), "stdout")
			assert.False(t, strings.Contains(string(s.Stderr()), "error"), "no error logged")
		})
	}
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
