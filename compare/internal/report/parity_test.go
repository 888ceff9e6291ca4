//go:build linux

package report

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/ciskip"
)

func TestOneLine(t *testing.T) {
	in := "bytes received on a differs at byte 3:\n  C: 5 bytes\n  Go: 4 bytes\nstatus: C exited 0, Go exited 1"
	want := "bytes received on a differs at byte 3: | C: 5 bytes | Go: 4 bytes; status: C exited 0, Go exited 1"
	if got := oneLine(in); got != want {
		t.Errorf("oneLine:\n got %q\nwant %q", got, want)
	}
}

// TestParityColumn runs the probes as the report does: C and Go of one model agree on
// all of them, and two models that answer alike but log differently (iterative and
// epoll-et, which logs each peer's end) do not.
func TestParityColumn(t *testing.T) {
	if testing.Short() {
		ciskip.Skipf(t, ciskip.Because, "-short: builds the servers and runs 48 of them")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins, err := load.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	equal, total, diffs := Parity(Probed(bins, "iterative", standalone.C), Probed(bins, "iterative", standalone.Go))
	if total != len(Probes()) || equal != total {
		t.Errorf("iterative, C against Go: %d/%d equal: %s", equal, total, strings.Join(diffs, "\n"))
	}
	ref, other := Probed(bins, "iterative", standalone.C), Probed(bins, "epoll-et", standalone.C)
	equal, total, diffs = Parity(ref, other)
	if equal == total {
		t.Errorf("iterative against epoll-et: %d/%d equal, want a difference", equal, total)
	}
	for _, d := range diffs {
		t.Logf("iterative against epoll-et: %s", d)
	}
}
