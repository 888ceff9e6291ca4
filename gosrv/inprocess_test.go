//go:build linux

package gosrv_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/internal/proctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartEchoStop(t *testing.T) {
	for _, m := range gosrv.Models() {
		if m.Protocol == gosrv.Stream {
			continue // stream protocol: covered by the leak test's own client
		}
		t.Run(m.Name, func(t *testing.T) {
			proctest.SkipUnsupported(t, m.Name)
			s, err := gosrv.Start(m.Name)
			require.NoError(t, err, "Start")
			t.Cleanup(func() { s.Stop() })
			require.NotZero(t, s.Port(), "port")

			ex, err := proctest.Echo(s.Port(), "hello", false, 5*time.Second)
			require.NoError(t, err, "echo exchange")
			assert.Equal(t, "hello", ex.Reply, "echo reply")

			status, err := s.Stop()
			require.NoError(t, err, "Stop")
			assert.Equal(t, 0, status, "Serve status")
			assert.Equal(t, fmt.Sprintf("listening on 0.0.0.0:%d\n", s.Port()), string(s.Stderr()), "stderr")
			assert.Equal(t, proctest.NewConnLine(m.Name, ex.Local)+"recv_msg: hello\n", string(s.Stdout()), "stdout")
		})
	}
	_, err := gosrv.Start("no-such-model")
	assert.ErrorContains(t, err, "unknown model", "Start of an unknown model fails")
}

// TestNoLeaks starts and stops every Go model 200 times in this process and requires that no
// descriptor, thread, goroutine or child process is left. Every cycle connects once, except
// for fork: one in ten, as a clone of this -race process (its shadow memory makes the page
// tables large) costs up to 25 ms, and TestForkInProcess already runs 200 clients.
func TestNoLeaks(t *testing.T) {
	start := func(model string) (proctest.Server, error) { return gosrv.Start(model) }
	for _, m := range gosrv.Models() {
		t.Run(m.Name, func(t *testing.T) {
			proctest.SkipUnsupported(t, m.Name)
			connEvery := 1
			if m.Name == "fork" {
				connEvery = 10
			}
			proctest.Cycles(t, start, m.Name, 200, connEvery)
		})
	}
}

// TestForkInProcess runs the Go fork model in this process under load while os/exec keeps
// working beside it: each connection's child is a raw clone of this (-race) test process
// that runs fork_child.go's system calls and exits, and the parent reaps each by its pid
// through a pidfd. As many clients as the C test.
func TestForkInProcess(t *testing.T) {
	proctest.ForkLoad(t, func(model string) (proctest.Server, error) { return gosrv.Start(model) }, 200, 16)
}

// TestStartFailure makes OpenListener fail (no descriptor left for its socket) and requires
// that Start returns the line the Go side logged, and closes what it had opened.
func TestStartFailure(t *testing.T) {
	proctest.StartFailure(t, func(model string) (proctest.Server, error) { return gosrv.Start(model) })
}

func TestServeThreadEnds(t *testing.T) {
	proctest.ThreadEnds(t, func(model string) (proctest.Server, error) { return gosrv.Start(model) },
		func(s proctest.Server) int { return s.(*gosrv.Running).ServeTid() })
}
