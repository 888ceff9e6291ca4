//go:build linux

package main

import (
	"testing"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContract: -contract MODEL checks one server against the contract's expectations for
// MODEL: the Go port keeps iterative's; iterative's server is not epoll-lt (its "new conn"
// line has parentheses), so checked as epoll-lt it breaks the contract.
func TestContract(t *testing.T) {
	b := binaries(t)
	const subset = "^(plain|empty|nul-inside|reset-after-accept|sequential-5-lines)$"
	r := paritydiff(t, "-contract", "iterative", "-port", cmdline(b.Server(standalone.Go), "iterative"), "-run", subset, "-v")
	require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "ok   plain (", "each scenario's result with -v")
	assert.Contains(t, r.stdout, "contract of iterative: 5 scenarios checked: 5 kept, 0 broken; 0 without expectations not run\n")

	r = paritydiff(t, "-contract", "epoll-lt", "-port", cmdline(b.Server(standalone.Go), "iterative"), "-run", "^plain$")
	require.Equal(t, exitDiffers, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "FAIL plain (", "the broken scenario is named")
	assert.Contains(t, r.stdout, `stdout has "new conn 127.0.0.1:<a>\n" 0 times, want once`, "with the expectation it breaks")
	assert.Contains(t, r.stdout, "contract of epoll-lt: 1 scenarios checked: 0 kept, 1 broken;")

	for _, args := range [][]string{
		{"-contract", "no-such-model", "-port", cmdline(b.Server(standalone.Go), "iterative")},
		{"-contract", "iterative", "-ref", "x {port}", "-port", cmdline(b.Server(standalone.Go), "iterative")},
		{"-contract", "iterative", "-port-addr", "127.0.0.1:1"},
		{"-contract", "iterative", "-port", cmdline(b.Server(standalone.Go), "iterative"), "-run", "^nothing-matches$"},
	} {
		r := paritydiff(t, args...)
		assert.Equal(t, exitTrouble, r.code, "%q: stdout:\n%s\nstderr:\n%s", args, r.stdout, r.stderr)
	}
}
