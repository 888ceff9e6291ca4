//go:build linux

// Command paritydiff runs the same client traffic against a reference server and a port of
// it and says where they differ: the bytes and the ending each client saw, the server's
// stdout and stderr, and its exit status after a stop signal. It is the differential engine
// of compare/parity as a tool for anyone's port; README.md says how to use it.
//
//	go run ./compare/cmd/paritydiff -ref 'bin/c/server iterative {port}' -port 'bin/go/server iterative {port}'
//
// Exit status: 0 when every scenario agrees, 1 when one differs (the smallest such
// scenario is printed with both transcripts side by side), 2 on bad usage, on a server
// that does not start or listen, and on a reference that fails a scenario by itself.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/parity"
	"golang.org/x/sys/unix"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

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

// Exit statuses.
const (
	exitEqual   = 0
	exitDiffers = 1
	exitTrouble = 2
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
	run                                string
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
		port, _, _, err := impl("port", "-port", c.portCmd, "", c.timeout)
		if err != nil {
			return usageError(stderr, fs, "%v", err)
		}
		return runContract(c, c.contract, port, only, stdout, stderr)
	}
	ref, refTarget, refDesc, err := impl("reference", "-ref", c.refCmd, c.refAddr, c.timeout)
	if err != nil {
		return usageError(stderr, fs, "%v", err)
	}
	port, portTarget, portDesc, err := impl("port", "-port", c.portCmd, c.portAddr, c.timeout)
	if err != nil {
		return usageError(stderr, fs, "%v", err)
	}
	switch parity.Protocol(c.protocol) {
	case "", parity.OneShot, parity.Stream:
	default:
		return usageError(stderr, fs, "-protocol %q: want oneshot or stream", c.protocol)
	}
	if c.timeout <= 0 {
		return usageError(stderr, fs, "-timeout %v: want a positive duration", c.timeout)
	}
	var only *regexp.Regexp
	if c.run != "" {
		if only, err = regexp.Compile(c.run); err != nil {
			return usageError(stderr, fs, "-run: %v", err)
		}
	}
	norm := append([]engine.Normalizer(nil), engine.DefaultNormalizers...)
	opts := []parity.Option{parity.Timeout(c.timeout)}
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
	}

	rep := &report{Reference: refDesc, Port: portDesc}
	out := &output{stdout: stdout, stderr: stderr, json: c.json, verbose: c.verbose, progress: isTerminal(stderr)}
	for _, side := range []struct {
		addr, who string
	}{{c.refAddr, "the reference"}, {c.portAddr, "the port"}} {
		if side.addr != "" {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s is an address (%s): its stdout, stderr and exit status are not seen, its state carries from run to run, and scenarios that wait for its log or stop it are skipped", side.who, side.addr))
		}
	}

	// Every scenario file parses, or nothing is started.
	files, err := loadScenarios(c, only)
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
		p, how, err := guessProtocol(refTarget, c.timeout)
		if err != nil {
			return out.fail(rep, fmt.Sprintf("cannot guess the protocol: %v; give -protocol oneshot or -protocol stream", err))
		}
		rep.Protocol, rep.ProtocolFrom = p, "guessed: "+how
	}

	var forProtocol []parity.Scenario
	for _, f := range files {
		if rep.Protocol == "any" || f.AppliesTo(parity.Protocol(rep.Protocol)) {
			forProtocol = append(forProtocol, f)
		}
	}
	files = forProtocol
	if len(files) == 0 && c.gen == 0 {
		return out.fail(rep, fmt.Sprintf("no scenario to run for protocol %s", rep.Protocol))
	}
	out.header(rep)
	addrs := c.refAddr != "" || c.portAddr != ""
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

// impl makes one side from its flags, a command line or an address: as parity.Target for
// the scenarios, and as the engine's Impl for the start check and -gen.
func impl(name, flagName, cmd, addr string, timeout time.Duration) (engine.Impl, parity.Target, string, error) {
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
	return engine.CommandWithin(name, argv, timeout), parity.Command(argv...), cmd, nil
}

// The protocol probe: one connection sends probeMsg without half-closing. A one-shot
// server echoes it and closes; a stream server echoes it and keeps the connection open.
const (
	probeMsg   = "paritydiff probe"
	probeWatch = 300 * time.Millisecond
)

// guessProtocol probes a fresh reference server and says which protocol it speaks, and why.
func guessProtocol(ref parity.Target, timeout time.Duration) (protocol, how string, err error) {
	sc := parity.Scenario{Name: "protocol-probe", Steps: []parity.Step{
		{Op: parity.Connect, Conn: "p"},
		{Op: parity.Send, Conn: "p", Data: [][]byte{[]byte(probeMsg)}},
		{Op: parity.AwaitBytes, Conn: "p", N: len(probeMsg)},
		{Op: parity.Watch, Conn: "p", For: probeWatch, N: len(probeMsg)},
	}}
	tr, err := parity.Run(sc, ref, parity.Timeout(min(timeout, 5*time.Second)))
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
// for every protocol, matching -run.
func loadScenarios(c config, only *regexp.Regexp) ([]parity.Scenario, error) {
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
	var out []parity.Scenario
	for _, f := range all {
		if only == nil || only.MatchString(f.Name) {
			out = append(out, f)
		}
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
	r.ref, r.ref2, r.port = o.Reference, o.Reference2, o.Candidate
	switch {
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

// isTerminal: w is a terminal (for the progress line).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
