//go:build linux

package main

// contract.go - -contract MODEL: one server checked against CONTRACT.md's expectations for
// a model of this repository (compare/internal/contract), not against a reference.

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/iomodels/iomodels/compare/internal/contract"
	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/gosrv"
)

// runContract runs every scenario of the contract's table that applies to model and says
// what each expects of the server, once each against a fresh server of port: a scenario
// without expectations (it checks parity alone) is listed and not run. Exit 0 when the
// server keeps every expectation checked (at least one), 1 when it breaks one or a run
// fails, 2 on trouble before the first scenario.
func runContract(c config, model string, port engine.Impl, only *regexp.Regexp, stdout, stderr io.Writer) int {
	known := false
	for _, m := range gosrv.Models() {
		known = known || m.Name == model
	}
	if !known {
		var names []string
		for _, m := range gosrv.Models() {
			names = append(names, m.Name)
		}
		fmt.Fprintf(stderr, "paritydiff: -contract %q: want one of %s\n", model, strings.Join(names, ", "))
		return exitTrouble
	}
	port.Deadline = c.timeout
	checked, broken, parityOnly := 0, 0, 0
	for _, sc := range contract.Scenarios() {
		if !sc.AppliesTo(model) || (only != nil && !only.MatchString(sc.Name)) {
			continue
		}
		if sc.Expect == nil {
			parityOnly++
			if c.verbose {
				fmt.Fprintf(stdout, "--   %s: no expectation of its own (it checks parity with a reference)\n", sc.Name)
			}
			continue
		}
		start := time.Now()
		tr, err := engine.RunOnce(sc, model, port)
		if err == nil {
			err = sc.Expect(model, tr)
		}
		checked++
		took := time.Since(start).Round(time.Millisecond)
		if err != nil {
			broken++
			fmt.Fprintf(stdout, "FAIL %s (%v):\n%s\n", sc.Name, took, indent(err.Error(), "  "))
			if tr != nil {
				fmt.Fprintf(stdout, "  the server's transcript:\n%s\n", indent(tr.Brief(), "  "))
			}
		} else if c.verbose {
			fmt.Fprintf(stdout, "ok   %s (%v)\n", sc.Name, took)
		}
	}
	fmt.Fprintf(stdout, "contract of %s: %d scenarios checked: %d kept, %d broken; %d without expectations not run\n",
		model, checked, checked-broken, broken, parityOnly)
	switch {
	case checked == 0:
		fmt.Fprintf(stderr, "paritydiff: -contract %s: no scenario checked\n", model)
		return exitTrouble
	case broken > 0:
		return exitDiffers
	}
	return exitEqual
}
