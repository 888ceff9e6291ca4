//go:build linux

package gen

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A search that found the port's divergence reports it, whatever failed after it while
// it was shrunk; a divergence of the model's gives way to the port's.
func TestKeptDivergence(t *testing.T) {
	port := &Divergence{Kind: PortDiffers, Name: "port"}
	shrunk := &Divergence{Kind: PortDiffers, Name: "port, shrunk"}
	noise := &Divergence{Kind: ReferenceNoise, Name: "noise"}
	refFailed := &Divergence{Kind: ReferenceFailed, Name: "reference failed"}
	portFailed := &Divergence{Kind: PortFailed, Name: "port failed"}

	assert.Same(t, port, keptDivergence(nil, port))
	assert.Same(t, port, keptDivergence(port, noise), "the reference's noise does not replace the port's divergence")
	assert.Same(t, port, keptDivergence(port, refFailed))
	assert.Same(t, port, keptDivergence(port, portFailed), "nor another kind of the port's")
	assert.Same(t, shrunk, keptDivergence(port, shrunk), "the latest of the same kind: the shrunk one")
	assert.Same(t, port, keptDivergence(noise, port), "the port's divergence over the model's")
	assert.Same(t, portFailed, keptDivergence(refFailed, portFailed))
}
