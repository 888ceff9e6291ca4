//go:build linux

package gen

// search.go - Search: scripts drawn by rapid for a number of checks or a time budget, each
// run by engine.Differential (the reference twice, the port once), and the first failure
// shrunk; Replay runs one script.

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/gosrv"
	"pgregory.net/rapid"
)

// The protocols (CONTRACT.md § Wire protocols), as Config.Protocol names them.
const (
	OneShot = "oneshot" // one recv of at most 512 bytes, echo, close
	Stream  = "stream"  // echo everything until the peer closes
)

// DefaultDeadline bounds one run of a generated script (each of the three a script gets)
// when Config.Deadline is 0.
const DefaultDeadline = 8 * time.Second

// Config says what to generate, against which server, and for how long.
type Config struct {
	// Protocol is OneShot or Stream: the model of the servers' rules depend on it.
	Protocol string
	// Model is the label given to Impl.Start (a model's name for this repository's
	// servers; "" for a command line that needs none). It names saved scripts.
	Model string
	// Serial: the server serves one connection at a time (iterative), so a second
	// connection is opened only once the server has finished with the first.
	Serial bool

	// Budget: no new script is drawn after this much time (0: only Checks bounds the
	// search). The script running when it passes is finished, and a divergence found is
	// shrunk (ShrinkTime) before Search returns.
	Budget time.Duration
	// Checks: at most this many scripts (0: as many as Budget allows).
	Checks int
	// Seed is the first script's seed (0: -rapid.seed or RAPID_SEED when given, else
	// random). Config{Seed: d.Seed, Checks: 1} draws a divergence's script again.
	Seed uint64
	// Deadline bounds each run of a script (DefaultDeadline when 0); it replaces the
	// Impls' own Deadline.
	Deadline time.Duration
	// ShrinkTime bounds the shrinking of a divergence (0: rapid's -rapid.shrinktime, 30 s
	// by default).
	ShrinkTime time.Duration

	// Name is the name rapid keeps its fail files under (testdata/rapid/NAME/, from the
	// working directory; a test passes t.Name()): the drawn bits of a divergence, which
	// every later Search of that name replays first. "": no fail files.
	Name string
	// Logf receives rapid's messages ("[rapid] OK, passed 30 tests", how to reproduce a
	// failure); nil drops them (a Divergence keeps them in Rapid).
	Logf func(format string, args ...any)
}

// ForModel is the Config for one of this repository's models (gosrv's table of models):
// its protocol, and Serial for iterative, the one model that serves a connection only
// once it has finished with the one before (fork and thread serve each in a process or
// thread of its own; the others multiplex).
func ForModel(model string) (Config, error) {
	m, ok := gosrv.FindModel(model)
	if !ok {
		return Config{}, fmt.Errorf("gen: no model %q in the table of models", model)
	}
	cfg := Config{Protocol: OneShot, Model: model, Serial: model == "iterative"}
	if m.Protocol == gosrv.Stream {
		cfg.Protocol = Stream
	}
	return cfg, nil
}

func (cfg Config) check() error {
	if cfg.Protocol != OneShot && cfg.Protocol != Stream {
		return fmt.Errorf("gen: protocol %q: want %q or %q", cfg.Protocol, OneShot, Stream)
	}
	return nil
}

// rules describes cfg's rules for messages: "the oneshot protocol, one connection at a time".
func (cfg Config) rules() string {
	s := "the " + cfg.Protocol + " protocol"
	if cfg.Serial {
		s += ", one connection at a time"
	}
	if cfg.Model != "" {
		s += " (" + cfg.Model + ")"
	}
	return s
}

// literal is the rules of cfg as Go.
func (cfg Config) literal() string {
	f := []string{fmt.Sprintf("Protocol: %q", cfg.Protocol)}
	if cfg.Model != "" {
		f = append(f, fmt.Sprintf("Model: %q", cfg.Model))
	}
	if cfg.Serial {
		f = append(f, "Serial: true")
	}
	return "gen.Config{" + strings.Join(f, ", ") + "}"
}

