//go:build linux

// Command paritydiff runs the same client traffic against a reference server and a port of
// it and says where they differ: the bytes and the ending each client saw, the server's
// stdout and stderr, and its exit status after a stop signal. It is the differential engine
// of compare/parity as a tool for anyone's port; README.md says how to use it.
//
//	go run ./compare/cmd/paritydiff -ref 'bin/c/server iterative {port}' -port 'bin/go/server iterative {port}'
//
// Exit status: 0 when every scenario run agrees (at least one), 1 when one differs (the
// smallest such scenario is printed with both transcripts side by side), 3 when none
// differs but the reference disagreed with itself in some (noise), 2 on bad usage, on a
// server that does not start or listen, on a reference that fails a scenario by itself,
// when no scenario was compared, and when told to stop (SIGINT, SIGTERM, SIGHUP: the
// servers are stopped first).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/compare/parity"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "record" {
		// record starts no server and takes SIGINT and SIGTERM itself (to write its file).
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	// SIGINT, SIGTERM or SIGHUP stop the servers (and their process groups) before
	// paritydiff exits; if paritydiff is killed outright, their parent-death signal does.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		n := standalone.StopAll(stopGrace.get())
		fmt.Fprintf(os.Stderr, "paritydiff: %v: stopped %d running server(s) and their process groups\n", sig, n)
		os.Exit(exitTrouble)
	}()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// stopGrace is -grace, for the signal handler.
var stopGrace = graceValue{d: engine.ProcessTimeout}

type graceValue struct {
	mu sync.Mutex
	d  time.Duration
}

func (g *graceValue) get() time.Duration  { g.mu.Lock(); defer g.mu.Unlock(); return g.d }
func (g *graceValue) set(d time.Duration) { g.mu.Lock(); g.d = d; g.mu.Unlock() }

const usageHead = `usage: paritydiff -ref 'CMD ARGS {port}' | -ref-addr HOST:PORT
                  -port 'CMD ARGS {port}' | -port-addr HOST:PORT  [flags]
       paritydiff -contract MODEL -port 'CMD ARGS {port}'  [flags]
       paritydiff record -listen ADDR -to HOST:PORT -o FILE  [flags]

Runs scenarios (client traffic) against the reference server twice and the port once,
each against a fresh server, and compares what they did. {port} in a command line is
replaced by a free port; the server is ready once it listens there. Without {port}, the
server must print "listening on 0.0.0.0:PORT" as its first line on stderr.

flags:
`

// -quiet and -log-wait by default: a log line written just after a close comes within
// microseconds on an idle machine; 100 ms covers a loaded one (the README says what
// remains possible), and a log line not written 2 s after the last one is taken as never.
const (
	defaultQuiet   = 100 * time.Millisecond
	defaultLogWait = 2 * time.Second
)

