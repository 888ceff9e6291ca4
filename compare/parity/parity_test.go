//go:build linux

package parity_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/parity"
)

func echoTarget(reply func([]byte) []byte) parity.Target {
	return parity.InProcess(func() (parity.Server, error) { return startEcho(reply) })
}

func client(name, msg string) []parity.Step {
	return []parity.Step{
		{Op: parity.Connect, Conn: name},
		{Op: parity.Send, Conn: name, Data: [][]byte{[]byte(msg)}},
		{Op: parity.HalfClose, Conn: name},
		{Op: parity.AwaitEnd, Conn: name},
	}
}

// Test's error names every scenario that differs, in order, and only those.
func TestTestReportsEveryDifference(t *testing.T) {
	lower := parity.Scenario{Name: "lower", Steps: client("a", "abc")}
	digits := parity.Scenario{Name: "digits", Steps: client("a", "123")}
	more := parity.Scenario{Name: "more", Steps: client("b", "xyz")}
	err := parity.Test(echoTarget(nil), echoTarget(bytes.ToUpper), []parity.Scenario{lower, digits, more})
	if err == nil {
		t.Fatal("an upper-case candidate is at parity with an echo")
	}
	var j interface{ Unwrap() []error }
	if !errors.As(err, &j) || len(j.Unwrap()) != 2 {
		t.Fatalf("want two differences (lower, more), got: %v", err)
	}
	for i, name := range []string{"lower", "more"} {
		e := j.Unwrap()[i].Error()
		if !strings.HasPrefix(e, "scenario "+name+": not at parity:\nbytes received on ") {
			t.Errorf("difference %d: %q, want it to begin with scenario %s's", i, e, name)
		}
		if !strings.Contains(e, "\nreference:\n") || !strings.Contains(e, "\ncandidate:\n") {
			t.Errorf("difference %d shows no transcripts: %q", i, e)
		}
	}
	if err := parity.Test(echoTarget(nil), echoTarget(nil), []parity.Scenario{lower, digits, more}); err != nil {
		t.Errorf("an echo against itself: %v", err)
	}
}

// A reference that disagrees with itself is an error, and the candidate is not run.
func TestTestReportsNoise(t *testing.T) {
	dice := func([]byte) []byte { return []byte(fmt.Sprint(rand.Uint64())) }
	ran := false
	cand := parity.InProcess(func() (parity.Server, error) { ran = true; return startEcho(nil) })
	err := parity.Test(echoTarget(dice), cand, []parity.Scenario{{Name: "dice", Steps: client("a", "roll")}})
	if err == nil || !strings.HasPrefix(err.Error(), "scenario dice: the reference disagrees with itself:\n") {
		t.Errorf("noise: got %v", err)
	}
	if ran {
		t.Error("the candidate ran against a reference that disagrees with itself")
	}
}

// What cannot run is an error, never a pass.
func TestTestRefusesWhatCannotRun(t *testing.T) {
	ok := parity.Scenario{Name: "ok", Steps: client("a", "x")}
	for _, c := range []struct {
		name      string
		ref, cand parity.Target
		scenarios []parity.Scenario
		want      string
	}{
		{"no scenarios", echoTarget(nil), echoTarget(nil), nil, "parity: no scenarios to run"},
		{"zero target", parity.Target{}, echoTarget(nil), []parity.Scenario{ok}, "scenario ok: reference run 1: reference: start : the zero Target"},
		{"unnamed", echoTarget(nil), echoTarget(nil), []parity.Scenario{{Steps: client("a", "x")}}, "scenario : a scenario needs a name"},
		{"send before connect", echoTarget(nil), echoTarget(nil),
			[]parity.Scenario{{Name: "early", Steps: []parity.Step{{Op: parity.Send, Conn: "a", Data: [][]byte{[]byte("x")}}}}},
			"scenario early: step 1 (send a \"x\"): send a: no connection a (connect it first)"},
		{"empty command", parity.Command(), echoTarget(nil), []parity.Scenario{ok}, "scenario ok: reference run 1: reference: start : empty command line"},
		{"bad address", parity.Address("10.1.2.3:80"), echoTarget(nil), []parity.Scenario{ok}, "scenario ok: reference run 1: reference: start : address \"10.1.2.3:80\": an IPv4 loopback address is needed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := parity.Test(c.ref, c.cand, c.scenarios, parity.Timeout(2*time.Second))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("got %v, want an error beginning %q", err, c.want)
			}
		})
	}
}

// A built scenario prints in the file format and reads back the same.
func TestBuiltScenarioFormat(t *testing.T) {
	sc := parity.Scenario{Name: "built", Steps: append(client("a", "nul\x00 and \xff"),
		parity.Step{Op: parity.Watch, Conn: "a", For: 100 * time.Millisecond})}
	back, err := parity.ParseScenario("built.scenario", sc.Format())
	if err != nil {
		t.Fatalf("%v\n%s", err, sc.Format())
	}
	if back.Protocol != parity.Any || len(back.Steps) != 5 || !bytes.Equal(back.Steps[1].Data[0], []byte("nul\x00 and \xff")) || back.Steps[4].For != 100*time.Millisecond {
		t.Errorf("read back as %+v from:\n%s", back, sc.Format())
	}
}