// impl is im with cfg's deadline.
func (cfg Config) impl(im engine.Impl) engine.Impl {
	im.Deadline = cfg.Deadline
	if im.Deadline == 0 {
		im.Deadline = DefaultDeadline
	}
	return im
}

// Kind is what a failing script showed.
type Kind int

const (
	// PortDiffers: the port's transcript differs from the reference's.
	PortDiffers Kind = iota
	// PortFailed: the port's run failed (a step's watchdog: the port did not do what
	// the reference did; or it did not start).
	PortFailed
	// ReferenceNoise: the reference disagreed with itself. The model of the servers
	// admitted a step whose outcome is not determined: a defect of the model, and the
	// port is not judged (it is not run).
	ReferenceNoise
	// ReferenceFailed: the reference's run failed (a step's watchdog): it did not do
	// what the model predicts (a defect of the model, or a reference that does not log
	// as this repository's servers do), or it did not start.
	ReferenceFailed
)

func (k Kind) String() string {
	return [...]string{"the port differs from the reference", "the port's run failed",
		"the reference disagrees with itself", "the reference's run failed"}[k]
}

// ErrModel is the error Search and Replay return (wrapped) with a Divergence whose Kind is
// ReferenceNoise or ReferenceFailed: the reference did not behave as the model of the
// servers predicts, which says nothing about the port.
var ErrModel = errors.New("gen: the reference did not do what the model of the servers predicts (a defect of the generator, not of the port)")

// Divergence is a failing script, shrunk, and what it showed.
type Divergence struct {
	Kind Kind
	// Name is "generated-MODEL-HASH" (Script.Name).
	Name string
	// Script is the shrunk script as text, one op a line.
	Script string
	// Row is the shrunk script as Go: an engine.Scenario (Script.Row).
	Row string
	// Ops is the shrunk script as data (Save writes it as JSON).
	Ops Script
	// Config is the rules the script was drawn under.
	Config Config
	// Found is what differed or failed, in brief, both transcripts included.
	Found string
	// Outcome is the engine's: both transcripts of the reference, the port's (nil when
	// it did not run or failed), and the differences.
	Outcome engine.Outcome
	// Err is the run that failed (PortFailed, ReferenceFailed), else nil.
	Err error
	// Seed is the seed rapid drew the script from before shrinking (0 when it came from
	// a fail file).
	Seed uint64
	// Rapid is rapid's report: tests run, how to reproduce under go test.
	Rapid string
}

// Stats say how much a Search did.
type Stats struct {
	Scripts   int           // scripts drawn and run (a fail file rapid replayed first included)
	Reruns    int           // scripts run again after the first divergence: reproducing and shrinking
	Rounds    int           // rapid.Check calls
	Elapsed   time.Duration // the whole search
	Shrinking time.Duration // of which after the first divergence
}

// Replay runs ops once (the reference twice, the port once): nil when all agree. An error
// for a script not valid under cfg, or wrapping ErrModel with the Divergence when the
// reference did not do what the model predicts.
func Replay(cfg Config, ops Script, ref, port engine.Impl) (*Divergence, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := ops.Valid(cfg); err != nil {
		return nil, err
	}
	d := runScript(cfg, ops, cfg.impl(ref), cfg.impl(port))
	return d, d.modelErr()
}

// probe starts a server of im and stops it: a server that does not start, or whose
// process cannot be seen, is a plain error before any script, not a failure to shrink.
func probe(cfg Config, im engine.Impl) error {
	tg, err := im.Start(cfg.Model)
	if err != nil {
		return fmt.Errorf("gen: %s does not start: %w", im.Name, err)
	}
	_, isProc := tg.(engine.ServerProcess)
	if _, err := tg.Stop(); err != nil {
		return fmt.Errorf("gen: %s: stop: %w", im.Name, err)
	}
	if !isProc {
		return fmt.Errorf("gen: %s has no process to look at: generated scripts wait on the server's sockets and log lines, so they need a server the engine starts (in process, or engine.Command)", im.Name)
	}
	return nil
}