// Exit statuses.
const (
	exitEqual   = 0
	exitDiffers = 1
	exitTrouble = 2
	exitNoise   = 3
)

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type config struct {
	refCmd, portCmd, refAddr, portAddr string
	protocol                           string
	scenarios                          string
	builtin                            bool
	run, skip                          string
	grace, quiet, logWait              time.Duration
	linebuf                            bool
	gen                                time.Duration
	genSeed                            uint64
	normalize                          listFlag
	timeout                            time.Duration
	json, verbose                      bool
	contract                           string
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.refCmd, "ref", "", "the reference server's command line, with {port} where its port goes")
	fs.StringVar(&c.portCmd, "port", "", "the port's command line, with {port} where its port goes")
	fs.StringVar(&c.refAddr, "ref-addr", "", "a reference server already listening at `HOST:PORT` (127.0.0.0/8): no logs, no exit status")
	fs.StringVar(&c.portAddr, "port-addr", "", "a port already listening at `HOST:PORT` (127.0.0.0/8): no logs, no exit status")
	fs.StringVar(&c.protocol, "protocol", "", "the servers' protocol, `oneshot|stream` (default: guessed from the reference)")
	fs.StringVar(&c.scenarios, "scenarios", "", "a `directory` of *.scenario files, run besides the built-in ones")
	fs.BoolVar(&c.builtin, "builtin", true, "run the built-in scenarios of the protocol")
	fs.StringVar(&c.run, "run", "", "run only the scenarios whose name matches this `regexp`")
	fs.StringVar(&c.skip, "skip", "", "leave out the scenarios whose name matches this `regexp`")
	fs.DurationVar(&c.grace, "grace", engine.ProcessTimeout, "a stop's grace: SIGKILL to a server's process group this long after SIGTERM")
	fs.DurationVar(&c.quiet, "quiet", defaultQuiet, "before a server is stopped, wait until its stdout and stderr have not grown for this long (bounded by -timeout)")
	fs.DurationVar(&c.logWait, "log-wait", defaultLogWait, "a scenario waiting for a log line the reference does not write is not applicable once the reference's logs have not grown for this long")
	fs.BoolVar(&c.linebuf, "linebuf", false, "run both servers under stdbuf -oL -eL (coreutils): line-buffered C stdio in dynamically linked programs")
	fs.DurationVar(&c.gen, "gen", 0, "after the scenarios, generate scripts for this long (`duration`; command lines only; a divergence is shrunk for as long again)")
	fs.Uint64Var(&c.genSeed, "gen-seed", 0, "the generator's first seed (default: random; a divergence prints its seed)")
	fs.Var(&c.normalize, "normalize", "rewrite both servers' stdout and stderr before comparing: `REGEX=>REPLACEMENT` (Go regexp, $1 for a group); repeatable")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "bound on a server's start and on each run of a scenario")
	fs.BoolVar(&c.json, "json", false, "print one JSON document on stdout instead of text")
	fs.BoolVar(&c.verbose, "v", false, "print every scenario's result as it comes")
	fs.StringVar(&c.contract, "contract", "", "check the -port server against CONTRACT.md's expectations for this repository's `MODEL`, instead of against a reference")
}

