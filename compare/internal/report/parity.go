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

// Probes are the parity column's scenarios: one client of the one-shot protocol (connect,
// send, half-close, read to the end) with each message, and 20 clients at once. They are a
// smoke test for the table; the differential suite proper is `go test ./compare`.
func Probes() []parity.Scenario {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i + 1) // 1..255 then 0: the log line shows 255 bytes, the echo all
	}
	one := func(name string, msg []byte) parity.Scenario {
		return parity.Scenario{Name: name, Steps: func(string) []parity.Step { return parity.Client("a", msg) }}
	}
	return []parity.Scenario{
		one("plain", []byte("www.zfl9.com")),
		one("empty", nil),
		one("512 bytes", pattern(512)),
		one("513 bytes", pattern(513)),
		one("NUL inside", []byte("before\x00after")),
		one("UTF-8", []byte("你好，世界 — ünïcödé")),
		one("binary", binary),
		concurrent(20),
	}
}

// concurrent is n clients at once: all connect, then each sends its message, then each
// half-closes, then each is read to its end. The server's log lines are compared as a
// set (UnorderedLog): in which order the clients are served is the scheduler's choice.
func concurrent(n int) parity.Scenario {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("c%02d", i)
	}
	each := func(step func(name string) parity.Step) []parity.Step {
		steps := make([]parity.Step, n)
		for i, name := range names {
			steps[i] = step(name)
		}
		return steps
	}
	return parity.Scenario{
		Name:         fmt.Sprintf("%d concurrent", n),
		UnorderedLog: true,
		Steps: func(string) []parity.Step {
			return parity.Seq(
				each(parity.Connect),
				each(func(name string) parity.Step {
					return parity.Send(name, []byte(fmt.Sprintf("client %s of %d", name[1:], n)))
				}),
				each(parity.HalfClose),
				each(parity.AwaitEnd),
			)
		},
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// Probed is impl's server of model for the probes: the engine's Command, which keeps
// its stdout and stderr for the comparison.
func Probed(bins load.Binaries, model string, impl standalone.Impl) parity.Impl {
	return parity.Command(implName(impl), bins.Argv(model, impl))
}

// Parity runs every probe through the engine's differential (parity.Differential): a fresh
// reference server twice, a fresh port once. It returns how many probes were equal and,
// for the others, a line saying what differed: the engine's diff, a reference that
// disagreed with itself (the probe then depends on timing, and the port is not judged by
// it), or a run that failed.
func Parity(model string, ref, port parity.Impl) (equal, total int, diffs []string) {
	for _, sc := range Probes() {
		total++
		o, err := parity.Differential(sc, model, ref, port)
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
