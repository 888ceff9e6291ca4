//go:build linux

package parity

// scenariofile.go - scenarios as text files: a small line-based format that a person
// writes by hand and that paritydiff prints back (the smallest diverging scenario), its
// parser, and the built-in set (scenarios/*.scenario, embedded).
//
// The format, one item per line:
//
//	# A comment: a line whose first non-blank character is '#'. Blank lines are ignored.
//	# The file's first block of comment lines, before any header or step, is the
//	# scenario's description, printed back with it; other comments are dropped.
//	name: two-clients        headers first, each at most once: name (default: the file's
//	protocol: oneshot        name without .scenario), protocol (oneshot, stream or any;
//	log: ordered             default any), log (ordered, or unordered: stdout compared as
//	                         a sorted set of lines, for clients that race; default ordered)
//	connect a                then one step a line: an operation and its arguments,
//	send a "hello"           separated by blanks
//
// The steps (NAME is a connection: letters, digits, '-' and '_', up to 32; N a count;
// D a Go duration such as 100ms or 1s):
//
//	connect NAME             open a connection; its reader starts at once
//	connect-quiet NAME       open a connection that reads nothing until start-reading
//	start-reading NAME       the quiet connection starts reading
//	send NAME P              one write of the payload P, waited for
//	send-corked NAME P P...  two or more writes under TCP_CORK: they arrive as one segment
//	send-half-close NAME P   one write and the half-close under TCP_CORK: they arrive as
//	                         one segment (the server cannot answer in between)
//	send-async NAME P        one write from the background (it may block: a slow reader)
//	await-sent NAME          wait until the background write of NAME is done
//	half-close NAME          shutdown(SHUT_WR): the server sees end of stream
//	close NAME               close (FIN); NAME may not be used afterwards
//	reset NAME               SO_LINGER 0 and close (RST); NAME may not be used afterwards
//	await-end NAME           wait until NAME ends (end of stream or reset from the server)
//	await-bytes NAME N       wait until NAME received at least N bytes in all
//	await-queue-full NAME N  wait until NAME's unread receive queue holds N bytes or more
//	                         and stops growing (the server's send met a full buffer)
//	await-stdout N           wait until the server's stdout holds N lines
//	await-stderr N           wait until the server's stderr holds N lines ("listening on"
//	                         counts)
//	watch NAME D [N]         watch NAME for D and note whether it stayed open and silent
//	                         (no byte beyond its first N, default 0) or was answered
//	log-ordered-so-far       with log: unordered, the stdout lines so far keep their order
//	stop                     stop the server (SIGTERM for a process) in mid-scenario
//
// A payload P is one of:
//
//	"text\x00\n"             a Go string literal (double-quoted with escapes, or `raw`)
//	hex:48656c6c6f           bytes in hexadecimal
//	random:SEED:N            N seeded pseudo-random bytes ([Payload])
//	text:SEED:N              N seeded printable bytes, a-z ([Text])
//
// Every wait is bounded by the run's deadline. The parser checks what it can before a
// run: a connection is connected once before it is used, not used after close or reset,
// await-sent follows a send-async, and nothing connects after stop. A file that fails to
// parse is reported as "FILE:LINE: what is wrong".

