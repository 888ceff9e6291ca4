//go:build linux

package parity

// scenario.go - scenarios: the Scenario and Step values, the file format's parser and
// printer (the format is described in doc.go), and the built-in set (scenarios/*.scenario,
// embedded).

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

	"github.com/iomodels/iomodels/compare/internal/engine"
)

// A Protocol is how a server answers (CONTRACT.md § Wire protocols): the built-in
// scenarios are written for one of them, or for any.
type Protocol string

const (
	// OneShot: the server reads one message, answers it, and closes the connection.
	OneShot Protocol = "oneshot"
	// Stream: the server echoes everything until the client half-closes.
	Stream Protocol = "stream"
	// Any: the scenario holds for both.
	Any Protocol = "any"
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

// A Scenario is scripted client traffic: steps over named connections. It is built in
// code, parsed from a file ([ParseScenario], [LoadScenarios]) or one of the built-in set
// ([Builtin]); [Scenario.Format] writes it in the file format.
type Scenario struct {
	Name     string
	Protocol Protocol // what the scenario is written for; "" is Any
	// UnorderedLog: clients run concurrently, so stdout is compared as a sorted set of
	// lines (after those a [LogOrderedSoFar] step marked).
	UnorderedLog bool
	// Doc is the file's description (its first comment block), one entry a line.
	Doc   []string
	Steps []Step
	// Source is where a parsed scenario came from: its path, or "builtin/NAME.scenario".
	Source string
}

// A Step is one action of a scenario: Op on the connection Conn, with the arguments its
// operation takes (the file format's table says which).
type Step struct {
	Op   Op
	Conn string
	// Data are the payloads: one for Send, SendHalfClose and SendAsync, two or more for
	// SendCorked; for AwaitBytes, the delimiter it waits for instead of a count (await-bytes
	// NAME until P); for AwaitReply, the reply a recording saw, if any.
	Data [][]byte
	// N is the count of AwaitBytes, AwaitQueueFull, AwaitStdout, AwaitStderr, and the
	// bytes a Watch may have seen before it starts.
	N int
	// For is how long a Watch watches, and how long an AwaitReply waits for quiet (0: 200ms).
	For time.Duration
	// Line is where a parsed step was written (0 for a step built in code).
	Line int
	spec []string // the payloads as written, for Format
}

// An Op is a step's operation, named as in a scenario file.
type Op string

// The operations; the file format's table in the package documentation says what each does.
const (
	Connect         Op = "connect"
	ConnectQuiet    Op = "connect-quiet"
	StartReading    Op = "start-reading"
	Send            Op = "send"
	SendCorked      Op = "send-corked"
	SendHalfClose   Op = "send-half-close"
	SendAsync       Op = "send-async"
	AwaitSent       Op = "await-sent"
	HalfClose       Op = "half-close"
	Close           Op = "close"
	Reset           Op = "reset"
	AwaitEnd        Op = "await-end"
	AwaitBytes      Op = "await-bytes"
	AwaitReply      Op = "await-reply"
	AwaitLine       Op = "await-line"
	AwaitQueueFull  Op = "await-queue-full"
	AwaitStdout     Op = "await-stdout"
	AwaitStderr     Op = "await-stderr"
	Watch           Op = "watch"
	LogOrderedSoFar Op = "log-ordered-so-far"
	Stop            Op = "stop"
)

// AppliesTo says whether the scenario holds for a server speaking p.
func (sc Scenario) AppliesTo(p Protocol) bool {
	return sc.Protocol == "" || sc.Protocol == Any || p == "" || sc.Protocol == p
}

// engine is the scenario as the engine runs it.
func (sc Scenario) engine() engine.Scenario {
	steps := append([]Step(nil), sc.Steps...)
	return engine.Scenario{
		Name:         sc.Name,
		UnorderedLog: sc.UnorderedLog,
		Steps: func(string) []engine.Step {
			out := make([]engine.Step, len(steps))
			for i, s := range steps {
				out[i] = s.engine()
			}
			return out
		},
	}
}

// check is what ParseScenario checks, for a scenario built in code: it reads its own
// Format back, and a line of that text is named as the step it is.
func (sc Scenario) check() error {
	if sc.Name == "" {
		return errors.New("a scenario needs a name")
	}
	sc.Doc = nil
	_, err := ParseScenario(sc.Name, sc.Format())
	if err == nil {
		return nil
	}
	const headers = 3 // name, protocol, log
	if m := lineErrRE.FindStringSubmatch(err.Error()); m != nil && m[1] == sc.Name {
		if line, _ := strconv.Atoi(m[2]); line > headers {
			return fmt.Errorf("step %d (%s): %s", line-headers, sc.Steps[line-headers-1], m[3])
		}
	}
	return err
}

var lineErrRE = regexp.MustCompile(`(?s)^(.*):(\d+): (.*)$`)

func (s Step) engine() engine.Step {
	switch s.Op {
	case Connect:
		return engine.Connect(s.Conn)
	case ConnectQuiet:
		return engine.ConnectQuiet(s.Conn)
	case StartReading:
		return engine.StartReading(s.Conn)
	case Send:
		return engine.Send(s.Conn, s.Data[0])
	case SendCorked:
		return engine.SendCorked(s.Conn, s.Data...)
	case SendHalfClose:
		return engine.SendHalfClose(s.Conn, s.Data[0])
	case SendAsync:
		return engine.SendAsync(s.Conn, s.Data[0])
	case AwaitSent:
		return engine.AwaitSent(s.Conn)
	case HalfClose:
		return engine.HalfClose(s.Conn)
	case Close:
		return engine.Close(s.Conn)
	case Reset:
		return engine.Reset(s.Conn)
	case AwaitEnd:
		return engine.AwaitEnd(s.Conn)
	case AwaitBytes:
		if len(s.Data) > 0 {
			return engine.AwaitUntil(s.Conn, s.Data[0])
		}
		return engine.AwaitBytes(s.Conn, s.N)
	case AwaitReply:
		if len(s.Data) > 0 {
			return engine.AwaitRecorded(s.Conn, s.Data[0], s.For)
		}
		return engine.AwaitReply(s.Conn, s.For)
	case AwaitLine:
		return engine.AwaitLine(s.Conn)
	case AwaitQueueFull:
		return engine.AwaitUnreadStable(s.Conn, s.N)
	case AwaitStdout:
		return engine.AwaitStdoutLines(s.N)
	case AwaitStderr:
		return engine.AwaitStderrLines(s.N)
	case Watch:
		return engine.ExpectOpenFor(s.Conn, s.For, s.N)
	case LogOrderedSoFar:
		return engine.LogOrderedSoFar()
	case Stop:
		return engine.StopServer()
	}
	return engine.Step{Desc: string(s.Op), Do: func(*engine.Run) error { return fmt.Errorf("unknown step %q", s.Op) }}
}

// String is the step as a line of a scenario file.
func (s Step) String() string {
	parts := []string{string(s.Op)}
	if s.Conn != "" {
		parts = append(parts, s.Conn)
	}
	switch {
	case s.Op == AwaitBytes && len(s.Data) > 0:
		return strings.Join(append(parts, "until", payloadSpec(s, 0, s.Data[0])), " ")
	case s.Op == AwaitReply:
		if s.For != 0 {
			parts = append(parts, s.For.String())
		}
		if len(s.Data) > 0 {
			parts = append(parts, payloadSpec(s, 0, s.Data[0]))
		}
		return strings.Join(parts, " ")
	}
	for i, d := range s.Data {
		parts = append(parts, payloadSpec(s, i, d))
	}
	switch s.Op {
	case Watch:
		parts = append(parts, s.For.String())
		if s.N != 0 {
			parts = append(parts, strconv.Itoa(s.N))
		}
	case AwaitBytes, AwaitQueueFull, AwaitStdout, AwaitStderr:
		parts = append(parts, strconv.Itoa(s.N))
	}
	return strings.Join(parts, " ")
}

// payloadSpec is payload i as the file wrote it, if it still stands for d, else d as a Go
// string literal.
func payloadSpec(s Step, i int, d []byte) string {
	if i < len(s.spec) {
		if p, err := parsePayload(s.spec[i]); err == nil && bytes.Equal(p.bytes, d) {
			return p.spec
		}
	}
	return strconv.Quote(string(d))
}

// Format is the scenario in the file format: its description, its headers, its steps.
// ParseScenario reads it back to the same Scenario (but Source and Line).
func (sc Scenario) Format() []byte {
	var b bytes.Buffer
	for _, d := range sc.Doc {
		if d == "" {
			b.WriteString("#\n")
		} else {
			b.WriteString("# " + d + "\n")
		}
	}
	log := "ordered"
	if sc.UnorderedLog {
		log = "unordered"
	}
	protocol := sc.Protocol
	if protocol == "" {
		protocol = Any
	}
	if sc.Name != "" {
		fmt.Fprintf(&b, "name: %s\n", sc.Name)
	}
	fmt.Fprintf(&b, "protocol: %s\nlog: %s\n", protocol, log)
	for _, s := range sc.Steps {
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
	argsConnReply             // NAME [D] [P]
)

var stepOps = map[Op]stepArgs{
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
	"await-reply":        argsConnReply,
	"await-line":         argsConn,
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
	argsConnReply:    " NAME [DURATION] [PAYLOAD]",
}

var connNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ParseScenario parses a scenario file; name is the file's path, for errors
// ("name:LINE: what is wrong") and the default scenario name.
func ParseScenario(name string, src []byte) (Scenario, error) {
	f := Scenario{Protocol: Any, Source: name}
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
				if p := Protocol(v); p != OneShot && p != Stream && p != Any {
					return f, errf("protocol %q: want oneshot, stream or any", v)
				}
				f.Protocol = Protocol(v)
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
		op := Op(toks[0])
		kind, ok := stepOps[op]
		if !ok {
			return f, errf("unknown step %q (want one of %s)", op, strings.Join(stepNames(), ", "))
		}
		args := toks[1:]
		usage := func() error { return errf("%s wants%s, got %d argument(s)", op, usageOf[kind], len(args)) }
		st := Step{Op: op, Line: lineNo}
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
		case argsConnPayload:
			if len(args) != 2 {
				return f, usage()
			}
		case argsConnCount:
			if op == AwaitBytes && len(args) >= 2 && args[1] == "until" {
				if len(args) != 3 {
					return f, errf("await-bytes wants NAME N or NAME until PAYLOAD, got %d argument(s)", len(args))
				}
			} else if len(args) != 2 {
				return f, usage()
			}
		case argsConnReply:
			if len(args) < 1 || len(args) > 3 {
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
				st.Data = append(st.Data, p.bytes)
				st.spec = append(st.spec, p.spec)
			}
		case argsConnCount:
			if op == AwaitBytes && args[0] == "until" {
				p, err := parsePayload(args[1])
				if err != nil {
					return f, errf("await-bytes %s until: payload %s: %v", st.Conn, clip(args[1]), err)
				}
				if len(p.bytes) == 0 {
					return f, errf("await-bytes %s until: an empty delimiter", st.Conn)
				}
				st.Data, st.spec = [][]byte{p.bytes}, []string{p.spec}
				break
			}
			n, err := parseCount(args[0])
			if err != nil {
				return f, errf("%s: %v", op, err)
			}
			st.N = n
		case argsConnReply:
			for i, a := range args {
				if looksLikePayload(a) {
					p, err := parsePayload(a)
					if err != nil {
						return f, errf("await-reply %s: payload %s: %v", st.Conn, clip(a), err)
					}
					if i != len(args)-1 {
						return f, errf("await-reply %s: the payload comes last (await-reply NAME [DURATION] [PAYLOAD])", st.Conn)
					}
					st.Data, st.spec = [][]byte{p.bytes}, []string{p.spec}
					continue
				}
				d, err := time.ParseDuration(a)
				if i > 0 || err != nil || d <= 0 || d > maxWatch {
					return f, errf("await-reply %s: %s: want a quiet time (a Go duration above 0 and at most %v, such as 200ms) then a payload, each optional", st.Conn, clip(a), maxWatch)
				}
				st.For = d
			}
		case argsCount:
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
			st.For = d
			if len(args) == 2 {
				n, err := parseCount(args[1])
				if err != nil {
					return f, errf("watch %s: %v", st.Conn, err)
				}
				st.N = n
			}
		}
		switch op {
		case Stop:
			if stoppedAt > 0 {
				return f, errf("stop given twice (first at line %d)", stoppedAt)
			}
			stoppedAt = lineNo
		case LogOrderedSoFar:
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

// looksLikePayload: tok is written as a payload (not a duration), good or bad.
func looksLikePayload(tok string) bool {
	for _, p := range []string{`"`, "`", "hex:", "random:", "text:"} {
		if strings.HasPrefix(tok, p) {
			return true
		}
	}
	return false
}

func stepNames() []string {
	var names []string
	for op := range stepOps {
		names = append(names, string(op))
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

// payload is a payload as written and the bytes it stands for.
type payload struct {
	spec  string // canonical spelling: a Go-quoted string, hex:…, random:SEED:N, text:SEED:N
	bytes []byte
}

// parsePayload reads one payload token (a quoted string already unquoted by tokenize
// keeps its quotes here: tokenize returns tokens as written).
func parsePayload(tok string) (payload, error) {
	switch {
	case strings.HasPrefix(tok, `"`) || strings.HasPrefix(tok, "`"):
		s, err := strconv.Unquote(tok)
		if err != nil {
			return payload{}, errors.New("not a valid Go string literal")
		}
		return payload{spec: strconv.Quote(s), bytes: []byte(s)}, nil
	case strings.HasPrefix(tok, "hex:"):
		h := strings.TrimPrefix(tok, "hex:")
		b, err := hex.DecodeString(h)
		if err != nil {
			return payload{}, fmt.Errorf("bad hexadecimal: %v", err)
		}
		if len(b) > maxPayload {
			return payload{}, fmt.Errorf("%d bytes, more than %d", len(b), maxPayload)
		}
		return payload{spec: "hex:" + hex.EncodeToString(b), bytes: b}, nil
	case strings.HasPrefix(tok, "random:") || strings.HasPrefix(tok, "text:"):
		kind, rest, _ := strings.Cut(tok, ":")
		seedS, nS, ok := strings.Cut(rest, ":")
		if !ok {
			return payload{}, fmt.Errorf("want %s:SEED:N", kind)
		}
		seed, err := strconv.ParseUint(seedS, 10, 64)
		if err != nil {
			return payload{}, fmt.Errorf("seed %q: want a whole number", seedS)
		}
		n, err := strconv.Atoi(nS)
		if err != nil || n < 0 || n > maxPayload {
			return payload{}, fmt.Errorf("size %q: want a whole number from 0 to %d", nS, maxPayload)
		}
		b := engine.Payload(seed, n)
		if kind == "text" {
			b = engine.Text(seed, n)
		}
		return payload{spec: fmt.Sprintf("%s:%d:%d", kind, seed, n), bytes: b}, nil
	}
	return payload{}, errors.New(`want a Go string literal ("..."), hex:HEX, random:SEED:N or text:SEED:N`)
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
func LoadScenarios(dir string) ([]Scenario, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*"+ScenarioExt))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Scenario
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

// Builtin is the built-in set of scenarios that apply to a server speaking p: those
// written for p and those written for Any ("" gives every one), in the order of their
// file names. Each is deterministic for every model of its protocol in this repository,
// whose suite runs every one against every model, the C reference twice against the Go
// port.
func Builtin(p Protocol) []Scenario {
	entries, err := builtinFS.ReadDir("scenarios")
	if err != nil {
		panic(err)
	}
	var out []Scenario
	for _, e := range entries { // ReadDir sorts by name
		src, err := builtinFS.ReadFile("scenarios/" + e.Name())
		if err != nil {
			panic(err)
		}
		f, err := ParseScenario("builtin/"+e.Name(), src)
		if err != nil {
			panic(err) // a built-in file that does not parse: the suite's TestBuiltinScenarioTable fails on it
		}
		if f.AppliesTo(p) {
			out = append(out, f)
		}
	}
	return out
}
