//go:build linux

// Package paritytest is compare/parity for go test, as net/http/httptest is to net/http:
//
//	func TestPort(t *testing.T) {
//		paritytest.Test(t, parity.Command("./server-c", "{port}"),
//			parity.Command("./server-go", "{port}"), parity.Builtin(parity.OneShot))
//	}
package paritytest

import (
	"testing"

	"github.com/iomodels/iomodels/compare/parity"
)

// Test runs [parity.Test] and reports each scenario that differs, is noise or fails as an
// error of t. It does not stop t: every scenario runs.
func Test(t testing.TB, reference, candidate parity.Target, scenarios []parity.Scenario, opts ...parity.Option) {
	t.Helper()
	err := parity.Test(reference, candidate, scenarios, opts...)
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			t.Error(e)
		}
	} else if err != nil {
		t.Error(err)
	}
}