import (
	"bytes"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The protocols a scenario file may be written for (CONTRACT.md § Wire protocols).
const (
	ProtocolOneShot = "oneshot"
	ProtocolStream  = "stream"
	ProtocolAny     = "any"
)

// ScenarioExt is the extension of a scenario file.
const ScenarioExt = ".scenario"

// Limits on what a file may ask for, so that a typo cannot ask for a terabyte or an hour.
const (
	maxPayload   = 64 << 20
	maxCount     = 1 << 30
	maxWatch     = 30 * time.Second
	maxConnName  = 32
	maxFileBytes = 1 << 20
)

// ScenarioFile is a parsed scenario file.
type ScenarioFile struct {
	Name         string
	Protocol     string // ProtocolOneShot, ProtocolStream or ProtocolAny
	UnorderedLog bool
	// Doc is the comment before the first header or step, one entry a line, without '#'.
	Doc   []string
	Steps []FileStep
	// Source is where the file came from: its path, or "builtin/NAME.scenario".
	Source string
}

// FileStep is one step line of a scenario file.
type FileStep struct {
	Op       string
	Conn     string        // the connection, for the steps on one
	Payloads []FilePayload // send, send-corked, send-async
	N        int           // await-bytes, await-queue-full, await-stdout, await-stderr, watch
	D        time.Duration // watch
	Line     int           // where it was written (0 for a step made in code)
}

// FilePayload is a payload as written and the bytes it stands for.
type FilePayload struct {
	Spec  string // canonical spelling: a Go-quoted string, hex:…, random:SEED:N, text:SEED:N
	Bytes []byte
}

// AppliesTo says whether the scenario is written for protocol ("" matches every scenario).
func (f ScenarioFile) AppliesTo(protocol string) bool {
	return protocol == "" || f.Protocol == ProtocolAny || f.Protocol == protocol
}

// WaitsOnLogs says whether a step waits for the server's stdout or stderr, which a server
// that this engine did not start ([Address]) does not show.
func (f ScenarioFile) WaitsOnLogs() bool {
	for _, s := range f.Steps {
		if s.Op == "await-stdout" || s.Op == "await-stderr" {
			return true
		}
	}
	return false
}

// Scenario is the file as a [Scenario] of the engine; it applies to every model (a tool
// filters by protocol with AppliesTo).
func (f ScenarioFile) Scenario() Scenario {
	steps := append([]FileStep(nil), f.Steps...)
	return Scenario{
		Name:         f.Name,
		UnorderedLog: f.UnorderedLog,
		Steps: func(string) []Step {
			out := make([]Step, len(steps))
			for i, s := range steps {
				out[i] = s.Step()
			}
			return out
		},
	}
}

// Step is the engine's step for s.
func (s FileStep) Step() Step {
	switch s.Op {
	case "connect":
		return Connect(s.Conn)
	case "connect-quiet":
		return ConnectQuiet(s.Conn)
	case "start-reading":
		return StartReading(s.Conn)
	case "send":
		return Send(s.Conn, s.Payloads[0].Bytes)
	case "send-corked":
		parts := make([][]byte, len(s.Payloads))
		for i, p := range s.Payloads {
			parts[i] = p.Bytes
		}
		return SendCorked(s.Conn, parts...)
	case "send-half-close":
		return SendHalfClose(s.Conn, s.Payloads[0].Bytes)
	case "send-async":
		return SendAsync(s.Conn, s.Payloads[0].Bytes)
	case "await-sent":
		return AwaitSent(s.Conn)
	case "half-close":
		return HalfClose(s.Conn)
	case "close":
		return Close(s.Conn)
	case "reset":
		return Reset(s.Conn)
	case "await-end":
		return AwaitEnd(s.Conn)
	case "await-bytes":
		return AwaitBytes(s.Conn, s.N)
	case "await-queue-full":
		return AwaitUnreadStable(s.Conn, s.N)
	case "await-stdout":
		return AwaitStdoutLines(s.N)
	case "await-stderr":
		return AwaitStderrLines(s.N)
	case "watch":
		return ExpectOpenFor(s.Conn, s.D, s.N)
	case "log-ordered-so-far":
		return LogOrderedSoFar()
	case "stop":
		return StopServer()
	}
	return Step{Desc: s.Op, Do: func(*Run) error { return fmt.Errorf("unknown step %q", s.Op) }}
}

// String is the step as a line of a scenario file.
func (s FileStep) String() string {
	parts := []string{s.Op}
	if s.Conn != "" {
		parts = append(parts, s.Conn)
	}
	for _, p := range s.Payloads {
		parts = append(parts, p.Spec)
	}
	switch s.Op {
	case "watch":
		parts = append(parts, s.D.String())
		if s.N != 0 {
			parts = append(parts, strconv.Itoa(s.N))
		}
	case "await-bytes", "await-queue-full", "await-stdout", "await-stderr":
		parts = append(parts, strconv.Itoa(s.N))
	}
	return strings.Join(parts, " ")
}

// Format is the file in the scenario-file format: its description, its headers, its
// steps. ParseScenario reads it back to the same ScenarioFile (but Source and Line).
func (f ScenarioFile) Format() []byte {
	var b bytes.Buffer
	for _, d := range f.Doc {
		if d == "" {
			b.WriteString("#\n")
		} else {
			b.WriteString("# " + d + "\n")
		}
	}
	log := "ordered"
	if f.UnorderedLog {
		log = "unordered"
	}
	fmt.Fprintf(&b, "name: %s\nprotocol: %s\nlog: %s\n", f.Name, f.Protocol, log)
	for _, s := range f.Steps {
		b.WriteString(s.String() + "\n")
	}
	return b.Bytes()
}

// stepArgs is what each operation takes after its name.
type stepArgs int

const (
	argsNone         stepArgs = iota
	argsConn                  // NAME
	argsConnPayload           // NAME P
	argsConnPayloads          // NAME P P...
	argsConnCount             // NAME N
	argsCount                 // N
	argsConnDuration          // NAME D [N]
)

var stepOps = map[string]stepArgs{
	"connect":            argsConn,
	"connect-quiet":      argsConn,
	"start-reading":      argsConn,
	"send":               argsConnPayload,
	"send-corked":        argsConnPayloads,
	"send-half-close":    argsConnPayload,
	"send-async":         argsConnPayload,
	"await-sent":         argsConn,
	"half-close":         argsConn,
	"close":              argsConn,
	"reset":              argsConn,
	"await-end":          argsConn,
	"await-bytes":        argsConnCount,
	"await-queue-full":   argsConnCount,
	"await-stdout":       argsCount,
	"await-stderr":       argsCount,
	"watch":              argsConnDuration,
	"log-ordered-so-far": argsNone,
	"stop":               argsNone,
}

var usageOf = map[stepArgs]string{
	argsNone:         "",
	argsConn:         " NAME",
	argsConnPayload:  " NAME PAYLOAD",
	argsConnPayloads: " NAME PAYLOAD PAYLOAD...",
	argsConnCount:    " NAME N",
	argsCount:        " N",
	argsConnDuration: " NAME DURATION [N]",
}

var connNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ParseScenario parses a scenario file; name is the file's path, for errors
// ("name:LINE: what is wrong") and the default scenario name.
func ParseScenario(name string, src []byte) (ScenarioFile, error) {
	f := ScenarioFile{Protocol: ProtocolAny, Source: name}
	if len(src) > maxFileBytes {
		return f, fmt.Errorf("%s: %d bytes, more than a scenario file may have (%d)", name, len(src), maxFileBytes)
	}
	base := strings.TrimSuffix(filepath.Base(name), ScenarioExt)
	type connState struct {
		line               int // where it was connected
		closedAt           int // where close or reset ended it (0: open)
		asyncSent, awaited bool
	}
	conns := map[string]*connState{}
	seenHeader := map[string]int{}
	stoppedAt := 0
	inDoc := true
	for i, raw := range strings.Split(string(src), "\n") {
		lineNo := i + 1
		errf := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, lineNo, fmt.Sprintf(format, args...))
		}
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if strings.HasPrefix(line, "#") {
			if inDoc {
				d := strings.TrimPrefix(line, "#")
				f.Doc = append(f.Doc, strings.TrimPrefix(d, " "))
			}
			continue
		}
		if line == "" {
			if inDoc && len(f.Doc) > 0 {
				inDoc = false // a blank line ends the description
			}
			continue
		}
		inDoc = false
		if strings.ContainsFunc(line, func(r rune) bool { return r != '\t' && (r < 0x20 || r == 0x7f) }) {
			return f, errf("control character in the line (write bytes as a quoted string or hex:)")
		}
		toks, err := tokenize(line)
		if err != nil {
			return f, errf("%v", err)
		}
		// A header: "key: value".
		if k, ok := strings.CutSuffix(toks[0], ":"); ok {
			if len(f.Steps) > 0 {
				return f, errf("header %q after the first step (headers come first)", k)
			}
			if prev, dup := seenHeader[k]; dup {
				return f, errf("header %q given twice (first at line %d)", k, prev)
			}
			seenHeader[k] = lineNo
			if len(toks) != 2 {
				return f, errf("header %q wants one value, got %d", k, len(toks)-1)
			}
			v := toks[1]
			switch k {
			case "name":
				if !connNameRE.MatchString(v) {
					return f, errf("name %q: use letters, digits, '-' and '_'", v)
				}
				f.Name = v
			case "protocol":
				if v != ProtocolOneShot && v != ProtocolStream && v != ProtocolAny {
					return f, errf("protocol %q: want oneshot, stream or any", v)
				}
				f.Protocol = v
			case "log":
				switch v {
				case "ordered":
					f.UnorderedLog = false
				case "unordered":
					f.UnorderedLog = true
				default:
					return f, errf("log %q: want ordered or unordered", v)
				}
			default:
				return f, errf("unknown header %q (want name, protocol or log)", k)
			}
			continue
		}
		op := toks[0]
		kind, ok := stepOps[op]
		if !ok {
			return f, errf("unknown step %q (want one of %s)", op, strings.Join(stepNames(), ", "))
		}
		args := toks[1:]
		usage := func() error { return errf("%s wants%s, got %d argument(s)", op, usageOf[kind], len(args)) }
		st := FileStep{Op: op, Line: lineNo}
		switch kind {
		case argsNone:
			if len(args) != 0 {
				return f, usage()
			}
		case argsCount:
			if len(args) != 1 {
				return f, usage()
			}
		case argsConn:
			if len(args) != 1 {
				return f, usage()
			}
		case argsConnPayload, argsConnCount:
			if len(args) != 2 {
				return f, usage()
			}
		case argsConnPayloads:
			if len(args) < 3 {
				return f, usage()
			}
		case argsConnDuration:
			if len(args) != 2 && len(args) != 3 {
				return f, usage()
			}
		}
		if kind != argsNone && kind != argsCount {
			st.Conn = args[0]
			if !connNameRE.MatchString(st.Conn) || len(st.Conn) > maxConnName {
				return f, errf("connection name %q: use up to %d letters, digits, '-' and '_'", st.Conn, maxConnName)
			}
			c := conns[st.Conn]
			switch {
			case op == "connect" || op == "connect-quiet":
				if c != nil {
					return f, errf("connection %s connected twice (first at line %d)", st.Conn, c.line)
				}
				if stoppedAt > 0 {
					return f, errf("connect %s after the server was stopped (line %d)", st.Conn, stoppedAt)
				}
				conns[st.Conn] = &connState{line: lineNo}
			case c == nil:
				return f, errf("%s %s: no connection %s (connect it first)", op, st.Conn, st.Conn)
			case c.closedAt > 0:
				return f, errf("%s %s: connection %s was closed at line %d", op, st.Conn, st.Conn, c.closedAt)
			}
			c = conns[st.Conn]
			switch op {
			case "close", "reset":
				c.closedAt = lineNo
			case "send-async":
				if c.asyncSent && !c.awaited {
					return f, errf("send-async %s: the previous one is not awaited (await-sent %s)", st.Conn, st.Conn)
				}
				c.asyncSent, c.awaited = true, false
			case "await-sent":
				if !c.asyncSent {
					return f, errf("await-sent %s: no send-async on %s before", st.Conn, st.Conn)
				}
				c.awaited = true
			}
			args = args[1:]
		}
		switch kind {
		case argsConnPayload, argsConnPayloads:
			for _, a := range args {
				p, err := parsePayload(a)
				if err != nil {
					return f, errf("%s %s: payload %s: %v", op, st.Conn, clip(a), err)
				}
				st.Payloads = append(st.Payloads, p)
			}
		case argsCount, argsConnCount:
			n, err := parseCount(args[0])
			if err != nil {
				return f, errf("%s: %v", op, err)
			}
			st.N = n
		case argsConnDuration:
			d, err := time.ParseDuration(args[0])
			if err != nil || d <= 0 || d > maxWatch {
				return f, errf("watch %s: duration %q: want a Go duration above 0 and at most %v, such as 100ms or 1s", st.Conn, args[0], maxWatch)
			}
			st.D = d
			if len(args) == 2 {
				n, err := parseCount(args[1])
				if err != nil {
					return f, errf("watch %s: %v", st.Conn, err)
				}
				st.N = n
			}
		}
		switch op {
		case "stop":
			if stoppedAt > 0 {
				return f, errf("stop given twice (first at line %d)", stoppedAt)
			}
			stoppedAt = lineNo
		case "log-ordered-so-far":
			if !f.UnorderedLog {
				return f, errf("log-ordered-so-far needs the header 'log: unordered'")
			}
		}
		f.Steps = append(f.Steps, st)
	}
	if len(f.Steps) == 0 {
		return f, fmt.Errorf("%s: no steps", name)
	}
	for n, c := range conns {
		if c.asyncSent && !c.awaited {
			return f, fmt.Errorf("%s: send-async %s is never awaited (add await-sent %s)", name, n, n)
		}
	}
	if f.Name == "" {
		if !connNameRE.MatchString(base) {
			return f, fmt.Errorf("%s: no name header, and the file's name %q cannot be one (letters, digits, '-' and '_')", name, base)
		}
		f.Name = base
	}
	return f, nil
}

