//go:build linux

package parity

// parity.go - running scenarios: options, a run's transcript, the differential (the
// reference twice, the candidate once), and Test, which checks a whole set.

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
)

// DefaultTimeout bounds one run of one scenario when no [Timeout] is given: a server that
// hangs fails the run with what did not happen.
const DefaultTimeout = 20 * time.Second

// An Option changes how scenarios run: [Timeout], [Normalize].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	timeout, grace, quiet, logWait time.Duration
	extra                          []Normalizer
	prefix                         []string
}

// Timeout bounds each run of a scenario, and each server's start, by d instead of
// [DefaultTimeout] (a server's start: 10 s).
func Timeout(d time.Duration) Option { return optionFunc(func(o *options) { o.timeout = d }) }

// Grace bounds a [Command] server's stop: SIGTERM, then SIGKILL to its process group d
// later (default 10 s). Every Command server leads a process group of its own and dies
// with the thread that started it (a parent-death signal); once it exited, what is left
// of its group (children holding its stdout) gets SIGTERM, then SIGKILL d later.
func Grace(d time.Duration) Option { return optionFunc(func(o *options) { o.grace = d }) }

// LogQuiet makes every run wait, before it stops the server, until the server's stdout
// and stderr have not grown for d (bounded by the run's Timeout): a line a server writes
// just after it closed a connection is then in the log, not a race with the stop.
func LogQuiet(d time.Duration) Option { return optionFunc(func(o *options) { o.quiet = d }) }

// LogWait makes a wait for log lines (AwaitStdout, AwaitStderr) give up once the
// server's logs have not grown for d, with an error that wraps [ErrNoLogLine]: a server
// that never writes the line costs d, not the whole Timeout.
func LogWait(d time.Duration) Option { return optionFunc(func(o *options) { o.logWait = d }) }

// ErrNoLogLine is the error a run wraps when a wait for log lines gave up ([LogWait]).
var ErrNoLogLine = engine.ErrNoLogLine

// Wrap puts argv before every [Command] server's command line (a wrapper such as
// "stdbuf -oL -eL"); the server is still ready once its port listens.
func Wrap(argv ...string) Option {
	return optionFunc(func(o *options) { o.prefix = append([]string(nil), argv...) })
}

// Normalize rewrites both servers' stdout and stderr with n, in order, before they are
// compared: for what no two correct runs share (pids, timestamps). Whatever the options,
// the clients' ports are first replaced by their connections' names
// ("127.0.0.1:<a>") and the listening address by "0.0.0.0:PORT".
func Normalize(n ...Normalizer) Option {
	return optionFunc(func(o *options) { o.extra = append(o.extra, n...) })
}

// A Normalizer rewrites a server's log (its stdout or its stderr, whole).
type Normalizer func(log string) string

// Replace is a Normalizer that replaces every match of re by repl
// (regexp.ReplaceAllString's syntax: $1 names a group).
func Replace(re *regexp.Regexp, repl string) Normalizer {
	return func(log string) string { return re.ReplaceAllString(log, repl) }
}

func collect(opts []Option) options {
	var o options
	for _, f := range opts {
		if f != nil {
			f.apply(&o)
		}
	}
	return o
}

func (o options) runTimeout() time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	return DefaultTimeout
}

func (o options) startTimeout() time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	return engine.ProcessTimeout
}

func (o options) stopGrace() time.Duration {
	if o.grace > 0 {
		return o.grace
	}
	return engine.ProcessTimeout
}

func (o options) normalizers() []engine.Normalizer {
	out := append([]engine.Normalizer(nil), engine.DefaultNormalizers...)
	for _, n := range o.extra {
		out = append(out, func(log string, _ *engine.Run) string { return n(log) })
	}
	return out
}

// A Transcript is what one run observed, the clients' ports replaced by their names.
type Transcript struct {
	Conns  []Conn   // in the order they were connected
	Notes  []string // what Watch steps saw ("a: open and silent for 1s")
	Stdout string   // the server's, normalized
	Stderr string
	Status string // how the server ended: "exited 0", "killed by SIGSEGV", "running"
}

// A Conn is what one client connection received, and how it ended.
type Conn struct {
	Name string
	Data []byte
	End  Ending
}

// An Ending is how a client connection ended: one of these, or "error: " and what a read
// returned.
type Ending string

const (
	EndEOF    Ending = "EOF"    // the server closed it (end of stream)
	EndReset  Ending = "reset"  // the server reset it (RST)
	EndOpen   Ending = "open"   // nothing ended it before the scenario's last step
	EndClosed Ending = "closed" // the client closed or reset it
)

