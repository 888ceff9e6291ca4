//go:build linux

package main

// report.go - what paritydiff prints: a line per scenario (-v), a summary, the smallest
// diverging scenario in the scenario-file format with both transcripts side by side, or
// one JSON document (-json).

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/parity"
)

// A scenario's result.
const (
	resultEqual   = "equal"
	resultDiffers = "differs"
	resultNoise   = "noise"   // the reference disagreed with itself: the port is not judged
	resultError   = "error"   // the reference failed the scenario by itself
	resultSkipped = "skipped" // not possible with an address target
	// resultNotApplicable: the reference never wrote a log line the scenario waits for.
	resultNotApplicable = "not-applicable"
)

type scenarioResult struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Steps  int    `json:"steps"`
	Result string `json:"result"`
	Diff   string `json:"diff,omitempty"`
	Error  string `json:"error,omitempty"`
	Millis int64  `json:"millis"`
	Text   string `json:"scenario"` // the scenario in the file format (generated: gen's text)
	// Generated: a script of -gen (shrunk), not a scenario file; Go is it as a
	// engine.Scenario for a table.
	Generated bool   `json:"generated,omitempty"`
	Go        string `json:"go,omitempty"`

	ref, ref2, port *parity.Transcript
}

// addNote adds a note from any goroutine (a restart seen while -gen runs).
func (rep *report) addNote(n string) {
	rep.notesMu.Lock()
	defer rep.notesMu.Unlock()
	rep.Notes = append(rep.Notes, n)
}

type report struct {
	Reference    string           `json:"reference"`
	Port         string           `json:"port"`
	Protocol     string           `json:"protocol"`
	ProtocolFrom string           `json:"protocol_from"`
	Notes        []string         `json:"notes,omitempty"`
	Result       string           `json:"result"` // equal, differs or error
	Error        string           `json:"error,omitempty"`
	Counts       map[string]int   `json:"-"`
	Smallest     string           `json:"smallest,omitempty"` // the smallest diverging scenario
	Generated    *genReport       `json:"generated,omitempty"`
	Scenarios    []scenarioResult `json:"-"`

	notesMu sync.Mutex // for addNote
}

// jsonTranscript is a transcript for JSON: bytes as base64 up to jsonDataMax, with their
// length and digest always.
type jsonTranscript struct {
	Connections []jsonConn `json:"connections"`
	Notes       []string   `json:"notes"`
	Stdout      string     `json:"stdout"`
	Stderr      string     `json:"stderr"`
	Status      string     `json:"status"`
}

type jsonConn struct {
	Name    string `json:"name"`
	Length  int    `json:"length"`
	SHA256  string `json:"sha256"`
	Data    []byte `json:"data,omitempty"` // base64; omitted beyond jsonDataMax bytes
	Clipped bool   `json:"clipped,omitempty"`
	Ending  string `json:"ending"`
}

const jsonDataMax = 64 << 10

func toJSON(tr *parity.Transcript) *jsonTranscript {
	if tr == nil {
		return nil
	}
	j := &jsonTranscript{Notes: tr.Notes, Stdout: tr.Stdout, Stderr: tr.Stderr, Status: tr.Status, Connections: []jsonConn{}}
	if j.Notes == nil {
		j.Notes = []string{}
	}
	for _, c := range tr.Conns {
		sum := sha256.Sum256(c.Data)
		jc := jsonConn{Name: c.Name, Length: len(c.Data), SHA256: hex.EncodeToString(sum[:]), Ending: string(c.End)}
		if len(c.Data) <= jsonDataMax {
			jc.Data = c.Data
		} else {
			jc.Clipped = true
		}
		j.Connections = append(j.Connections, jc)
	}
	return j
}

// output prints as the run goes (text) or once at the end (JSON).
type output struct {
	stdout, stderr          io.Writer
	json, verbose, progress bool
	progressShown           bool
	notesShown              int // rep.Notes printed by header; later ones (restarts) by finish
}