// runScript runs ops through the engine and classifies what it saw; nil when all agree.
func runScript(cfg Config, ops Script, ref, port engine.Impl) *Divergence {
	name := ops.Name(cfg)
	o, err := engine.Differential(ops.Scenario(name, cfg), cfg.Model, ref, port)
	d := &Divergence{Name: name, Script: ops.String(), Row: ops.Row(name, cfg), Ops: ops, Config: cfg, Outcome: o, Err: err}
	switch {
	case err != nil && (o.Ref == nil || o.Ref2 == nil):
		d.Kind = ReferenceFailed
		d.Found = fmt.Sprintf("%s (%v): %v", d.Kind, ErrModel, err)
	case err != nil:
		d.Kind = PortFailed
		d.Found = fmt.Sprintf("%s: %v\n%s:\n%s", d.Kind, err, ref.Name, o.Ref.Brief())
	case o.Noise != "":
		d.Kind = ReferenceNoise
		d.Found = fmt.Sprintf("reference is not deterministic (%v):\n%s\n%s#1:\n%s\n%s#2:\n%s",
			ErrModel, o.Noise, ref.Name, o.Ref.Brief(), ref.Name, o.Ref2.Brief())
	case o.Diff != "":
		d.Kind = PortDiffers
		d.Found = fmt.Sprintf("not at parity:\n%s\n%s:\n%s\n%s:\n%s", o.Diff, ref.Name, o.Ref.Brief(), port.Name, o.Port.Brief())
	default:
		return nil
	}
	return d
}

// modelErr is ErrModel, wrapped, for a divergence that is the model's.
func (d *Divergence) modelErr() error {
	if d == nil || (d.Kind != ReferenceNoise && d.Kind != ReferenceFailed) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrModel, d.Kind)
}

// searchMu: rapid's settings are process-wide (its flags), so one Search runs at a time.
var searchMu sync.Mutex

// roundSize is how many scripts a round of a budgeted search asks rapid for.
const roundSize = 10

