// Package ciskip is the one way a test of this repository skips. Under CI (IOMODELS_CI=1,
// which .ci/run sets) a skip fails the test instead, unless its reason is one of the
// environmental ones listed here (a kernel that refuses io_uring, a machine that is not
// amd64): a green CI then means every other test ran. The environmental skips are
// appended to the file IOMODELS_SKIP_LOG names, one a line, for .ci/run to print at the
// end.
package ciskip

import (
	"fmt"
	"os"
	"testing"
)

// Reason says why a test skips: Because for what the machine lacks and CI must provide
// (a tool, a limit, root), or one of the environmental reasons.
type Reason string

const (
	// Because is no environmental reason: under CI the skip is a failure.
	Because Reason = ""
	// Uring: the kernel refuses io_uring (ENOSYS on old kernels, EPERM under
	// kernel.io_uring_disabled or seccomp).
	Uring Reason = "io_uring refused by the kernel"
	// NotAmd64: the test reads x86-64 registers.
	NotAmd64 Reason = "not amd64"
)

// CIEnv, set to 1, turns skips without an environmental reason into failures.
const CIEnv = "IOMODELS_CI"

// LogEnv names the file the environmental skips are appended to.
const LogEnv = "IOMODELS_SKIP_LOG"

// CI says whether skips for want of something are failures (IOMODELS_CI=1).
func CI() bool { return os.Getenv(CIEnv) == "1" }

// Skipf skips t with the message, or under CI fails it when why is Because.
func Skipf(t testing.TB, why Reason, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if why == Because && CI() {
		t.Fatalf("would skip, and %s=1 forbids it (provide what the test needs): %s", CIEnv, msg)
	}
	if why != Because {
		record(t.Name(), why, msg)
	}
	t.Skip(msg)
}

// record appends an environmental skip to the log file, if one is named.
func record(test string, why Reason, msg string) {
	path := os.Getenv(LogEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ciskip: %s: %v\n", LogEnv, err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s: %s (%s)\n", test, why, msg)
}
