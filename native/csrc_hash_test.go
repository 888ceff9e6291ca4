//go:build linux && cgo

package native

import (
	"testing"

	"github.com/iomodels/iomodels/internal/csrchash"
)

// TestBuiltFromCsrc: this package was generated from the csrc/ of the checkout. The go
// build cache does not see csrc/ through #include: without this check, a change there
// would be tested against a cached build of the old C.
func TestBuiltFromCsrc(t *testing.T) {
	sum, err := csrchash.Sum("../csrc")
	if err != nil {
		t.Fatal(err)
	}
	if sum != CsrcHash() {
		t.Fatalf("csrc/ changed since native/csrc_hash.go was generated (sum %s, built from %s): run `go generate ./native` (make does)", sum, CsrcHash())
	}
}
