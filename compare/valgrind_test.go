//go:build linux

package compare

// valgrind_test.go - the C server under valgrind's memcheck, against the Go server, on a
// subset of the signal cases: every error (an invalid read or write, a use of uninitialised
// memory, a definite leak at exit) is a report on stderr and exit status 99, which the
// comparison shows. Skipped where valgrind is not installed, and under IOMODELS_SANITIZE
// (valgrind cannot run an ASan binary). The sanitized build (make sanitize) covers every
// standalone test; valgrind, ten times slower, a few: a stop, a kill, one client mid-request.

import (
	"os/exec"
	"syscall"
	"testing"

	"github.com/iomodels/iomodels/compare/internal/enginetest"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/stretchr/testify/require"
)

// valgrindModels: uring and fork are left out (valgrind 3.19 knows neither io_uring_setup
// nor pidfd_open: "unhandled amd64-linux syscall: 434", and the model fails), and so are
// models whose C code is mostly what these run (epoll-et, select, nonblock).
var valgrindModels = []string{"iterative", "epoll-lt", "thread", "poll", "sigio"}

func TestValgrind(t *testing.T) {
	vg, err := exec.LookPath("valgrind")
	if err != nil {
		ciskip.Skipf(t, ciskip.Because, "valgrind is not installed (apt-get install valgrind; .ci/run does)")
	}
	if standalone.Sanitized() {
		ciskip.Skipf(t, ciskip.Because, "valgrind cannot run the sanitized C server (IOMODELS_SANITIZE=1)")
	}
	c, g := sides(t)
	wrapper := []string{vg, "-q", "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite",
		"--errors-for-leak-kinds=definite", "--child-silent-after-fork=yes"}
	var cases []sigCase
	for _, model := range valgrindModels {
		// A stop with a client mid-request (the exit path, every descriptor closed, the
		// leak check), and a kill while idle.
		cases = append(cases, sigCase{model: model, sig: syscall.SIGTERM, busy: true, wrapper: wrapper},
			sigCase{model: model, sig: syscall.SIGUSR1, wrapper: wrapper})
	}
	ref, got, errs := runPairs(c, g, cases, runSignalCase)
	for i, cs := range cases {
		t.Run(cs.name(), func(t *testing.T) {
			require.NoError(t, errs[i])
			require.NoError(t, checkSignalContract(cs, ref[i]), "the C server under valgrind:\n%s", ref[i].Brief())
			enginetest.RequireParity(t, cs.name(), ref[i], got[i], "C under valgrind", "Go")
		})
	}
}
