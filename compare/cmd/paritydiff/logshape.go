//go:build linux

package main

// logshape.go - how the reference logs, seen by one probe run before the scenarios: the
// lines it writes before any client (the built-in scenarios count this repository's one
// "listening on" line on stderr), and whether its stdout comes as it is written or only
// at its exit (C stdio, block-buffered into a pipe).

import (
	"fmt"
	"strings"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/compare/parity"
)

// logShape is what probeLogs saw.
type logShape struct {
	probed bool
	// outStart, errStart: lines on stdout and stderr before any client, once the logs
	// were quiet (Options.Quiet) after the server listened.
	outStart, errStart int
	// listening: the first stderr line is "listening on 0.0.0.0:PORT".
	listening bool
	// beforeStop, atExit: the bytes of stdout after one client was served and the logs
	// were quiet, and once the server exited.
	beforeStop, atExit int
}

// probeLogs runs one client against a fresh reference: a message, a half-close, its end.
func probeLogs(ref engine.Impl) (logShape, error) {
	var ls logShape
	quiet := max(ref.Quiet, 50*time.Millisecond)
	settle := func(r *engine.Run) {
		t := r.Target()
		last, since := -1, time.Now()
		engine.WaitFor(r.Deadline(), func() bool {
			if size := len(t.Stdout()) + len(t.Stderr()); size != last {
				last, since = size, time.Now()
			}
			return time.Since(since) >= quiet
		})
	}
	sc := engine.Scenario{Name: "log-probe", Steps: func(string) []engine.Step {
		return []engine.Step{
			{Desc: "note the lines written before any client", Do: func(r *engine.Run) error {
				settle(r)
				out, errs := r.Target().Stdout(), string(r.Target().Stderr())
				ls.outStart, ls.errStart = engine.CountLines(out), engine.CountLines([]byte(errs))
				first, _, _ := strings.Cut(errs, "\n")
				_, ls.listening = standalone.ParseListening(first)
				return nil
			}},
			engine.Connect("p"), engine.Send("p", []byte(probeMsg)), engine.HalfClose("p"), engine.AwaitEnd("p"),
			{Desc: "note stdout before the stop", Do: func(r *engine.Run) error {
				settle(r)
				ls.beforeStop = len(r.Target().Stdout())
				return nil
			}},
		}
	}}
	im := ref
	im.LogWait = 0
	tr, err := engine.RunOnce(sc, "", im)
	if err != nil {
		return ls, err
	}
	ls.probed = true
	ls.atExit = len(tr.Stdout)
	return ls, nil
}

// blockBuffered: the reference's stdout was empty after a client was served and came
// only when the server exited.
func (ls logShape) blockBuffered() bool { return ls.probed && ls.beforeStop == 0 && ls.atExit > 0 }

// likeThisRepository: the reference starts as this repository's servers do, which
// the built-in scenarios' log counts and -gen's predictions assume.
func (ls logShape) likeThisRepository() bool {
	return !ls.probed || (ls.listening && ls.errStart == 1 && ls.outStart == 0 && !ls.blockBuffered())
}

func (ls logShape) startDesc() string {
	return fmt.Sprintf("before any client it writes %d line(s) on stderr (\"listening on\": %v) and %d on stdout; stdout block-buffered: %v",
		ls.errStart, ls.listening, ls.outStart, ls.blockBuffered())
}

// notes say what the probe found that changes the run.
func (ls logShape) notes(linebuf bool) []string {
	var notes []string
	if ls.probed && (ls.errStart != 1 || ls.outStart != 0) {
		notes = append(notes, fmt.Sprintf("the reference writes %d line(s) on stderr and %d on stdout before any client (this repository's servers: 1 and 0): the built-in scenarios' await-stderr and await-stdout counts are shifted by %+d and %+d",
			ls.errStart, ls.outStart, ls.errStart-1, ls.outStart))
	}
	if ls.blockBuffered() {
		msg := "the reference's stdout arrives only at its exit (none after a client was served, %d bytes once it exited): C stdio block-buffers a pipe. Scenarios that wait for its stdout are not applicable, and lines of stdout and stderr are not interleaved as written. "
		if linebuf {
			msg += "-linebuf did not reach it: stdbuf preloads into dynamically linked programs that use C stdio only (a static binary, or one that calls setvbuf itself, stays buffered)"
		} else {
			msg += "Give -linebuf to run it line-buffered (stdbuf -oL -eL)"
		}
		notes = append(notes, fmt.Sprintf(msg, ls.atExit))
	}
	return notes
}

// adapt shifts a built-in scenario's log counts by the lines the reference writes before
// any client beyond this repository's servers' (one "listening on" line on stderr); a
// count that comes to 0 or less is no wait at all. Scenario files are left as written.
func (ls logShape) adapt(f parity.Scenario) parity.Scenario {
	if !ls.probed || !strings.HasPrefix(f.Source, "builtin/") || (ls.errStart == 1 && ls.outStart == 0) {
		return f
	}
	steps := make([]parity.Step, 0, len(f.Steps))
	for _, st := range f.Steps {
		switch st.Op {
		case parity.AwaitStderr:
			st.N += ls.errStart - 1
		case parity.AwaitStdout:
			st.N += ls.outStart
		}
		if (st.Op == parity.AwaitStderr || st.Op == parity.AwaitStdout) && st.N <= 0 {
			continue
		}
		steps = append(steps, st)
	}
	f.Steps = steps
	return f
}
