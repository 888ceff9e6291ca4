package ciskip

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSkipf runs this test binary again, once per case, with and without CI: a skip for
// want of something fails under CI, an environmental one skips and is logged.
func TestSkipf(t *testing.T) {
	if c := os.Getenv("CISKIP_CASE"); c != "" {
		why := Because
		if c == "uring" {
			why = Uring
		}
		Skipf(t, why, "case %s", c)
		return
	}
	for _, tc := range []struct {
		name, c, ci string
		fails       bool
		logged      bool
	}{
		{"tool-missing-not-ci", "tool", "", false, false},
		{"tool-missing-ci", "tool", "1", true, false},
		{"uring-ci", "uring", "1", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "skips")
			cmd := exec.Command(os.Args[0], "-test.run=^TestSkipf$", "-test.v")
			cmd.Env = append(os.Environ(), "CISKIP_CASE="+tc.c, CIEnv+"="+tc.ci, LogEnv+"="+log)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.fails {
				t.Fatalf("failed: %v, want failed: %v\n%s", err, tc.fails, out)
			}
			if !tc.fails && !strings.Contains(string(out), "--- SKIP") {
				t.Fatalf("not skipped:\n%s", out)
			}
			b, _ := os.ReadFile(log)
			if got := strings.Contains(string(b), "TestSkipf: io_uring refused by the kernel (case uring)"); got != tc.logged {
				t.Fatalf("logged %q, want logged: %v", b, tc.logged)
			}
		})
	}
}
