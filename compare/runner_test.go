//go:build linux

package compare

// runner_test.go - the one runner: every scenario x every model x {C, Go}, each against a
// fresh server, subtests named MODEL/SCENARIO (libevent's regression suite per backend,
// nettest.TestConn's shape). The C reference runs twice, and a scenario whose reference
// disagrees with itself fails as "reference is not deterministic": noise is found, never
// retried away.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/enginetest"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/iomodels/iomodels/internal/csrchash"
	"github.com/iomodels/iomodels/internal/procfs"
	"github.com/iomodels/iomodels/native"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	cInProcess = engine.Impl{Name: "C", Start: func(model string) (engine.Target, error) {
		s, err := native.Start(model)
		if err != nil {
			return nil, err
		}
		return inProcess{Server: s}, nil
	}}
	goInProcess = engine.Impl{Name: "Go", Start: func(model string) (engine.Target, error) {
		s, err := gosrv.Start(model)
		if err != nil {
			return nil, err
		}
		return inProcess{Server: s}, nil
	}}
)

// models is the table of models: the C reference's, which the Go side must match.
func models(t *testing.T) []string {
	t.Helper()
	c := native.Models()
	var g []string
	for _, m := range gosrv.Models() {
		g = append(g, m.Name)
	}
	require.Equal(t, c, g, "the Go port must have the C reference's models, in the same order")
	require.NotEmpty(t, c, "no models")
	return c
}

// availableModels is models without those this kernel cannot run (unavailable): the
// checks that need a running server iterate over it; TestStandalone checks how the servers
// say that a model is unavailable.
func availableModels(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, model := range models(t) {
		if unavailable(model) == "" {
			out = append(out, model)
		}
	}
	return out
}

// unavailable is "" where the kernel has what model needs, else the line both servers
// print when they cannot start it: io_uring_setup fails with ENOSYS on old kernels and
// with EPERM under kernel.io_uring_disabled or seccomp.
func unavailable(model string) string {
	if !gosrv.Traits(model).NeedsUring {
		return ""
	}
	return gosrv.UringUnavailable()
}

// TestParity is the suite: C in process (native) against Go in process (gosrv).
func TestParity(t *testing.T) {
	for _, model := range models(t) {
		t.Run(model, func(t *testing.T) {
			if reason := unavailable(model); reason != "" {
				ciskip.Skipf(t, ciskip.Uring, "%s unavailable: %s", model, reason) // TestStandalone checks how the servers say it
			}
			for _, sc := range scenarios {
				if !sc.AppliesTo(model) || sc.Process {
					continue // process-level scenarios need a process: TestStandalone
				}
				t.Run(sc.Name, func(t *testing.T) {
					base := takeBaseline()
					enginetest.Compare(t, sc, model, cInProcess, goInProcess)
					base.check(t)
				})
			}
		})
	}
}

// requireTable: a table of at least min rows (the suite's promise), no name twice.
func requireTable[R any](t *testing.T, what string, rows []R, min int, name func(R) string) {
	t.Helper()
	require.GreaterOrEqual(t, len(rows), min, "the suite promises at least %d %s", min, what)
	seen := map[string]bool{}
	for _, r := range rows {
		require.False(t, seen[name(r)], "%s: %q twice", what, name(r))
		seen[name(r)] = true
	}
}

func TestScenarioTable(t *testing.T) {
	requireTable(t, "scenarios", scenarios, 30, func(sc engine.Scenario) string { return sc.Name })
	for _, sc := range scenarios {
		n := 0
		for _, m := range models(t) {
			if sc.AppliesTo(m) {
				n++
			}
		}
		assert.Positive(t, n, "scenario %q applies to no model", sc.Name)
	}
	for _, m := range models(t) {
		n := 0
		for _, sc := range scenarios {
			if sc.AppliesTo(m) {
				n++
			}
		}
		assert.GreaterOrEqual(t, n, 15, "model %s has only %d scenarios", m, n)
	}
}

// ---- what every scenario must leave behind: nothing ----

type baseline struct {
	fds        int
	goroutines int
}

func takeBaseline() baseline {
	return baseline{fds: procfs.Fds(os.Getpid()), goroutines: runtime.NumGoroutine()}
}

// check waits (bounded) for descriptors and goroutines to come back to the baseline and
// for no child of this process to be left, running or a zombie.
func (b baseline) check(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var fds, gs int
	var kids []string
	ok := engine.WaitFor(deadline, func() bool {
		fds, gs, kids = procfs.Fds(os.Getpid()), runtime.NumGoroutine(), children(os.Getpid())
		return fds <= b.fds && gs <= b.goroutines && len(kids) == 0
	})
	if !ok {
		assert.LessOrEqual(t, fds, b.fds, "descriptors leaked: %d open after the scenario, %d before", fds, b.fds)
		assert.LessOrEqual(t, gs, b.goroutines, "goroutines leaked: %d after the scenario, %d before", gs, b.goroutines)
		assert.Empty(t, kids, "children of the test process left behind (pid state)")
	}
}

// children lists the processes whose parent is pid, as "PID STATE" (Z for a zombie).
func children(pid int) []string {
	kids, err := procfs.Children(pid)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, k := range kids {
		out = append(out, strconv.Itoa(k.Pid)+" "+k.State)
	}
	return out
}

func TestMain(m *testing.M) {
	// The runtime's network poller opens its descriptors on first use; make that happen
	// before any baseline is taken.
	if l, err := net.Listen("tcp4", "127.0.0.1:0"); err == nil {
		if c, err := net.Dial("tcp4", l.Addr().String()); err == nil {
			c.Close()
		}
		l.Close()
	}
	if standalone.Sanitized() {
		standalone.SetSanitizerOptions()
	}
	// The in-process C servers are native/'s build of csrc/, which the go build cache does
	// not key on: a stale one would be compared as if it were the C of the checkout.
	if sum, err := csrchash.Sum(filepath.Join(standalone.RepoRoot(), "csrc")); err != nil || sum != native.CsrcHash() {
		fmt.Fprintf(os.Stderr, "native/ was not generated from this csrc/ (%v): run `go generate ./native` (make does)\n", err)
		os.Exit(1)
	}
	code := m.Run()
	standalone.RemoveShared()
	os.Exit(code)
}
