//go:build linux

package engine

// scenario.go - the scenario language: a scenario, a step, a server under test, and the
// transcript a run takes.

import (
	"time"
)

// DefaultDeadline bounds one run of one scenario: a hang fails with a message.
const DefaultDeadline = 20 * time.Second

// Target is a running server under test: in-process (native, gosrv) or a process.
type Target interface {
	Port() int
	Stop() (status string, err error) // status: "exited N" or "killed by SIGX"
	Stdout() []byte
	Stderr() []byte
}

// ServerProcess tells where the server's descriptors and CPU time can be seen: the test's own
// process for in-process servers, the child for standalone ones.
type ServerProcess interface {
	ServerPid() int
}

// Step is one action of a scenario. desc names it in failure messages.
type Step struct {
	Desc string
	Do   func(r *Run) error
}

// Scenario is one row of the Scenario table.
type Scenario struct {
	Name string
	// Models says which Models the scenario applies to; nil means every model.
	Models func(model string) bool
	// Steps builds the Steps for a model (most scenarios ignore the model).
	Steps func(model string) []Step
	// UnorderedLog: the scenario runs clients concurrently, so the interleaving of
	// stdout lines is a race between clients; stdout is compared as a sorted set of lines.
	UnorderedLog bool
	// Expect checks the C reference's transcript against CONTRACT.md (parity alone would
	// pass two servers that are wrong the same way). May be nil.
	Expect func(model string, tr *Transcript) error
	// Process: the scenario is about Process-level behaviour; it always runs standalone.
	Process bool
	// Deadline, when longer than the run's (Options.Deadline or DefaultDeadline), is this
	// scenario's watchdog instead: one with hundreds of clients in a row needs more time
	// than a hang takes to show, most of all for fork under -race, where each fork copies
	// the page tables of the race detector's shadow memory.
	Deadline time.Duration
}

func (s Scenario) AppliesTo(model string) bool {
	return s.Models == nil || s.Models(model)
}

// ConnRecord is what one connection observed.
type ConnRecord struct {
	Name string
	Data []byte
	End  string // "EOF", "reset", "open" (nothing ended it), "closed" (the client closed it)
}

// Transcript is everything a run observed, with ports replaced by connection names.
type Transcript struct {
	Conns  []ConnRecord
	Notes  []string // observations made by steps ("l: open and silent for 1s")
	Stdout string
	Stderr string
	Status string // how the server ended: "exited N" or "killed by SIGX"
}

// Conn is the record of the connection called name.
func (tr *Transcript) Conn(name string) (ConnRecord, bool) {
	for _, c := range tr.Conns {
		if c.Name == name {
			return c, true
		}
	}
	return ConnRecord{}, false
}
