//go:build linux

package gen

// script.go - a generated script: its operations, their content, and the script as text
// and as Go to paste into a table of scenarios.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/iomodels/iomodels/compare/internal/engine"
)

// Op is one operation of a script, on one of up to four named connections.
type Op struct {
	Op     string `json:"op"`               // connect send halfclose reset close read readsome pause
	Conn   string `json:"conn"`             // a, b, c, d
	Quiet  bool   `json:"quiet,omitempty"`  // connect: read nothing until a read
	Rcvbuf int    `json:"rcvbuf,omitempty"` // connect: SO_RCVBUF set before the connect
	Kind   string `json:"kind,omitempty"`   // send: text binary nul utf8
	Size   int    `json:"size,omitempty"`   // send: bytes; readsome: bytes
	Seed   uint64 `json:"seed,omitempty"`   // send: the content's seed
	Parts  int    `json:"parts,omitempty"`  // send: in this many writes (one-shot: corked)
	Ms     int    `json:"ms,omitempty"`     // pause: how long the connection is watched
}

// Script is a generated scenario's operations; Steps turns them into a scenario's steps,
// the waits the model of the servers predicts included.
type Script []Op

// Content is the bytes a send op sends.
func Content(op Op) []byte {
	p := engine.Payload(op.Seed, op.Size)
	switch op.Kind {
	case "text":
		return engine.Text(op.Seed, op.Size)
	case "nul":
		t := engine.Text(op.Seed, op.Size)
		for i := range t {
			if p[i]%7 == 0 {
				t[i] = 0
			}
		}
		return t
	case "utf8":
		runes := []rune("aé€🙂你好 —✓\n")
		var b []byte
		for i := 0; len(b) < op.Size; i++ {
			b = append(b, string(runes[int(p[i%len(p)])%len(runes)])...)
		}
		return b[:op.Size] // may cut a character: bytes, not text
	}
	return p // binary: every byte value, newlines and NULs included
}

// splitParts cuts p into n nearly equal parts.
func splitParts(p []byte, n int) [][]byte {
	n = max(1, min(n, len(p)))
	parts := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		parts = append(parts, p[i*len(p)/n:(i+1)*len(p)/n])
	}
	return parts
}

// Steps are the script's steps under cfg's rules, with their waits: a scenario's steps.
// A script that is not valid under cfg (Valid) gets one step that fails and says why.
func (s Script) Steps(cfg Config) []engine.Step {
	g := &genRun{}
	sim := newSim(cfg, g)
	st := []engine.Step{g.begin()}
	for i, op := range s {
		if !sim.valid(op) {
			return []engine.Step{{Desc: fmt.Sprintf("op %d (%s)", i+1, op), Do: func(*engine.Run) error {
				return fmt.Errorf("op %d (%s) is not valid at this point of the script for %s", i+1, op, cfg.rules())
			}}}
		}
		st = append(st, sim.apply(op)...)
	}
	return append(st, sim.finish()...)
}

// Valid is nil when every op of the script may come where it is under cfg's rules.
func (s Script) Valid(cfg Config) error {
	sim := newSim(cfg, &genRun{})
	for i, op := range s {
		if !sim.valid(op) {
			return fmt.Errorf("op %d (%s) is not valid at this point of the script for %s", i+1, op, cfg.rules())
		}
		sim.apply(op)
	}
	return nil
}

// Scenario is the script as a scenario called name, under cfg's rules.
func (s Script) Scenario(name string, cfg Config) engine.Scenario {
	return engine.Scenario{Name: name, Steps: func(string) []engine.Step { return s.Steps(cfg) }}
}

// Name is "generated-LABEL-HASH": LABEL is cfg's model (or protocol), HASH the first 4
// bytes of the ops' JSON's SHA-256, so that a script keeps its name wherever it is found.
func (s Script) Name(cfg Config) string {
	ops, _ := json.Marshal(s)
	sum := sha256.Sum256(ops)
	label := cfg.Model
	if label == "" {
		label = cfg.Protocol
	}
	return fmt.Sprintf("generated-%s-%s", label, hex.EncodeToString(sum[:4]))
}

// String is op as one line of text: "send a text 512 bytes seed=1 in 2 parts".
func (op Op) String() string {
	f := []string{op.Op, op.Conn}
	switch op.Op {
	case "connect":
		if op.Quiet {
			f = append(f, "quiet")
		}
		if op.Rcvbuf != 0 {
			f = append(f, fmt.Sprintf("rcvbuf=%d", op.Rcvbuf))
		}
	case "send":
		f = append(f, op.Kind, fmt.Sprintf("%d bytes", op.Size), fmt.Sprintf("seed=%d", op.Seed))
		if op.Parts > 1 {
			f = append(f, fmt.Sprintf("in %d parts", op.Parts))
		}
	case "readsome":
		f = append(f, fmt.Sprintf("%d bytes", op.Size))
	case "pause":
		f = append(f, fmt.Sprintf("%dms", op.Ms))
	}
	return strings.Join(f, " ")
}

// String is the script as text, one op a line, numbered.
func (s Script) String() string {
	var b strings.Builder
	for i, op := range s {
		fmt.Fprintf(&b, "%2d. %s\n", i+1, op)
	}
	return b.String()
}

// GoLiteral is the script as a Go composite literal of type typeName ("gen.Script", or a
// table's own name for it), one op a line, indented by indent tabs.
func (s Script) GoLiteral(typeName string, indent int) string {
	tab := strings.Repeat("\t", indent)
	var b strings.Builder
	b.WriteString(typeName + "{\n")
	for _, op := range s {
		fmt.Fprintf(&b, "%s\t%s,\n", tab, op.literal())
	}
	b.WriteString(tab + "}")
	return b.String()
}

func (op Op) literal() string {
	f := []string{fmt.Sprintf("Op: %q", op.Op), fmt.Sprintf("Conn: %q", op.Conn)}
	if op.Quiet {
		f = append(f, "Quiet: true")
	}
	if op.Rcvbuf != 0 {
		f = append(f, fmt.Sprintf("Rcvbuf: %d", op.Rcvbuf))
	}
	if op.Kind != "" {
		f = append(f, fmt.Sprintf("Kind: %q", op.Kind))
	}
	if op.Size != 0 {
		f = append(f, fmt.Sprintf("Size: %d", op.Size))
	}
	if op.Seed != 0 {
		f = append(f, fmt.Sprintf("Seed: %d", op.Seed))
	}
	if op.Parts != 0 {
		f = append(f, fmt.Sprintf("Parts: %d", op.Parts))
	}
	if op.Ms != 0 {
		f = append(f, fmt.Sprintf("Ms: %d", op.Ms))
	}
	return "{" + strings.Join(f, ", ") + "}"
}

// Row is the script as a Go expression for a program that imports parity and gen: a
// engine.Scenario called name, under cfg's rules.
func (s Script) Row(name string, cfg Config) string {
	return fmt.Sprintf("%s.Scenario(%q, %s)", s.GoLiteral("gen.Script", 0), name, cfg.literal())
}
