//go:build linux

package main

// generate.go - -gen: scripts nobody wrote, drawn by compare/gen for a time budget against
// the reference (twice) and the port (once), a divergence shrunk to a minimal script.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iomodels/iomodels/compare/gen"
	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/parity"
)

// genReport is what -gen did.
type genReport struct {
	Budget  string `json:"budget"`
	Scripts int    `json:"scripts"`
	Reruns  int    `json:"reruns"` // runs spent reproducing and shrinking a divergence
	Millis  int64  `json:"millis"`
	Seed    uint64 `json:"seed,omitempty"` // of a divergence, for -gen-seed
	// Serial: scripts open a second connection only once the server is done with the
	// first, as a server that serves one connection at a time needs; SerialFrom says why.
	Serial     bool   `json:"serial"`
	SerialFrom string `json:"serial_from"`
	Result     string `json:"result"` // equal or differs
}

// serialFrom decides whether the reference serves one connection at a time from its
// transcript of the built-in stalled-beside-live, where a server that does holds the live
// client back behind the stalled one. Without it, scripts are serial: valid for every
// server, if less varied.
func serialFrom(rep *report) (bool, string) {
	for _, r := range rep.Scenarios {
		if r.Name != "stalled-beside-live" || r.ref == nil {
			continue
		}
		for _, n := range r.ref.Notes {
			if strings.Contains(n, "open and silent") {
				return true, "the reference held a live client behind a stalled one in stalled-beside-live"
			}
		}
		return false, "the reference answered a live client beside a stalled one in stalled-beside-live"
	}
	return true, "stalled-beside-live did not run, so scripts keep to one connection at a time"
}

// generate runs the search and adds a diverging script to rep's scenarios; it returns a
// message for exit 2 when the reference did not do what the generator predicts or the
// search failed.
func generate(c config, rep *report, ref, port engine.Impl, logf func(format string, args ...any)) string {
	serial, why := serialFrom(rep)
	cfg := gen.Config{
		Protocol:   rep.Protocol,
		Serial:     serial,
		Budget:     c.gen,
		Seed:       c.genSeed,
		Deadline:   c.timeout,
		ShrinkTime: c.gen,
	}
	if c.verbose && !c.json {
		cfg.Logf = logf
	}
	d, stats, err := gen.Search(cfg, ref, port)
	g := &genReport{Budget: c.gen.String(), Scripts: stats.Scripts, Reruns: stats.Reruns, Millis: stats.Elapsed.Milliseconds(),
		Serial: serial, SerialFrom: why, Result: resultEqual}
	rep.Generated = g
	switch {
	case errors.Is(err, gen.ErrModel) && d != nil:
		return fmt.Sprintf("the reference did not do what -gen's model of this repository's servers predicts (%s; seed %d): the reference departs from that model (its log lines, its sockets), or the model is wrong; the port is not judged by it:\n%s\n%s", d.Kind, d.Seed, indent(d.Script, "  "), indent(d.Found, "  "))
	case errors.Is(err, gen.ErrModel):
		return "-gen: the reference did not do what -gen's model of this repository's servers predicts; the port is not judged by it"
	case err != nil:
		return fmt.Sprintf("-gen: %v", err)
	case d == nil:
		return ""
	}
	g.Result, g.Seed = resultDiffers, d.Seed
	r := scenarioResult{
		Name:      d.Name,
		Source:    fmt.Sprintf("generated, shrunk; drawn again with -gen-seed %d", d.Seed),
		Generated: true,
		Go:        d.Row,
		Steps:     len(d.Ops),
		Result:    resultDiffers,
		Diff:      d.Outcome.Diff,
		Millis:    stats.Elapsed.Milliseconds(),
		Text:      d.Script,
		ref:       public(d.Outcome.Ref), ref2: public(d.Outcome.Ref2), port: public(d.Outcome.Port),
	}
	if d.Err != nil {
		r.Error = d.Err.Error()
		r.Diff = "the port's run failed where the reference's did not: " + d.Err.Error()
	}
	rep.Scenarios = append(rep.Scenarios, r)
	return ""
}

// public is a generated script's transcript as the scenario files' are reported.
func public(tr *engine.Transcript) *parity.Transcript {
	if tr == nil {
		return nil
	}
	out := &parity.Transcript{Notes: tr.Notes, Stdout: tr.Stdout, Stderr: tr.Stderr, Status: tr.Status}
	for _, c := range tr.Conns {
		out.Conns = append(out.Conns, parity.Conn{Name: c.Name, Data: c.Data, End: parity.Ending(c.End)})
	}
	return out
}