// usageError is bad usage: the message, then the usage, exit 2.
func usageError(stderr io.Writer, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(stderr, "paritydiff: %s\n\n", fmt.Sprintf(format, args...))
	fs.Usage()
	return exitTrouble
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "record" {
		ctx, stop := recordContext()
		defer stop()
		return runRecord(ctx, args[1:], stdout, stderr)
	}
	var c config
	fs := flag.NewFlagSet("paritydiff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitEqual
		}
		return exitTrouble // the flag package printed the error and the usage
	}
	if fs.NArg() > 0 {
		return usageError(stderr, fs, "unexpected argument %q (quote a command line: -ref 'CMD ARGS {port}')", fs.Arg(0))
	}
	if c.contract != "" {
		if c.refCmd != "" || c.refAddr != "" || c.portAddr != "" || c.portCmd == "" {
			return usageError(stderr, fs, "-contract MODEL checks one server started by paritydiff: give -port 'CMD ARGS {port}' and no reference")
		}
		if c.timeout <= 0 {
			return usageError(stderr, fs, "-timeout %v: want a positive duration", c.timeout)
		}
		var only *regexp.Regexp
		if c.run != "" {
			var err error
			if only, err = regexp.Compile(c.run); err != nil {
				return usageError(stderr, fs, "-run: %v", err)
			}
		}
		port, _, _, err := impl("port", "-port", c.portCmd, "", c, nil)
		if err != nil {
			return usageError(stderr, fs, "%v", err)
		}
		return runContract(c, c.contract, port, only, stdout, stderr)
	}
	if c.timeout <= 0 {
		return usageError(stderr, fs, "-timeout %v: want a positive duration", c.timeout)
	}
	if c.grace <= 0 {
		return usageError(stderr, fs, "-grace %v: want a positive duration", c.grace)
	}
	if c.quiet < 0 || c.logWait < 0 {
		return usageError(stderr, fs, "-quiet %v, -log-wait %v: want durations of 0 or more", c.quiet, c.logWait)
	}
	stopGrace.set(c.grace)
	if c.linebuf {
		if c.refCmd == "" && c.portCmd == "" {
			return usageError(stderr, fs, "-linebuf wraps a command line: give -ref or -port as one")
		}
		if _, err := exec.LookPath("stdbuf"); err != nil {
			return usageError(stderr, fs, "-linebuf runs the servers under stdbuf (coreutils), which is not on PATH: %v", err)
		}
	}
	rep := &report{}
	ref, refTarget, refDesc, err := impl("reference", "-ref", c.refCmd, c.refAddr, c, rep)
	if err != nil {
		return usageError(stderr, fs, "%v", err)
	}
	port, portTarget, portDesc, err := impl("port", "-port", c.portCmd, c.portAddr, c, rep)
	if err != nil {
		return usageError(stderr, fs, "%v", err)
	}
	rep.Reference, rep.Port = refDesc, portDesc
	switch parity.Protocol(c.protocol) {
	case "", parity.OneShot, parity.Stream:
	default:
		return usageError(stderr, fs, "-protocol %q: want oneshot or stream", c.protocol)
	}
	var only, skip *regexp.Regexp
	if c.run != "" {
		if only, err = regexp.Compile(c.run); err != nil {
			return usageError(stderr, fs, "-run: %v", err)
		}
	}
	if c.skip != "" {
		if skip, err = regexp.Compile(c.skip); err != nil {
			return usageError(stderr, fs, "-skip: %v", err)
		}
	}
	norm := append([]engine.Normalizer(nil), engine.DefaultNormalizers...)
	opts := []parity.Option{parity.Timeout(c.timeout), parity.Grace(c.grace), parity.LogQuiet(c.quiet), parity.LogWait(c.logWait)}
	if c.linebuf {
		opts = append(opts, parity.Wrap(lineBufPrefix...))
	}
	for _, n := range c.normalize {
		re, repl, ok := strings.Cut(n, "=>")
		if !ok {
			return usageError(stderr, fs, "-normalize %q: want REGEX=>REPLACEMENT", n)
		}
		rx, err := regexp.Compile(re)
		if err != nil {
			return usageError(stderr, fs, "-normalize %q: %v", n, err)
		}
		norm = append(norm, engine.Replace(rx, repl))
		opts = append(opts, parity.Normalize(parity.Replace(rx, repl)))
	}
	if !c.builtin && c.scenarios == "" && c.gen == 0 {
		return usageError(stderr, fs, "-builtin=false and no -scenarios or -gen: nothing to run")
	}
	if c.gen < 0 {
		return usageError(stderr, fs, "-gen %v: want a positive duration", c.gen)
	}
	if c.gen > 0 && (c.refAddr != "" || c.portAddr != "") {
		return usageError(stderr, fs, "-gen needs servers started by paritydiff (-ref and -port command lines): generated scripts wait on the server's sockets and log lines")
	}
	for _, im := range []*engine.Impl{&ref, &port} {
		im.Deadline = c.timeout
		im.Normalize = norm
		im.Quiet, im.LogWait = c.quiet, c.logWait
	}

	out := &output{stdout: stdout, stderr: stderr, json: c.json, verbose: c.verbose, progress: isTerminal(stderr)}
	addrs := c.refAddr != "" || c.portAddr != ""
	for _, side := range []struct {
		addr, who string
	}{{c.refAddr, "the reference"}, {c.portAddr, "the port"}} {
		if side.addr != "" {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s is an address (%s): its stdout, stderr and exit status are not seen, its state carries from run to run, and scenarios that wait for its log or stop it are skipped", side.who, side.addr))
		}
	}
	if addrs {
		rep.Notes = append(rep.Notes, "only what both sides show is compared: the connections and the notes (not stdout, stderr or the exit status)")
	}

	// Every scenario file parses, or nothing is started.
	files, err := loadScenarios(c, only, skip, rep)
	if err != nil {
		return out.fail(rep, err.Error())
	}

	// The servers start and listen, or nothing else is tried.
	for _, s := range []struct {
		im   engine.Impl
		desc string
	}{{ref, refDesc}, {port, portDesc}} {
		tg, err := s.im.Start("")
		if err != nil {
			return out.fail(rep, fmt.Sprintf("the %s server (%s) does not start: %v\n(a server run with {port} must listen on that port within -timeout %v; without {port}, its first stderr line must be \"listening on 0.0.0.0:PORT\")", s.im.Name, s.desc, err, c.timeout))
		}
		if _, err := tg.Stop(); err != nil {
			return out.fail(rep, fmt.Sprintf("the %s server (%s) does not stop on SIGTERM: %v", s.im.Name, s.desc, err))
		}
	}

	rep.Protocol, rep.ProtocolFrom = c.protocol, "given by -protocol"
	if c.protocol == "" && !c.builtin && c.gen == 0 {
		// Only the files run, each for the protocol it names: a request/response
		// server (a recording's) speaks neither echo protocol and fails the probe.
		rep.Protocol, rep.ProtocolFrom = "any", "not guessed: -builtin=false, the files' own"
	} else if c.protocol == "" {
		p, how, err := guessProtocol(refTarget, c.timeout, opts)
		if err != nil {
			return out.fail(rep, fmt.Sprintf("cannot guess the protocol: %v; give -protocol oneshot or -protocol stream", err))
		}
		rep.Protocol, rep.ProtocolFrom = p, "guessed: "+how
	}

	// How the reference logs: what it writes before any client, and whether its stdout
	// comes as it is written or only at its exit (C stdio, block-buffered into a pipe).
	// The probe is an echo client: not for a server that speaks neither echo protocol.
	var logs logShape
	if c.refCmd != "" && rep.Protocol != "any" {
		if logs, err = probeLogs(ref); err != nil {
			return out.fail(rep, fmt.Sprintf("the log probe (one client: a message, a half-close, its end) failed on the reference: %v", err))
		}
		rep.Notes = append(rep.Notes, logs.notes(c.linebuf)...)
		if c.gen > 0 && !logs.likeThisRepository() {
			return out.fail(rep, fmt.Sprintf("-gen predicts the log lines of this repository's servers (\"listening on 0.0.0.0:PORT\" first on stderr, a line per connection), and the reference logs otherwise (%s): run without -gen", logs.startDesc()))
		}
	}

	var forProtocol []parity.Scenario
	for _, f := range files {
		if rep.Protocol == "any" || f.AppliesTo(parity.Protocol(rep.Protocol)) {
			forProtocol = append(forProtocol, logs.adapt(f))
		}
	}
	files = forProtocol
	if len(files) == 0 && c.gen == 0 {
		return out.fail(rep, fmt.Sprintf("no scenario to run for protocol %s", rep.Protocol))
	}
	out.header(rep)
	for i, f := range files {
		out.progressLine(i, len(files), f.Name)
		r := runScenario(f, refTarget, portTarget, addrs, opts)
		rep.Scenarios = append(rep.Scenarios, r)
		out.scenarioDone(r)
		if r.Result == resultError {
			return out.fail(rep, fmt.Sprintf("the reference fails scenario %s by itself: %s\n%s", f.Name, r.Error, indent(string(f.Format()), "  ")))
		}
	}
	out.progressLine(len(files), len(files), "")
	if c.gen > 0 {
		out.progressLine(0, 1, fmt.Sprintf("generating scripts for %v", c.gen))
		logf := func(format string, args ...any) {
			out.progressLine(-1, 0, "")
			fmt.Fprintf(stdout, "gen: %s\n", strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))
		}
		if msg := generate(c, rep, ref, port, logf); msg != "" {
			return out.fail(rep, msg)
		}
		out.progressLine(1, 1, "")
	}
	return out.finish(rep)
}

