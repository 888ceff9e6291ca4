//go:build linux

// parity.go - the parity column: eight probes, written as the differential engine's
// scenarios (compare/parity), run against each model's standalone binaries.

package report

import (
	"fmt"
	"strings"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/compare/parity"
)

// probeNames are the parity column's probes: built-in scenario files of the engine
// (compare/parity/scenarios), each the seed's client (connect, send, half-close, read to
// the end) with one kind of message, and ten clients at once. They apply to both protocols.
// They are a smoke test for the table; the differential suite proper is `go test ./compare`,
// and `paritydiff` runs every built-in file.
var probeNames = []string{"plain", "empty", "size-512", "size-513", "nul-inside", "utf8", "binary-256", "concurrent-10"}

// Probes are the scenarios probeNames name, from parity.Builtin: one list of probes in the
// repository.
func Probes() []parity.Scenario {
	files := map[string]parity.Scenario{}
	for _, f := range parity.Builtin("") {
		files[f.Name] = f
	}
	out := make([]parity.Scenario, len(probeNames))
	for i, name := range probeNames {
		f, ok := files[name]
		if !ok {
			panic("report: no built-in scenario " + name) // TestParityColumn fails on it
		}
		out[i] = f
	}
	return out
}

// Probed is impl's server of model for the probes: a parity.Command, which keeps its
// stdout and stderr for the comparison.
func Probed(bins load.Binaries, model string, impl standalone.Impl) parity.Target {
	return parity.Command(bins.Argv(model, impl)...)
}

// Parity runs every probe through parity.Differential: a fresh reference server twice, a
// fresh port once. It returns how many probes were equal and,
// for the others, a line saying what differed: the engine's diff, a reference that
// disagreed with itself (the probe then depends on timing, and the port is not judged by
// it), or a run that failed.
func Parity(ref, port parity.Target) (equal, total int, diffs []string) {
	for _, sc := range Probes() {
		total++
		o, err := parity.Differential(sc, ref, port)
		switch {
		case err != nil:
			diffs = append(diffs, fmt.Sprintf("%s: %v", sc.Name, err))
		case o.Noise != "":
			diffs = append(diffs, fmt.Sprintf("%s: not judged, the reference disagrees with itself: %s", sc.Name, oneLine(o.Noise)))
		case o.Diff != "":
			diffs = append(diffs, fmt.Sprintf("%s: %s", sc.Name, oneLine(o.Diff)))
		default:
			equal++
		}
	}
	return equal, total, diffs
}

// oneLine puts the engine's account of a difference (a line per difference, indented
// details) on one line for the table's notes.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n  ", " | ")
	return strings.ReplaceAll(s, "\n", "; ")
}
