//go:build linux

package gosrv_test

import (
	"testing"

	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/internal/proctest"
)

func TestStartEchoStop(t *testing.T) {
	var names []string
	for _, m := range gosrv.Models() {
		names = append(names, m.Name)
	}
	proctest.StartEchoStop(t, names, func(model string) (proctest.Server, error) { return gosrv.Start(model) })
}

// TestNoLeaks starts and stops every Go model 200 times in this process and requires that no
// descriptor, thread, goroutine or child process is left. Every cycle connects once, except
// for fork: one in ten, as native's test does, and TestForkInProcess runs 200 clients.
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
// working beside it: each connection's child is a fork of this (-race) test process that
// runs fork_child.go's system calls and exits, and the parent reaps each by its pid
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