func (o *output) header(rep *report) {
	if o.json {
		return
	}
	fmt.Fprintf(o.stdout, "reference: %s\nport:      %s\nprotocol:  %s (%s)\n", rep.Reference, rep.Port, rep.Protocol, rep.ProtocolFrom)
	for _, n := range rep.Notes {
		fmt.Fprintf(o.stdout, "note: %s\n", n)
	}
	o.notesShown = len(rep.Notes)
}

// progressLine rewrites one line on a terminal's stderr: "[3/19] size-512".
func (o *output) progressLine(i, n int, name string) {
	if !o.progress || o.json {
		return
	}
	if name == "" {
		if o.progressShown {
			fmt.Fprint(o.stderr, "\r\033[K")
		}
		return
	}
	fmt.Fprintf(o.stderr, "\r\033[K[%d/%d] %s", i+1, n, name)
	o.progressShown = true
}

func (o *output) scenarioDone(r scenarioResult) {
	if !o.verbose || o.json {
		return
	}
	o.progressLine(-1, 0, "")
	fmt.Fprintf(o.stdout, "%-8s %s (%d steps, %d ms)\n", r.Result, r.Name, r.Steps, r.Millis)
	if r.Result == resultNoise || r.Result == resultSkipped || r.Result == resultNotApplicable {
		fmt.Fprintf(o.stdout, "%s\n", indent(r.Diff, "         "))
	}
}

// fail reports trouble (exit 2): on stderr, and as the JSON document's error with -json.
func (o *output) fail(rep *report, msg string) int {
	o.progressLine(-1, 0, "")
	if !o.json {
		if len(rep.Scenarios) == 0 {
			for _, n := range rep.Notes {
				fmt.Fprintf(o.stderr, "note: %s\n", n)
			}
		} else {
			fmt.Fprint(o.stdout, "so far, ")
			o.summary(rep)
		}
	}
	fmt.Fprintf(o.stderr, "paritydiff: %s\n", msg)
	rep.Result, rep.Error = "error", msg
	if o.json {
		o.writeJSON(rep)
	}
	return exitTrouble
}

