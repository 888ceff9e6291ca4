//go:build linux

package compare

// generated_test.go - scenarios nobody wrote: scripts drawn and shrunk by compare/gen
// (pgregory.net/rapid and a model of the servers that admits only steps whose outcome is
// determined), run against every model in process, C twice and Go once, as TestParity
// does. The package comment of compare/gen says what a script is and which rules keep it
// deterministic.
//
// A divergence is printed as a scenario to paste into the table
// (compare/internal/contract, where genScript is a scenario's steps) and saved as MODEL-latest.json in the directory -gen-save names, or
// else in a new temporary directory, whose path the failure prints: a test run never
// writes into the checkout. The files under compare/testdata/generated are replayed
// first by plain `go test`: only those someone committed there. rapid writes no fail
// files (the saved script, with its seed, replays the case).
//
// Budget: `go test ./compare` runs genChecks scripts per model (a few seconds each model);
// `make fuzz` passes -rapid.checks for minutes of it.

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/gen"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/stretchr/testify/require"
)

// genChecks is how many scripts each model gets from `go test` (-rapid.checks, or
// RAPID_CHECKS, sets it when given; -short a fifth): about a second a model with -race on
// 2 cores, but fork, whose Go port starts a process (the test binary itself) per
// connection, gets genForkChecks (a tenth of -rapid.checks when given, at least
// genForkMin).
const (
	genChecks     = 30
	genForkChecks = 2
	// genForkMin: `make fuzz` gives fork no fewer scripts than this.
	genForkMin = 200
)

const genDir = "testdata/generated"

var genSave = flag.String("gen-save", "", "TestGenerated: the directory a divergence's script is saved in (default: a new temporary directory)")

// genTimeoutMargin is the time kept before go test's -timeout for the shrinking of a
// divergence (rapid's -rapid.shrinktime, 30 s, and gen's own pass, as long again) and the
// report.
const genTimeoutMargin = 90 * time.Second

// genChecksFor is how many scripts model gets: genChecks, or what -rapid.checks or
// RAPID_CHECKS says; fork a tenth of that but at least genForkMin (or all of it, when
// fewer are asked), genForkChecks by default; -short a fifth.
// (gen.Search restores rapid's flags after each call, so the user's value is read here.)
func genChecksFor(model string) int {
	n, user := genChecks, os.Getenv("RAPID_CHECKS") != ""
	flag.Visit(func(f *flag.Flag) { user = user || f.Name == "rapid.checks" })
	if user {
		n, _ = strconv.Atoi(flag.Lookup("rapid.checks").Value.String())
	}
	return genChecksOf(model, n, user, testing.Short())
}

// genChecksOf is genChecksFor's rule, given the checks asked for (n) and whether the
// user asked.
func genChecksOf(model string, n int, user, short bool) int {
	if model == "fork" {
		if user {
			n = max(1, n/10, min(n, genForkMin))
		} else {
			n = genForkChecks
		}
	}
	if short {
		n = max(1, n/5)
	}
	return n
}

// TestFuzzBudget: `make fuzz` (-rapid.checks=2000, the Makefile's CHECKS) gives every
// model at least 200 scripts, fork included.
func TestFuzzBudget(t *testing.T) {
	for _, model := range models(t) {
		require.GreaterOrEqual(t, genChecksOf(model, 2000, true, false), 200, "%s under make fuzz", model)
		require.GreaterOrEqual(t, genChecksOf(model, 500, true, false), 200, "%s with CHECKS=500", model)
	}
}

// TestGenerated replays the saved divergences, then generates scripts for every model.
func TestGenerated(t *testing.T) {
	saved, _ := filepath.Glob(filepath.Join(genDir, "*.json"))
	sort.Strings(saved)
	for _, path := range saved {
		t.Run("replay/"+filepath.Base(path), func(t *testing.T) {
			s, err := gen.Load(path)
			require.NoError(t, err)
			if reason := unavailable(s.Model); reason != "" {
				ciskip.Skipf(t, ciskip.Uring, "%s unavailable: %s", s.Model, reason)
			}
			cfg, err := s.Config()
			require.NoError(t, err, path)
			base := takeBaseline()
			d, err := gen.Replay(cfg, s.Ops, cInProcess, goInProcess)
			if d != nil {
				t.Fatalf("%s: %s", path, d.Found)
			}
			require.NoError(t, err, path)
			base.check(t)
		})
	}
	for _, model := range models(t) {
		t.Run(model, func(t *testing.T) {
			if reason := unavailable(model); reason != "" {
				ciskip.Skipf(t, ciskip.Uring, "%s unavailable: %s", model, reason)
			}
			cfg, err := gen.ForModel(model)
			require.NoError(t, err)
			cfg.Checks, cfg.Logf = genChecksFor(model), t.Logf // no Name: rapid writes no fail files
			if deadline, ok := t.Deadline(); ok {
				// No script starts too late to be shrunk before go test's -timeout (as
				// rapid.Check(t, ...) would see to itself: gen's rapid.TB is not a *testing.T).
				cfg.Budget = max(time.Until(deadline)-genTimeoutMargin, gen.DefaultDeadline)
			}
			base := takeBaseline()
			d, _, err := gen.Search(cfg, cInProcess, goInProcess)
			if d != nil {
				s := d.Saved()
				s.Scenario = genRow(model, d)
				path, err := saveGenerated(model, s)
				if err != nil {
					t.Logf("saving the script: %v", err)
				}
				t.Fatalf("%s\nthe script (shrunk):\n%s\nsaved as %s; as a scenario:\n%s", d.Found, d.Script, path, s.Scenario)
			}
			require.NoError(t, err)
			base.check(t)
		})
	}
}

// saveGenerated writes a divergence's script as MODEL-latest.json into -gen-save's
// directory, or a new temporary one, and returns its path.
func saveGenerated(model string, s gen.Saved) (string, error) {
	dir := *genSave
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "iomodels-generated-"); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, model+"-latest.json")
	return path, s.Write(path)
}

// genRow is d's script as a row of the scenario table.
func genRow(model string, d *gen.Divergence) string {
	return fmt.Sprintf("{\n\t// Generated by TestGenerated and shrunk by rapid: %s.\n\tName:   %q,\n\tModels: only(%q),\n\tSteps: %s.steps,\n},\n",
		d.Kind, d.Name, model, d.Ops.GoLiteral("genScript", 1))
}

// TestGeneratedSavedOutsideCheckout: without -gen-save, a divergence's script goes to a
// temporary directory, never into the checkout, where the next go test would replay it.
func TestGeneratedSavedOutsideCheckout(t *testing.T) {
	defer func(dir string) { *genSave = dir }(*genSave)
	*genSave = ""
	path, err := saveGenerated("iterative", gen.Saved{Model: "iterative", Ops: gen.Script{{Op: "connect", Conn: "a"}}})
	require.NoError(t, err)
	defer os.RemoveAll(filepath.Dir(path))
	root, err := filepath.Abs(standalone.RepoRoot())
	require.NoError(t, err)
	rel, err := filepath.Rel(root, path)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(rel, ".."+string(filepath.Separator)), "saved inside the checkout: %s", path)
	_, err = gen.Load(path)
	require.NoError(t, err, "the saved script loads")
}
