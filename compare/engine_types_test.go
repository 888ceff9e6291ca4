//go:build linux

package compare

// engine_types_test.go - the scenario language and its interpreter: its types. The engine
// is in files by job: engine_types_test.go (a scenario, a step, a transcript),
// engine_run_test.go (the state of one run, and execute, which runs a scenario),
// steps_test.go (the steps scenarios are written in), engine_procfs_test.go (what steps read
// about the server's process) and diff_test.go (comparing two transcripts, in brief).
//
// A scenario is a list of steps over named client connections on loopback: connect, send,
// half-close (shutdown SHUT_WR), reset (SO_LINGER 0, then close), and controlled waits for
// something the server does (its stdout reaching N lines, a connection receiving N bytes or
// ending). Nothing waits with a bare sleep: every wait polls a condition until it holds or
// the scenario's deadline passes. The interpreter records a transcript: the bytes and the
// ending of every connection, notes from the steps, and the server's stdout and stderr with
// each client's port replaced by its connection name (the client knows its local port), so
// that two runs can be compared.
//
// The order in which connections were answered is recorded where it is a fact rather than
// a race: a watch step notes whether a connection was answered while another one stalled
// ("l: open and silent for 1s"), and the server's log lines keep their order. Reader
// goroutines' wake-up order is not used: two answers microseconds apart would make it noise.

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
