//go:build linux

package parity_test

import (
	"os"
	"testing"
)

// TestMain runs the test binary as the examples' server when asked to (`echo-server
// PORT`), and the tests otherwise.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "echo-server" {
		echoServerMain(os.Args[2])
		return
	}
	os.Exit(m.Run())
}