// Search draws scripts under cfg and runs each against the reference (twice) and the port
// (once), until a script fails, cfg.Checks scripts ran, or cfg.Budget passed. A failing
// script is shrunk (by rapid, then by minimize) and returned as a Divergence. The error is
// non-nil for a bad Config, for a reference or port that does not start or has no process
// to look at (each is started and stopped once first), for a failure that is the model's
// (wrapping ErrModel, with the Divergence: the port was not judged), and for a panic in
// the generator.
//
// Rapid's settings are its flags on flag.CommandLine: Search sets the number of checks
// and the seed for each of its calls to rapid and puts them back after, so that
// -rapid.checks and RAPID_CHECKS keep their values for the caller; other rapid flags
// (-rapid.v, -rapid.log, ...) apply. Outside go test, Search calls testing.Init, and marks
// flag.CommandLine parsed if nobody did (rapid reads testing.Short), so the test.* flags
// are registered on flag.CommandLine from then on.
func Search(cfg Config, ref, port engine.Impl) (*Divergence, Stats, error) {
	if err := cfg.check(); err != nil {
		return nil, Stats{}, err
	}
	if cfg.Budget <= 0 && cfg.Checks <= 0 {
		return nil, Stats{}, errors.New("gen: a Budget or a number of Checks is needed")
	}
	for _, im := range []engine.Impl{ref, port} {
		if err := probe(cfg, im); err != nil {
			return nil, Stats{}, err
		}
	}
	searchMu.Lock()
	defer searchMu.Unlock()

	testing.Init() // no effect under go test
	if !flag.Parsed() {
		flag.CommandLine.Parse(nil)
	}
	restore, err := saveFlags("rapid.checks", "rapid.seed", "rapid.nofailfile", "rapid.shrinktime")
	if err != nil {
		return nil, Stats{}, err
	}
	defer restore()
	if cfg.Name == "" {
		setFlag("rapid.nofailfile", "true")
	}
	if cfg.ShrinkTime > 0 {
		setFlag("rapid.shrinktime", cfg.ShrinkTime.String())
	}
	seed := cfg.Seed
	if seed == 0 {
		seed, _ = strconv.ParseUint(flag.Lookup("rapid.seed").Value.String(), 0, 64)
	}
	if seed == 0 {
		seed = rand.Uint64() | 1
	}

	s := &search{cfg: cfg, ref: cfg.impl(ref), port: cfg.impl(port), start: time.Now()}
	s.end = s.start.Add(cfg.Budget)
	var log []string
	failed := false
	for round := 0; !failed; round++ {
		n := s.roundChecks(round)
		if n == 0 {
			break
		}
		if testing.Short() {
			n *= 5 // rapid runs a fifth of -rapid.checks under -short; Checks is exact
		}
		setFlag("rapid.checks", strconv.Itoa(n))
		// Each round its own seed: round 0 the seed itself, so that a Seed with Checks
		// draws what rapid's -rapid.seed would.
		setFlag("rapid.seed", strconv.FormatUint(seed+uint64(round)*0x9E3779B97F4A7C15, 10))
		tb := &rapidTB{name: cfg.Name, logf: cfg.Logf}
		s.stats.Rounds++
		tb.check(s.property)
		log = append(log, tb.log...)
		failed = tb.Failed()
	}
	if s.last != nil {
		shrink, _ := time.ParseDuration(flag.Lookup("rapid.shrinktime").Value.String())
		s.last = s.minimize(s.last, time.Now().Add(shrink))
	}
	s.stats.Elapsed = time.Since(s.start)
	if s.found {
		s.stats.Shrinking = time.Since(s.foundAt)
	}
	if cfg.Logf != nil {
		cfg.Logf("gen: %d scripts drawn and run in %v (rapid.Check calls: %d; reproducing and shrinking: %d runs, %v)",
			s.stats.Scripts, s.stats.Elapsed.Round(time.Millisecond), s.stats.Rounds, s.stats.Reruns, s.stats.Shrinking.Round(time.Millisecond))
	}
	switch {
	case s.last != nil:
		d := s.last
		d.Rapid = strings.Join(log, "\n")
		if m := seedRE.FindStringSubmatch(d.Rapid); m != nil {
			d.Seed, _ = strconv.ParseUint(m[1], 10, 64)
		}
		return d, s.stats, d.modelErr()
	case failed:
		return nil, s.stats, fmt.Errorf("gen: rapid failed without a divergence (a defect of the generator):\n%s", strings.Join(log, "\n"))
	}
	return nil, s.stats, nil
}

var seedRE = regexp.MustCompile(`-rapid\.seed=(\d+)`)

// search is one Search's state, which the property updates.
type search struct {
	cfg        Config
	ref, port  engine.Impl
	start, end time.Time
	found      bool // a script failed: from then on rapid reproduces and shrinks it
	foundAt    time.Time
	last       *Divergence // the last failing script run: after shrinking, the shrunk one
	stats      Stats
}

// roundChecks is how many scripts round asks rapid for; 0 ends the search. With Checks,
// one round of them all (one rapid.Check, as a test's own would be: rapid's fail files
// are replayed once), the budget, if any, enforced by the property; without, rounds of
// roundSize until the budget is spent.
func (s *search) roundChecks(round int) int {
	if s.cfg.Checks > 0 {
		if round == 0 {
			return s.cfg.Checks
		}
		return 0
	}
	if !time.Now().Before(s.end) {
		return 0
	}
	return roundSize
}

// property is what rapid checks: a drawn script runs without a divergence.
func (s *search) property(t *rapid.T) {
	if !s.found {
		if s.cfg.Budget > 0 && !time.Now().Before(s.end) {
			return // the budget is spent: the rest of the round draws nothing
		}
		s.stats.Scripts++
	} else {
		s.stats.Reruns++
	}
	d := runScript(s.cfg, Draw(t, s.cfg), s.ref, s.port)
	if d == nil {
		return
	}
	if !s.found {
		s.found, s.foundAt = true, time.Now()
	}
	s.last = keptDivergence(s.last, d)
	// One call site per kind: rapid shrinks a failure only to scripts that fail at the
	// same place, so a port's divergence never shrinks into the reference's noise. The
	// messages are fixed: rapid also wants the same message to count a failure reproduced
	// (the details, which may differ from run to run, are in the Divergence).
	switch d.Kind {
	case PortDiffers:
		t.Fatalf("%s", PortDiffers)
	case PortFailed:
		t.Fatalf("%s", PortFailed)
	case ReferenceNoise:
		t.Fatalf("%s", ReferenceNoise)
	default:
		t.Fatalf("%s", ReferenceFailed)
	}
}