// lineBufPrefix is -linebuf's wrapper: coreutils' stdbuf sets LD_PRELOAD to its
// libstdbuf.so, which calls setvbuf on stdout and stderr before main. It reaches only
// dynamically linked programs that use C stdio (not a static binary, not Go, not a
// program that calls setvbuf itself); a pty would reach more, but makes "\n" "\r\n" in
// the log and gives the server a controlling terminal.
var lineBufPrefix = []string{"stdbuf", "-oL", "-eL"}

// impl makes one side from its flags, a command line or an address: as parity.Target for
// the scenarios, and as the engine's Impl for the start check, the log probe and -gen.
// A restart of a server that exited before it listened is noted in rep.
func impl(name, flagName, cmd, addr string, c config, rep *report) (engine.Impl, parity.Target, string, error) {
	switch {
	case cmd != "" && addr != "":
		return engine.Impl{}, parity.Target{}, "", fmt.Errorf("%s and %s-addr both given: give one", flagName, flagName)
	case cmd == "" && addr == "":
		return engine.Impl{}, parity.Target{}, "", fmt.Errorf("no %s server: give %s 'CMD ARGS {port}' or %s-addr HOST:PORT", name, flagName, flagName)
	case addr != "":
		return engine.Address(name, addr), parity.Address(addr), addr, nil
	}
	argv, err := splitCommand(cmd)
	if err != nil {
		return engine.Impl{}, parity.Target{}, "", fmt.Errorf("%s %q: %v", flagName, cmd, err)
	}
	co := engine.CommandOptions{Timeout: c.timeout, Grace: c.grace}
	if c.linebuf {
		co.Prefix = lineBufPrefix
	}
	if rep != nil {
		co.Restarted = func(err error) {
			rep.addNote(fmt.Sprintf("the %s server exited before it listened and was started again on another port: %v", name, err))
		}
	}
	return engine.CommandWith(name, argv, co), parity.Command(argv...), cmd, nil
}

