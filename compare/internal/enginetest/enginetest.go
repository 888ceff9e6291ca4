//go:build linux

// Package enginetest holds the engine's entry points for go test that this repository's
// suite uses (testify's require and assert, a scenario's contract check), so that the
// engine itself, and compare/parity above it, import no test framework.
package enginetest

import (
	"testing"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Compare runs engine.Differential and fails t on any difference, showing both transcripts
// in brief; a reference that disagrees with itself fails as "reference is not
// deterministic": noise is found, never retried away.
func Compare(t *testing.T, sc engine.Scenario, model string, ref, port engine.Impl) {
	t.Helper()
	o, err := engine.Differential(sc, model, ref, port)
	require.NoError(t, err)
	if o.Noise != "" {
		require.Failf(t, "reference is not deterministic", "%s/%s: the reference disagrees with itself:\n%s\nrun 1:\n%s\nrun 2:\n%s",
			model, sc.Name, o.Noise, o.Ref.Brief(), o.Ref2.Brief())
	}
	assert.NoError(t, o.Contract, "the reference breaks its contract in %s/%s:\n%s", model, sc.Name, o.Ref.Brief())
	if o.Diff != "" {
		require.Failf(t, "not at parity", "%s/%s:\n%s\n%s:\n%s\n%s:\n%s", model, sc.Name, o.Diff, ref.Name, o.Ref.Brief(), port.Name, o.Port.Brief())
	}
}

// Test runs every scenario that applies to model as a subtest, against fresh servers of
// ref (twice) and port.
func Test(t *testing.T, ref, port engine.Impl, model string, scenarios ...engine.Scenario) {
	for _, sc := range scenarios {
		if !sc.AppliesTo(model) {
			continue
		}
		t.Run(sc.Name, func(t *testing.T) { Compare(t, sc, model, ref, port) })
	}
}

// RequireParity fails t unless ref and got agree, with what was compared, the first
// differences, and both transcripts in brief.
func RequireParity(t *testing.T, what string, ref, got *engine.Transcript, refName, gotName string) {
	t.Helper()
	if d := engine.Diff(ref, got, refName, gotName); d != "" {
		require.Failf(t, "not at parity", "%s:\n%s\n%s:\n%s\n%s:\n%s", what, d, refName, ref.Brief(), gotName, got.Brief())
	}
}