// keptDivergence is the divergence a search reports after last, when d is found: the
// port's (PortDiffers, PortFailed) over the reference's (ErrModel's kinds), and otherwise
// the latest of last's kind (rapid's shrinking runs end with the shrunk case). A run
// that fails another way while a divergence is shrunk (the reference's noise, on a
// loaded machine) does not replace it.
func keptDivergence(last, d *Divergence) *Divergence {
	switch {
	case last == nil, d.Kind == last.Kind:
		return d
	case d.portKind() && !last.portKind():
		return d
	}
	return last
}

// portKind: the divergence is the port's, not the model's.
func (d *Divergence) portKind() bool { return d.Kind == PortDiffers || d.Kind == PortFailed }

// maxMinimizeRuns bounds the runs minimize makes.
const maxMinimizeRuns = 100

// minimize deletes ops from d's script, then simplifies the ops left, while it fails the
// same way (Kind), for at most maxMinimizeRuns runs or until the deadline. rapid shrinks
// the drawn bits within its shrink time, and an op whose deletion makes a later one
// invalid (a second connection that a serial server could not take before the first
// ended) is out of its reach; here the ops that become invalid go with it, as a draw drops
// them. Each op is tried once a pass, from the last, until a pass deletes nothing; then
// each op's parameters are made simpler, one at a time, until none can be.
func (s *search) minimize(d *Divergence, deadline time.Time) *Divergence {
	runs, tried := 0, map[string]bool{}
	try := func(cand Script) bool {
		key := fmt.Sprint(cand)
		if len(cand) == 0 || tried[key] || runs >= maxMinimizeRuns || time.Now().After(deadline) {
			return false
		}
		tried[key] = true
		runs++
		s.stats.Reruns++
		if c := runScript(s.cfg, cand, s.ref, s.port); c != nil && c.Kind == d.Kind {
			d = c
			return true
		}
		return false
	}
	for deleted := true; deleted; {
		deleted = false
		for i := len(d.Ops) - 1; i >= 0 && len(d.Ops) > 1; i-- {
			if try(validOps(s.cfg, append(append(Script(nil), d.Ops[:i]...), d.Ops[i+1:]...))) {
				deleted = true
				i = min(i, len(d.Ops))
			}
		}
	}
	if r := renamed(d.Ops); r.Valid(s.cfg) == nil {
		try(r)
	}
	for i := range d.Ops {
		for simplified := true; simplified; {
			simplified = false
			for _, op := range simpler(s.cfg, d.Ops[i]) {
				cand := append(Script(nil), d.Ops...)
				cand[i] = op
				if cand.Valid(s.cfg) == nil && try(cand) {
					simplified = true
					break
				}
			}
		}
	}
	return d
}

// renamed is ops with the connections named a, b, c, d in the order they connect.
func renamed(ops Script) Script {
	to := map[string]string{}
	out := append(Script(nil), ops...)
	for i, op := range out {
		if _, ok := to[op.Conn]; !ok && op.Op == "connect" {
			to[op.Conn] = names[len(to)%len(names)]
		}
		out[i].Conn = to[op.Conn]
	}
	return out
}