// finish prints the summary and, when some scenario differs, the smallest one. The exit
// status: 1 when one differs; else 3 when the reference disagreed with itself in one
// (noise); else 2 when none was compared (every one skipped or not applicable); else 0.
func (o *output) finish(rep *report) int {
	rep.Counts = map[string]int{}
	var diverging []scenarioResult
	for _, r := range rep.Scenarios {
		rep.Counts[r.Result]++
		if r.Result == resultDiffers {
			diverging = append(diverging, r)
		}
	}
	rep.Result = resultEqual
	code := exitEqual
	switch {
	case len(diverging) > 0:
		rep.Result, code = resultDiffers, exitDiffers
		smallest := diverging[0]
		for _, r := range diverging[1:] {
			if r.Steps < smallest.Steps {
				smallest = r
			}
		}
		rep.Smallest = smallest.Name
	case rep.Counts[resultNoise] > 0:
		rep.Result, code = resultNoise, exitNoise
	case rep.Counts[resultEqual] == 0:
		rep.Result, code = "error", exitTrouble
		rep.Error = "no scenario was compared: every one was skipped or not applicable to this reference"
	}
	if o.json {
		o.writeJSON(rep)
		return code
	}
	o.summary(rep)
	rep.notesMu.Lock()
	for _, n := range rep.Notes[min(o.notesShown, len(rep.Notes)):] {
		fmt.Fprintf(o.stdout, "note: %s\n", n)
	}
	rep.notesMu.Unlock()
	if g := rep.Generated; g != nil {
		fmt.Fprintf(o.stdout, "generated: %d script(s) in %v (%s), %s", g.Scripts, time.Duration(g.Millis)*time.Millisecond, g.SerialFrom, g.Result)
		if g.Result == resultDiffers {
			fmt.Fprintf(o.stdout, " (seed %d; %d runs to shrink it)", g.Seed, g.Reruns)
		}
		fmt.Fprintln(o.stdout)
	}
	for _, r := range rep.Scenarios {
		if r.Result == resultNoise && !o.verbose {
			fmt.Fprintf(o.stdout, "noise: %s: the reference disagrees with itself, so the port is not judged by it:\n%s\n", r.Name, indent(r.Diff, "  "))
		}
		if (r.Result == resultNotApplicable || r.Result == resultSkipped) && !o.verbose {
			fmt.Fprintf(o.stdout, "%s: %s: %s\n", r.Result, r.Name, r.Diff)
		}
	}
	switch code {
	case exitTrouble:
		fmt.Fprintf(o.stderr, "paritydiff: %s\n", rep.Error)
	case exitNoise:
		fmt.Fprintf(o.stdout, "result: noise: no scenario differs, but the reference disagreed with itself in %d, where the port was not judged (exit %d)\n", rep.Counts[resultNoise], exitNoise)
	}
	if len(diverging) == 0 {
		return code
	}
	fmt.Fprintln(o.stdout, "\ndiffering scenarios (steps: first difference):")
	for _, r := range diverging {
		fmt.Fprintf(o.stdout, "  %-28s %3d: %s\n", r.Name, r.Steps, clipString(firstLine(r.Diff), 100))
	}
	var sm scenarioResult
	for _, r := range diverging {
		if r.Name == rep.Smallest {
			sm = r
		}
	}
	fmt.Fprintf(o.stdout, "\nthe smallest diverging scenario, %s (%d steps, %s):\n\n%s\n", sm.Name, sm.Steps, sm.Source, indent(strings.TrimSuffix(sm.Text, "\n"), "    "))
	if sm.Go != "" {
		fmt.Fprintf(o.stdout, "\nas Go, for a table of engine.Scenario:\n%s\n", indent(sm.Go, "    "))
	}
	fmt.Fprintf(o.stdout, "\nwhat differs:\n%s\n", indent(sm.Diff, "  "))
	fmt.Fprintf(o.stdout, "\nboth transcripts (! marks a difference):\n%s", sideBySide(sm.ref, sm.port))
	return code
}

// summary is the count of scenario files by result: "19 scenarios: 16 equal, 3 differs".
func (o *output) summary(rep *report) {
	byResult := map[string]int{}
	nfiles := 0
	for _, r := range rep.Scenarios {
		if !r.Generated {
			byResult[r.Result]++
			nfiles++
		}
	}
	counts := []string{}
	for _, k := range []string{resultEqual, resultDiffers, resultNoise, resultNotApplicable, resultSkipped, resultError} {
		if n := byResult[k]; n > 0 || k == resultEqual || k == resultDiffers {
			counts = append(counts, fmt.Sprintf("%d %s", n, k))
		}
	}
	plural := "s"
	if nfiles == 1 {
		plural = ""
	}
	if nfiles > 0 || rep.Generated == nil {
		fmt.Fprintf(o.stdout, "%d scenario%s: %s\n", nfiles, plural, strings.Join(counts, ", "))
	}
}

