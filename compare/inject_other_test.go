//go:build linux && !amd64

package compare

import "testing"

// injectChecks: the injecting tracer reads x86-64 registers; elsewhere there is none.
func injectChecks(t *testing.T) []check { return nil }

func TestInject(t *testing.T) {
	t.Skip("fault injection: the tracer (internal/inject) reads x86-64 registers; not on this architecture")
}