// The protocol probe: one connection sends probeMsg without half-closing. A one-shot
// server echoes it and closes; a stream server echoes it and keeps the connection open.
const (
	probeMsg   = "paritydiff probe"
	probeWatch = 300 * time.Millisecond
)

// guessProtocol probes a fresh reference server and says which protocol it speaks, and why.
func guessProtocol(ref parity.Target, timeout time.Duration, opts []parity.Option) (protocol, how string, err error) {
	sc := parity.Scenario{Name: "protocol-probe", Steps: []parity.Step{
		{Op: parity.Connect, Conn: "p"},
		{Op: parity.Send, Conn: "p", Data: [][]byte{[]byte(probeMsg)}},
		{Op: parity.AwaitBytes, Conn: "p", N: len(probeMsg)},
		{Op: parity.Watch, Conn: "p", For: probeWatch, N: len(probeMsg)},
	}}
	tr, err := parity.Run(sc, ref, append(opts[:len(opts):len(opts)], parity.Timeout(min(timeout, 5*time.Second)))...)
	if err != nil {
		return "", "", fmt.Errorf("the probe (a connection sending %q without half-closing) failed: %v", probeMsg, err)
	}
	c, _ := tr.Conn("p")
	switch {
	case string(c.Data) == probeMsg && (c.End == parity.EndEOF || c.End == parity.EndReset):
		return string(parity.OneShot), fmt.Sprintf("the reference echoed %q and closed the connection (%s) before the client's end of stream", probeMsg, c.End), nil
	case string(c.Data) == probeMsg && c.End == parity.EndOpen:
		return string(parity.Stream), fmt.Sprintf("the reference echoed %q and kept the connection open for %v", probeMsg, probeWatch), nil
	}
	return "", "", fmt.Errorf("the probe sent %q without half-closing and got %s, then %s: neither a one-shot nor a stream echo", probeMsg, clipQuote(c.Data, 40), c.End)
}