func (o *output) writeJSON(rep *report) {
	type jsonScenario struct {
		scenarioResult
		Reference  *jsonTranscript `json:"reference"`
		Reference2 *jsonTranscript `json:"reference2,omitempty"` // with noise: the second run
		Port       *jsonTranscript `json:"port"`
	}
	doc := struct {
		*report
		Counts    map[string]int `json:"counts"`
		Scenarios []jsonScenario `json:"scenarios"`
	}{report: rep, Counts: rep.Counts, Scenarios: []jsonScenario{}}
	if doc.Counts == nil {
		doc.Counts = map[string]int{}
	}
	for _, r := range rep.Scenarios {
		js := jsonScenario{scenarioResult: r, Reference: toJSON(r.ref), Port: toJSON(r.port)}
		if r.Result == resultNoise {
			js.Reference2 = toJSON(r.ref2)
		}
		doc.Scenarios = append(doc.Scenarios, js)
	}
	enc := json.NewEncoder(o.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(doc)
}

// ---- both transcripts side by side ----

const (
	labelWidth = 12
	colWidth   = 44
)

type row struct {
	label, left, right string
	differs            bool
}

// sideBySide renders two transcripts in two columns, row by row: each connection's bytes
// and ending, the notes, the stdout and stderr lines (aligned: a line one side lacks
// faces a blank), the status. Runs of equal rows in a long section are elided.
func sideBySide(ref, port *parity.Transcript) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-*s  %-*s  %s\n", labelWidth, "", colWidth, "reference", "port")
	if port == nil {
		port = &parity.Transcript{Status: "(the run failed)"}
	}
	var sections [][]row
	// Connections, by name in the reference's order, then those only the port has.
	var conns []row
	seen := map[string]bool{}
	for _, c := range ref.Conns {
		seen[c.Name] = true
		pc, ok := port.Conn(c.Name)
		conns = append(conns, connRows(c, pc, ok)...)
	}
	for _, pc := range port.Conns {
		if !seen[pc.Name] {
			conns = append(conns, row{label: "conn " + pc.Name, left: "(none)", right: describeData(pc.Data, 0), differs: true},
				row{label: "  ending", left: "", right: string(pc.End), differs: true})
		}
	}
	sections = append(sections, conns)
	sections = append(sections, lineRows("note", ref.Notes, port.Notes))
	sections = append(sections, lineRows("stdout", splitLines(ref.Stdout), splitLines(port.Stdout)))
	sections = append(sections, lineRows("stderr", splitLines(ref.Stderr), splitLines(port.Stderr)))
	sections = append(sections, []row{{label: "status", left: ref.Status, right: port.Status, differs: ref.Status != port.Status}})
	for _, s := range sections {
		for _, r := range elide(s) {
			mark := " "
			if r.differs {
				mark = "!"
			}
			line := fmt.Sprintf("%s %-*s  %-*s  %s", mark, labelWidth, clipString(r.label, labelWidth), colWidth, clipString(r.left, colWidth), clipString(r.right, colWidth))
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	return b.String()
}

// connRows are a connection's two rows: its bytes, its ending.
func connRows(c parity.Conn, pc parity.Conn, ok bool) []row {
	if !ok {
		return []row{{label: "conn " + c.Name, left: describeData(c.Data, 0), right: "(none)", differs: true},
			{label: "  ending", left: string(c.End), right: "", differs: true}}
	}
	same := string(c.Data) == string(pc.Data)
	off := 0
	if !same {
		off = engine.FirstDiff(c.Data, pc.Data)
	}
	return []row{
		{label: "conn " + c.Name, left: describeData(c.Data, off), right: describeData(pc.Data, off), differs: !same},
		{label: "  ending", left: string(c.End), right: string(pc.End), differs: c.End != pc.End},
	}
}

// describeData is "N bytes" and the bytes quoted, from a little before off (the first
// difference) when off is not 0.
func describeData(d []byte, off int) string {
	s := fmt.Sprintf("%d bytes", len(d))
	if len(d) == 0 {
		return s
	}
	from := max(0, off-6)
	if from > len(d) {
		from = len(d)
	}
	q := strconv.Quote(string(d[from:min(len(d), from+64)]))
	if from > 0 {
		return fmt.Sprintf("%s, from %d: …%s", s, from, q)
	}
	return s + " " + q
}

// lineRows aligns two lists of lines (a longest common subsequence, so that a line one
// side lacks does not shift every line after it) into rows labelled what N.
func lineRows(what string, a, b []string) []row {
	const maxLines = 2000 // beyond, pairs by position: the table would be too large
	var rows []row
	label := func(i, j int) string {
		if i >= 0 {
			return fmt.Sprintf("%s %d", what, i+1)
		}
		return fmt.Sprintf("%s +%d", what, j+1)
	}
	if len(a) > maxLines || len(b) > maxLines {
		for i := 0; i < max(len(a), len(b)); i++ {
			var l, r string
			if i < len(a) {
				l = a[i]
			}
			if i < len(b) {
				r = b[i]
			}
			rows = append(rows, row{label: label(i, i), left: show(l), right: show(r), differs: i >= len(a) || i >= len(b) || l != r})
		}
		return rows
	}
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	// Walk it; the lines between two matches that only one side has are paired up, left
	// against right, as changed lines.
	var onlyA, onlyB []int
	flush := func() {
		for k := 0; k < max(len(onlyA), len(onlyB)); k++ {
			r := row{differs: true}
			i, j := -1, -1
			if k < len(onlyA) {
				i = onlyA[k]
				r.left = show(a[i])
			}
			if k < len(onlyB) {
				j = onlyB[k]
				r.right = show(b[j])
			}
			if i < 0 {
				r.left = "(no line)"
			}
			if j < 0 {
				r.right = "(no line)"
			}
			if i >= 0 && j >= 0 {
				r.left, r.right = fromDifference(r.left, r.right)
			}
			r.label = label(i, j)
			rows = append(rows, r)
		}
		onlyA, onlyB = nil, nil
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			flush()
			rows = append(rows, row{label: label(i, j), left: show(a[i]), right: show(b[j])})
			i++
			j++
		case j >= len(b) || (i < len(a) && lcs[i+1][j] >= lcs[i][j+1]):
			onlyA = append(onlyA, i)
			i++
		default:
			onlyB = append(onlyB, j)
			j++
		}
	}
	flush()
	return rows
}

// elide keeps a section of up to 8 rows whole; in a longer one, rows more than two away
// from a difference become "… N equal rows".
func elide(rows []row) []row {
	if len(rows) <= 8 {
		return rows
	}
	keep := make([]bool, len(rows))
	for i, r := range rows {
		if r.differs {
			for k := max(0, i-2); k <= min(len(rows)-1, i+2); k++ {
				keep[k] = true
			}
		}
	}
	keep[0] = true // the first row names the section
	var out []row
	for i := 0; i < len(rows); {
		if keep[i] {
			out = append(out, rows[i])
			i++
			continue
		}
		j := i
		for j < len(rows) && !keep[j] {
			j++
		}
		out = append(out, row{label: "", left: fmt.Sprintf("… %d equal rows", j-i)})
		i = j
	}
	return out
}

// splitLines is a log's lines; a last line without its newline is marked so.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = strings.TrimSuffix(l, "\n")
		} else {
			lines[i] = l + " [no newline at the end]"
		}
	}
	return lines
}

// show is a line as it reads: itself when printable, Go-quoted otherwise, and when empty
// or with blanks at an end, which would not show.
func show(s string) string {
	if strings.TrimSpace(s) != s || s == "" || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
		return strconv.Quote(s)
	}
	return s
}

func clipString(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func clipQuote(b []byte, n int) string {
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		if lines[i] != "" {
			lines[i] = prefix + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// firstLine is a diff's first line, and the next one too when the first only announces it
// ("observations:").
func firstLine(diff string) string {
	lines := strings.SplitN(diff, "\n", 3)
	if strings.HasSuffix(lines[0], ":") && len(lines) > 1 {
		return lines[0] + " " + strings.TrimSpace(lines[1])
	}
	return lines[0]
}

// fromDifference shows two different lines from a little before their first difference
// when it lies beyond what a column shows.
func fromDifference(l, r string) (string, string) {
	a, b := []rune(l), []rune(r)
	k := 0
	for k < len(a) && k < len(b) && a[k] == b[k] {
		k++
	}
	if k < colWidth-8 {
		return l, r
	}
	from := k - colWidth/2
	return "…" + string(a[from:]), "…" + string(b[from:])
}