func stepNames() []string {
	var names []string
	for op := range stepOps {
		names = append(names, op)
	}
	sort.Strings(names)
	return names
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxCount {
		return 0, fmt.Errorf("count %q: want a whole number from 0 to %d", s, maxCount)
	}
	return n, nil
}

// parsePayload reads one payload token (a quoted string already unquoted by tokenize
// keeps its quotes here: tokenize returns tokens as written).
func parsePayload(tok string) (FilePayload, error) {
	switch {
	case strings.HasPrefix(tok, `"`) || strings.HasPrefix(tok, "`"):
		s, err := strconv.Unquote(tok)
		if err != nil {
			return FilePayload{}, errors.New("not a valid Go string literal")
		}
		return FilePayload{Spec: strconv.Quote(s), Bytes: []byte(s)}, nil
	case strings.HasPrefix(tok, "hex:"):
		h := strings.TrimPrefix(tok, "hex:")
		b, err := hex.DecodeString(h)
		if err != nil {
			return FilePayload{}, fmt.Errorf("bad hexadecimal: %v", err)
		}
		if len(b) > maxPayload {
			return FilePayload{}, fmt.Errorf("%d bytes, more than %d", len(b), maxPayload)
		}
		return FilePayload{Spec: "hex:" + hex.EncodeToString(b), Bytes: b}, nil
	case strings.HasPrefix(tok, "random:") || strings.HasPrefix(tok, "text:"):
		kind, rest, _ := strings.Cut(tok, ":")
		seedS, nS, ok := strings.Cut(rest, ":")
		if !ok {
			return FilePayload{}, fmt.Errorf("want %s:SEED:N", kind)
		}
		seed, err := strconv.ParseUint(seedS, 10, 64)
		if err != nil {
			return FilePayload{}, fmt.Errorf("seed %q: want a whole number", seedS)
		}
		n, err := strconv.Atoi(nS)
		if err != nil || n < 0 || n > maxPayload {
			return FilePayload{}, fmt.Errorf("size %q: want a whole number from 0 to %d", nS, maxPayload)
		}
		b := Payload(seed, n)
		if kind == "text" {
			b = Text(seed, n)
		}
		return FilePayload{Spec: fmt.Sprintf("%s:%d:%d", kind, seed, n), Bytes: b}, nil
	}
	return FilePayload{}, errors.New(`want a Go string literal ("..."), hex:HEX, random:SEED:N or text:SEED:N`)
}