// loadScenarios is the built-in scenarios (unless -builtin=false) and the directory's,
// for every protocol, matching -run and not -skip (the skipped ones noted in rep).
func loadScenarios(c config, only, skip *regexp.Regexp, rep *report) ([]parity.Scenario, error) {
	var all []parity.Scenario
	if c.builtin {
		all = parity.Builtin("")
	}
	if c.scenarios != "" {
		fs, err := parity.LoadScenarios(c.scenarios)
		if err != nil {
			return nil, fmt.Errorf("-scenarios: %v", err)
		}
		builtin := map[string]bool{}
		for _, f := range all {
			builtin[f.Name] = true
		}
		for _, f := range fs {
			if builtin[f.Name] {
				return nil, fmt.Errorf("-scenarios: %s: scenario name %q is a built-in one's (rename it, or give -builtin=false)", f.Source, f.Name)
			}
		}
		all = append(all, fs...)
	}
	var out, skipped []parity.Scenario
	for _, f := range all {
		switch {
		case only != nil && !only.MatchString(f.Name):
		case skip != nil && skip.MatchString(f.Name):
			skipped = append(skipped, f)
		default:
			out = append(out, f)
		}
	}
	if len(skipped) > 0 {
		var names []string
		for _, f := range skipped {
			names = append(names, f.Name)
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("-skip left out %d scenario(s): %s", len(skipped), strings.Join(names, ", ")))
	}
	return out, nil
}

// needsProcess: the scenario waits for the server's log or stops it, which a server
// given by its address does not allow.
func needsProcess(f parity.Scenario) bool {
	for _, s := range f.Steps {
		if s.Op == parity.AwaitStdout || s.Op == parity.AwaitStderr || s.Op == parity.Stop {
			return true
		}
	}
	return false
}

// runScenario runs one scenario: the reference twice, the port once.
func runScenario(f parity.Scenario, ref, port parity.Target, addrs bool, opts []parity.Option) scenarioResult {
	r := scenarioResult{Name: f.Name, Source: f.Source, Steps: len(f.Steps), Text: string(f.Format())}
	if addrs && needsProcess(f) {
		r.Result, r.Diff = resultSkipped, "waits for the server's log or stops it: not possible with an address"
		return r
	}
	start := time.Now()
	o, err := parity.Differential(f, ref, port, opts...)
	r.Millis = time.Since(start).Milliseconds()
	if addrs {
		// An address shows no log and no status: only what both sides show is compared.
		o = bothShow(o)
	}
	r.ref, r.ref2, r.port = o.Reference, o.Reference2, o.Candidate
	switch {
	case err != nil && o.Reference == nil && errors.Is(err, parity.ErrNoLogLine):
		// The first run of the reference waited for a log line it never wrote.
		r.Result, r.Diff = resultNotApplicable, "not applicable to this reference: "+err.Error()
	case err != nil && o.Reference2 == nil:
		// The reference failed (run 1 or run 2): nothing to compare with.
		r.Result, r.Error = resultError, err.Error()
	case err != nil:
		r.Result, r.Error = resultDiffers, err.Error()
		r.Diff = "the port's run failed where the reference's did not: " + strings.TrimPrefix(err.Error(), "candidate run: ")
	case o.Noise != "":
		r.Result, r.Diff = resultNoise, o.Noise
	case o.Diff != "":
		r.Result, r.Diff = resultDiffers, o.Diff
	default:
		r.Result = resultEqual
	}
	return r
}

// bothShow is o with the logs and statuses left out of every transcript, and its noise
// and difference found again without them.
func bothShow(o parity.Outcome) parity.Outcome {
	for _, tr := range []*parity.Transcript{o.Reference, o.Reference2, o.Candidate} {
		if tr != nil {
			tr.Stdout, tr.Stderr, tr.Status = "", "", "(not seen: an address)"
		}
	}
	o.Noise, o.Diff = "", ""
	if o.Reference != nil && o.Reference2 != nil {
		o.Noise = parity.Diff(o.Reference, o.Reference2)
	}
	if o.Noise == "" && o.Reference != nil && o.Candidate != nil {
		o.Diff = parity.Diff(o.Reference, o.Candidate)
	}
	return o
}

// isTerminal: w is a terminal (for the progress line).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
