//go:build linux

package engine

// impl.go - the differential itself: an implementation under test (Impl), one run of a
// scenario against a fresh server of it (RunOnce), and the comparison of a port with its
// reference (Differential), with the reference run twice so that its own noise is
// found rather than blamed on the port.

import (
	"fmt"
	"time"
)

// Impl is one implementation of a server: how to start a fresh one.
type Impl struct {
	// Name labels the implementation in transcripts and diffs ("C", "Go", a command line).
	Name string
	// Start starts a fresh server of model (the label scenarios are built for; a tool
	// comparing one server may pass ""), listening and ready to accept.
	Start func(model string) (Target, error)
	// Deadline overrides DefaultDeadline for one run of a scenario.
	Deadline time.Duration
	// Normalize rewrites the server's stdout and stderr before comparison; nil means
	// DefaultNormalizers.
	Normalize []Normalizer
	// Quiet and LogWait are Options.Quiet and Options.LogWait for its runs.
	Quiet, LogWait time.Duration
}

// RunOnce starts a fresh server of im and runs sc against it.
func RunOnce(sc Scenario, model string, im Impl) (*Transcript, error) {
	tg, err := im.Start(model)
	if err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", im.Name, model, err)
	}
	tr, err := Execute(sc, model, tg, Options{Deadline: im.Deadline, Normalize: im.Normalize, Quiet: im.Quiet, LogWait: im.LogWait})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", im.Name, err)
	}
	return tr, nil
}

// Outcome is what Differential saw: the reference twice, the port once, and what differs.
type Outcome struct {
	Ref, Ref2, Port *Transcript
	// Noise is where the reference disagreed with itself ("" when it did not): the
	// scenario's outcome depends on timing, and the port cannot be judged by it.
	Noise string
	// Contract is the scenario's Expect verdict on the reference (nil: as expected).
	Contract error
	// Diff is where the port differs from the reference ("" at parity).
	Diff string
}

// Differential runs sc on the reference twice and on the port once. The port is not run
// when the reference disagrees with itself. err is a run that failed (a server that did
// not start, a step that did not complete before the deadline).
func Differential(sc Scenario, model string, ref, port Impl) (Outcome, error) {
	var o Outcome
	var err error
	if o.Ref, err = RunOnce(sc, model, ref); err != nil {
		return o, fmt.Errorf("reference run 1: %w", err)
	}
	if o.Ref2, err = RunOnce(sc, model, ref); err != nil {
		return o, fmt.Errorf("reference run 2: %w", err)
	}
	if o.Noise = Diff(o.Ref, o.Ref2, ref.Name+"#1", ref.Name+"#2"); o.Noise != "" {
		return o, nil
	}
	if sc.Expect != nil {
		o.Contract = sc.Expect(model, o.Ref)
	}
	if o.Port, err = RunOnce(sc, model, port); err != nil {
		return o, fmt.Errorf("candidate run: %w", err)
	}
	o.Diff = Diff(o.Ref, o.Port, ref.Name, port.Name)
	return o, nil
}