// simpler are variants of op simpler than it, one parameter changed each, simplest first.
func simpler(cfg Config, op Op) []Op {
	var out []Op
	with := func(f func(*Op)) {
		o := op
		f(&o)
		if o != op {
			out = append(out, o)
		}
	}
	switch op.Op {
	case "connect":
		with(func(o *Op) { o.Quiet, o.Rcvbuf = false, 0 })
		with(func(o *Op) { o.Rcvbuf = 0 })
		with(func(o *Op) { o.Quiet = false })
	case "send":
		sizes := oneShotSizes
		if cfg.Protocol == Stream {
			sizes = streamSizes
		}
		for _, n := range slices.Sorted(slices.Values(sizes)) {
			if n < op.Size {
				with(func(o *Op) { o.Size = n })
			}
		}
		with(func(o *Op) { o.Kind = "text" })
		with(func(o *Op) { o.Parts = 1 })
		with(func(o *Op) { o.Seed = 0 })
	case "pause":
		with(func(o *Op) { o.Ms = 10 })
	}
	return out
}

// validOps is ops without those not valid where they stand under cfg's rules.
func validOps(cfg Config, ops Script) Script {
	sim := newSim(cfg, &genRun{})
	var out Script
	for _, op := range ops {
		if sim.valid(op) {
			sim.apply(op)
			out = append(out, op)
		}
	}
	return out
}

// ---- rapid's settings and its testing.TB ----

// saveFlags remembers the values of rapid's flags names; restore puts them back, without
// marking them set (flag.Visit still shows only what the user set).
func saveFlags(names ...string) (restore func(), err error) {
	saved := map[string]string{}
	for _, n := range names {
		f := flag.Lookup(n)
		if f == nil {
			return nil, fmt.Errorf("gen: rapid's flag -%s is not registered", n)
		}
		saved[n] = f.Value.String()
	}
	return func() {
		for n, v := range saved {
			setFlag(n, v)
		}
	}, nil
}

func setFlag(name, value string) {
	if err := flag.Lookup(name).Value.Set(value); err != nil {
		panic(fmt.Sprintf("gen: -%s=%s: %v", name, value, err))
	}
}

// rapidTB is the rapid.TB that rapid.Check reports to: it records rapid's messages and
// failure; FailNow and SkipNow end rapid.Check as testing.T's runtime.Goexit ends a test,
// here with a panic that check recovers (rapid calls them on the goroutine that called
// rapid.Check, after its checks, never from the property).
type rapidTB struct {
	name   string
	logf   func(string, ...any)
	mu     sync.Mutex
	failed bool
	log    []string
}

type stopNow struct{}

func (b *rapidTB) check(prop func(*rapid.T)) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopNow); !ok {
				panic(r)
			}
		}
	}()
	rapid.Check(b, prop)
}

func (b *rapidTB) record(fail bool, msg string) {
	b.mu.Lock()
	b.log = append(b.log, strings.TrimSuffix(msg, "\n"))
	b.failed = b.failed || fail
	b.mu.Unlock()
	if b.logf != nil {
		b.logf("%s", strings.TrimSuffix(msg, "\n"))
	}
}

func (b *rapidTB) Helper()                           {}
func (b *rapidTB) Name() string                      { return b.name }
func (b *rapidTB) Logf(format string, args ...any)   { b.record(false, fmt.Sprintf(format, args...)) }
func (b *rapidTB) Log(args ...any)                   { b.record(false, fmt.Sprintln(args...)) }
func (b *rapidTB) Errorf(format string, args ...any) { b.record(true, fmt.Sprintf(format, args...)) }
func (b *rapidTB) Error(args ...any)                 { b.record(true, fmt.Sprintln(args...)) }
func (b *rapidTB) Fatalf(format string, args ...any) { b.Errorf(format, args...); b.FailNow() }
func (b *rapidTB) Fatal(args ...any)                 { b.Error(args...); b.FailNow() }
func (b *rapidTB) Fail()                             { b.mu.Lock(); b.failed = true; b.mu.Unlock() }
func (b *rapidTB) FailNow()                          { b.Fail(); panic(stopNow{}) }
func (b *rapidTB) Skipf(format string, args ...any)  { b.Logf(format, args...); b.SkipNow() }
func (b *rapidTB) Skip(args ...any)                  { b.Log(args...); b.SkipNow() }
func (b *rapidTB) SkipNow()                          { panic(stopNow{}) }
func (b *rapidTB) Failed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failed
}
