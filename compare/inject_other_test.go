//go:build linux && !amd64

package compare

import (
	"testing"

	"github.com/iomodels/iomodels/internal/ciskip"
)

// injectChecks: the injecting tracer reads x86-64 registers; elsewhere there is none.
func injectChecks(t *testing.T) []check { return nil }

func TestInject(t *testing.T) {
	ciskip.Skipf(t, ciskip.NotAmd64, "fault injection: the tracer (internal/inject) reads x86-64 registers; not on this architecture")
}