// tokenize splits a line at blanks; a token that starts with a quote runs to its closing
// quote (a Go string literal, blanks included), and is returned as written.
func tokenize(line string) ([]string, error) {
	var toks []string
	i := 0
	for i < len(line) {
		if line[i] == ' ' || line[i] == '\t' {
			i++
			continue
		}
		start := i
		switch line[i] {
		case '"':
			i++
			for i < len(line) && line[i] != '"' {
				if line[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unterminated string %s", clip(line[start:]))
			}
			i++
		case '`':
			j := strings.IndexByte(line[i+1:], '`')
			if j < 0 {
				return nil, fmt.Errorf("unterminated string %s", clip(line[start:]))
			}
			i += j + 2
		default:
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				i++
			}
		}
		if i < len(line) && line[i] != ' ' && line[i] != '\t' {
			return nil, fmt.Errorf("no blank after %s", clip(line[start:i]))
		}
		toks = append(toks, line[start:i])
	}
	return toks, nil
}

// LoadScenarios parses every *.scenario file of dir, in the order of their names. Two
// files may not give the same scenario name.
func LoadScenarios(dir string) ([]ScenarioFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*"+ScenarioExt))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []ScenarioFile
	seen := map[string]string{}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f, err := ParseScenario(p, src)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[f.Name]; dup {
			return nil, fmt.Errorf("%s: scenario name %q is also %s's", p, f.Name, prev)
		}
		seen[f.Name] = p
		out = append(out, f)
	}
	return out, nil
}

//go:embed scenarios/*.scenario
var builtinFS embed.FS

// BuiltinScenarios are the built-in scenario files written for protocol (ProtocolOneShot
// or ProtocolStream; "" gives them all), in the order of their file names. Each is
// deterministic for every model of its protocol in this repository: compare's
// TestScenarioFiles runs every one against every model, C twice against Go.
func BuiltinScenarios(protocol string) []ScenarioFile {
	entries, err := builtinFS.ReadDir("scenarios")
	if err != nil {
		panic(err)
	}
	var out []ScenarioFile
	for _, e := range entries { // ReadDir sorts by name
		src, err := builtinFS.ReadFile("scenarios/" + e.Name())
		if err != nil {
			panic(err)
		}
		f, err := ParseScenario("builtin/"+e.Name(), src)
		if err != nil {
			panic(err) // a built-in file that does not parse: TestScenarioFiles fails on it
		}
		if f.AppliesTo(protocol) {
			out = append(out, f)
		}
	}
	return out
}
