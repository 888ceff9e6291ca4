//go:build linux

package gosrv_test

import (
	"os"
	"strings"
	"testing"

	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/internal/proctest"
)

func TestStartEchoStop(t *testing.T) {
	quickRaceExit(t)
	var names []string
	for _, m := range gosrv.Models() {
		names = append(names, m.Name)
	}
	proctest.StartEchoStop(t, names, func(model string) (proctest.Server, error) { return gosrv.Start(model) })
}

// TestNoLeaks starts and stops every Go model 200 times in this process and requires that
// no descriptor, thread, goroutine or child process is left. Every cycle connects once,
// except for fork, where a connection execs this test binary as the child: one in ten.
func TestNoLeaks(t *testing.T) {
	quickRaceExit(t)
	start := func(model string) (proctest.Server, error) { return gosrv.Start(model) }
	for _, m := range gosrv.Models() {
		t.Run(m.Name, func(t *testing.T) {
			proctest.SkipUnsupported(t, m.Name)
			connEvery := 1
			if m.Name == "fork" {
				connEvery = 10 // 200 execs of a -race test binary take 4 s; 20 prove the same
			}
			proctest.Cycles(t, start, m.Name, 200, connEvery)
		})
	}
}

// quickRaceExit makes the fork model's children, which are this test binary run again,
// exit at once when it is built with -race: the race runtime otherwise sleeps 1 s at exit
// (GORACE atexit_sleep_ms, default 1000) so that other threads can report. The child only
// reads GORACE when it starts, so setting it here changes nothing in this process.
func quickRaceExit(t *testing.T) {
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// TestForkInProcess runs the Go fork model in this process under load while os/exec keeps
// working beside it. Each connection's child is this test binary run again with
// IOm.NameS_FORK_CHILD=1, which gosrv's init serves before the tests' main starts; 100
// clients (200 take 3.4 s of -race execs on 2 cores) prove the same as the C test's 200.
func TestForkInProcess(t *testing.T) {
	quickRaceExit(t)
	proctest.ForkLoad(t, func(model string) (proctest.Server, error) { return gosrv.Start(model) }, 100, 16)
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