// Conn is the connection called name.
func (tr *Transcript) Conn(name string) (Conn, bool) {
	for _, c := range tr.Conns {
		if c.Name == name {
			return c, true
		}
	}
	return Conn{}, false
}

// String is the transcript in brief: each connection's length, digest, first bytes and
// ending, the notes, the logs clipped, the status.
func (tr *Transcript) String() string { return tr.engine().Brief() }

func transcript(e *engine.Transcript) *Transcript {
	if e == nil {
		return nil
	}
	tr := &Transcript{Notes: e.Notes, Stdout: e.Stdout, Stderr: e.Stderr, Status: e.Status}
	for _, c := range e.Conns {
		tr.Conns = append(tr.Conns, Conn{Name: c.Name, Data: c.Data, End: Ending(c.End)})
	}
	return tr
}

func (tr *Transcript) engine() *engine.Transcript {
	e := &engine.Transcript{Notes: tr.Notes, Stdout: tr.Stdout, Stderr: tr.Stderr, Status: tr.Status}
	for _, c := range tr.Conns {
		e.Conns = append(e.Conns, engine.ConnRecord{Name: c.Name, Data: c.Data, End: string(c.End)})
	}
	return e
}

// Diff is "" when the two transcripts agree, else a short account of the differences:
// the first differing byte of each connection (lengths, digests, the bytes around it),
// endings, notes, the first differing log line, the status.
func Diff(reference, candidate *Transcript) string {
	return engine.Diff(reference.engine(), candidate.engine(), "reference", "candidate")
}

// Run runs sc once against a fresh server of t and returns what it observed. err is a
// scenario that is not valid, a server that did not start, or a step that did not
// complete within the timeout; the server is stopped in any case.
func Run(sc Scenario, t Target, opts ...Option) (*Transcript, error) {
	if err := sc.check(); err != nil {
		return nil, err
	}
	tr, err := engine.RunOnce(sc.engine(), "", t.engine("target", collect(opts)))
	return transcript(tr), err
}

// An Outcome is what [Differential] saw.
type Outcome struct {
	// Reference and Reference2 are the reference's two runs, Candidate the candidate's
	// (nil when it was not run).
	Reference, Reference2, Candidate *Transcript
	// Noise is where the reference disagreed with itself ("" when it did not): the
	// scenario depends on timing there, and the candidate is not run.
	Noise string
	// Diff is where the candidate differs from the reference ("" at parity).
	Diff string
}

// Differential runs sc against fresh servers: the reference twice, then, unless the
// reference disagrees with itself, the candidate once. err is a run that failed; the
// Outcome then holds the runs before it.
func Differential(sc Scenario, reference, candidate Target, opts ...Option) (Outcome, error) {
	if err := sc.check(); err != nil {
		return Outcome{}, err
	}
	o := collect(opts)
	e, err := engine.Differential(sc.engine(), "", reference.engine("reference", o), candidate.engine("candidate", o))
	return Outcome{
		Reference:  transcript(e.Ref),
		Reference2: transcript(e.Ref2),
		Candidate:  transcript(e.Port),
		Noise:      e.Noise,
		Diff:       e.Diff,
	}, err
}

// Test runs every scenario through [Differential] and returns an error that describes
// every difference, in the order of the scenarios (nil when the candidate is at parity on
// all of them): a run that failed, a reference that disagrees with itself (noise: the
// scenario depends on timing, so it judges nothing and is reported, never retried), a
// candidate that differs, each with both transcripts in brief. No scenario is an error.
func Test(reference, candidate Target, scenarios []Scenario, opts ...Option) error {
	if len(scenarios) == 0 {
		return errors.New("parity: no scenarios to run")
	}
	var errs []error
	for _, sc := range scenarios {
		o, err := Differential(sc, reference, candidate, opts...)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("scenario %s: %w", sc.Name, err))
		case o.Noise != "":
			errs = append(errs, fmt.Errorf("scenario %s: the reference disagrees with itself:\n%s\nrun 1:\n%s\nrun 2:\n%s",
				sc.Name, o.Noise, o.Reference, o.Reference2))
		case o.Diff != "":
			errs = append(errs, fmt.Errorf("scenario %s: not at parity:\n%s\nreference:\n%s\ncandidate:\n%s",
				sc.Name, o.Diff, o.Reference, o.Candidate))
		}
	}
	return errors.Join(errs...)
}
