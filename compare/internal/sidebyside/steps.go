// Package sidebyside builds the side-by-side view of a model (compare/cmd/sidebyside): its C
// and Go files aligned on the model's steps, the system calls of one connection in each
// language linked to the step and line that made them, and the model's picture.
//
// The steps come from the sources themselves: one marker comment per step, the same in
// both twins, alone on its line:
//
//	/* step: wait */          in csrc/NAME.c
//	// step: wait             in gosrv/NAME.go
//
// A step runs from its marker to the next marker. A marker inside a function (indented)
// also ends with that function (its closing brace at column 0); a marker at column 0 (a
// helper function, a type) runs on to the next marker. A Go marker may say "(deferred)":
// `// step: clean up (deferred)` marks a defer statement, which Go writes early and which
// runs when the function returns; the step is that statement alone (the code after it
// belongs to the step before it again) and it takes its place at the end of the steps,
// where C writes the same step. Consecutive steps of one name are one step. Lines between
// steps (declarations, helpers without a marker) lead into the next step.
package sidebyside

import (
	"fmt"
	"regexp"
	"strings"
)

// Lang is a source's language.
type Lang string

const (
	C  Lang = "C"
	Go Lang = "Go"
)

// Line is one source line.
type Line struct {
	N      int    // 1-based line number
	Text   string // without its newline
	Marker bool   // a step marker
	Lead   bool   // before its step's marker: declarations or helpers that lead into it
}

// Step is a run of lines that does one step of the model.
type Step struct {
	Name     string
	Deferred bool   // a Go defer statement, written before it runs (see the package doc)
	Lines    []Line // what leads into the step, its marker, its lines, in file order
	Lead     int    // how many of Lines lead into the step (before its marker)
}

// Source is one twin, cut into its steps.
type Source struct {
	Path   string // relative to the repository's root
	Lang   Lang
	Lines  []string
	Header []Line // the file's opening paragraph and includes or imports
	Steps  []Step // in file order
	Tail   []Line // after the last step

	seq []Step // Sequence(), made once
}

var (
	cMarker  = regexp.MustCompile(`^(\s*)/\* step: (.*?)( \(deferred\))? \*/$`)
	goMarker = regexp.MustCompile(`^(\s*)// step: (.*?)( \(deferred\))?$`)
	stepName = regexp.MustCompile(`^[a-z][a-z0-9' -]*[a-z0-9]$`)
	// looksLikeMarker catches a marker mistyped so that the strict forms above miss it.
	looksLikeMarker = regexp.MustCompile(`^\s*(/\*|//)\s*step\s*:\s*[a-z ]+( \*/)?$`)
)

// LangOf tells a source's language by its name.
func LangOf(path string) (Lang, error) {
	switch {
	case strings.HasSuffix(path, ".c"), strings.HasSuffix(path, ".h"):
		return C, nil
	case strings.HasSuffix(path, ".go"):
		return Go, nil
	}
	return "", fmt.Errorf("%s: neither C nor Go", path)
}

// ParseSource cuts text (the file at path) into its header, steps and tail.
func ParseSource(path string, text string) (*Source, error) {
	lang, err := LangOf(path)
	if err != nil {
		return nil, err
	}
	src := &Source{Path: path, Lang: lang, Lines: strings.Split(strings.TrimSuffix(text, "\n"), "\n")}
	marker := cMarker
	if lang == Go {
		marker = goMarker
	}

	n := headerLen(src.Lines, lang)
	for i := 0; i < n; i++ {
		src.Header = append(src.Header, Line{N: i + 1, Text: src.Lines[i]})
	}

	var (
		cur      = -1 // the step lines go to, or -1 between steps
		resume   = -1 // the step a deferred step returns to
		indented bool // cur's marker is inside a function
		depth    int  // brace depth inside a deferred step
		started  bool // a deferred step has seen its statement's first line
		pending  []Line
	)
	for i := n; i < len(src.Lines); i++ {
		text := src.Lines[i]
		line := Line{N: i + 1, Text: text}
		if m := marker.FindStringSubmatch(text); m != nil {
			name := m[2]
			if !stepName.MatchString(name) {
				return nil, fmt.Errorf("%s:%d: step name %q: lower-case words, digits, ' and - only", path, i+1, name)
			}
			deferred := m[3] != ""
			if deferred && lang != Go {
				return nil, fmt.Errorf("%s:%d: (deferred) is for Go's defer statements", path, i+1)
			}
			line.Marker = true
			resume = -1
			if deferred && cur >= 0 && indented {
				resume = cur
			}
			src.Steps = append(src.Steps, Step{Name: name, Deferred: deferred, Lines: append(pending, line), Lead: len(pending)})
			pending = nil
			cur, indented, depth, started = len(src.Steps)-1, m[1] != "", 0, false
			continue
		}
		if looksLikeMarker.MatchString(text) {
			return nil, fmt.Errorf("%s:%d: %q looks like a step marker but is not one (%s)", path, i+1, strings.TrimSpace(text), markerForm(lang))
		}
		if cur < 0 {
			line.Lead = true
			pending = append(pending, line)
			continue
		}
		st := &src.Steps[cur]
		st.Lines = append(st.Lines, line)
		switch {
		case st.Deferred:
			code := codeOf(text, lang)
			if code == "" {
				continue
			}
			started = true
			depth += strings.Count(code, "{") - strings.Count(code, "}")
			if started && depth <= 0 {
				cur, resume = resume, -1 // the defer statement ends here
				indented = cur >= 0
			}
		case indented && strings.HasPrefix(text, "}"):
			cur = -1 // the function ends, and the step with it
		}
	}
	src.Tail = pending
	if len(src.Steps) == 0 {
		return nil, fmt.Errorf("%s: no step marker (%s)", path, markerForm(lang))
	}
	// A deferred step merges with a step of its name at the end; a second marker of that
	// name would let either marker go missing unnoticed. One is enough: the defer line
	// belongs to the step it is written in.
	for _, d := range src.Steps {
		for _, st := range src.Steps {
			if d.Deferred && !st.Deferred && d.Name == st.Name {
				return nil, fmt.Errorf("%s:%d: step %q is marked both deferred and not; keep the marker of the code after the loop", path, d.markerLine(), d.Name)
			}
		}
	}
	return src, nil
}

func markerForm(lang Lang) string {
	if lang == C {
		return "/* step: NAME */ alone on its line"
	}
	return "// step: NAME alone on its line, or // step: NAME (deferred) on a defer"
}

// headerLen is how many lines the file's header takes: its opening comment and build line,
// the package clause, the includes or imports, and the blank line after them.
func headerLen(lines []string, lang Lang) int {
	end := 0
	inComment, inImport := false, false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case inComment:
			if strings.Contains(t, "*/") {
				inComment = false
			}
			continue
		case inImport:
			if t == ")" {
				inImport = false
				end = i + 1
			}
			continue
		case t == "":
			continue
		case lang == C && strings.HasPrefix(t, "/*"):
			inComment = !strings.Contains(t, "*/")
			continue
		case lang == C && strings.HasPrefix(t, "#include"):
			end = i + 1
			continue
		case lang == Go && strings.HasPrefix(t, "//"):
			continue
		case lang == Go && strings.HasPrefix(t, "package "):
			end = i + 1
			continue
		case lang == Go && t == "import (":
			inImport = true
			continue
		case lang == Go && strings.HasPrefix(t, "import "):
			end = i + 1
			continue
		}
		break
	}
	if end < len(lines) && strings.TrimSpace(lines[end]) == "" {
		end++
	}
	return end
}

// codeOf is a line without its comment (roughly: string contents are not looked into).
func codeOf(text string, lang Lang) string {
	if i := strings.Index(text, "//"); i >= 0 {
		text = text[:i]
	}
	if i := strings.Index(text, "/*"); i >= 0 {
		text = text[:i]
	}
	t := strings.TrimSpace(text)
	if lang == C && (strings.HasPrefix(t, "* ") || t == "*" || strings.HasPrefix(t, "*/")) {
		return "" // inside a block comment (*p = x is code)
	}
	return t
}

// Sequence is the steps in the order they run at the end of the function: a deferred
// step moves to the end, and consecutive steps of one name become one (their lines in
// file order within each part).
func (s *Source) Sequence() []Step {
	if s.seq == nil {
		s.seq = s.sequence()
	}
	return s.seq
}

func (s *Source) sequence() []Step {
	var seq, deferred []Step
	for _, st := range s.Steps {
		if st.Deferred {
			deferred = append(deferred, st)
		} else {
			seq = append(seq, st)
		}
	}
	seq = append(seq, deferred...)
	var out []Step
	for _, st := range seq {
		if n := len(out); n > 0 && out[n-1].Name == st.Name {
			out[n-1].Lines = append(append([]Line(nil), out[n-1].Lines...), st.Lines...)
			out[n-1].Deferred = out[n-1].Deferred || st.Deferred
			continue
		}
		out = append(out, st)
	}
	return out
}

// Names is the names of seq's steps.
func Names(seq []Step) []string {
	names := make([]string, len(seq))
	for i, st := range seq {
		names[i] = st.Name
	}
	return names
}

// CheckTwins says where the two twins' steps differ: a step missing from one, or the same
// steps in another order. nil when they agree.
func CheckTwins(c, g *Source) error {
	cn, gn := Names(c.Sequence()), Names(g.Sequence())
	for i := 0; i < len(cn) || i < len(gn); i++ {
		switch {
		case i >= len(cn):
			return fmt.Errorf("step %d %q of %s (line %d) is not in %s (steps: %s)", i+1, gn[i], g.Path, g.Sequence()[i].markerLine(), c.Path, strings.Join(cn, ", "))
		case i >= len(gn):
			return fmt.Errorf("step %d %q of %s (line %d) is not in %s (steps: %s)", i+1, cn[i], c.Path, c.Sequence()[i].markerLine(), g.Path, strings.Join(gn, ", "))
		case cn[i] != gn[i]:
			why := "the same steps in another order"
			switch {
			case !contains(gn, cn[i]):
				why = fmt.Sprintf("%q is missing from %s", cn[i], g.Path)
			case !contains(cn, gn[i]):
				why = fmt.Sprintf("%q is missing from %s", gn[i], c.Path)
			}
			return fmt.Errorf("step %d: %s has %q (line %d), %s has %q (line %d): %s\n  %s: %s\n  %s: %s",
				i+1, c.Path, cn[i], c.Sequence()[i].markerLine(), g.Path, gn[i], g.Sequence()[i].markerLine(), why,
				c.Path, strings.Join(cn, ", "), g.Path, strings.Join(gn, ", "))
		}
	}
	return nil
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func (st Step) markerLine() int {
	for _, l := range st.Lines {
		if l.Marker {
			return l.N
		}
	}
	return 0
}

// StepAt is the index in Sequence() of the step holding line n, or -1. A line that leads
// into a step counts only when lead is true.
func (s *Source) StepAt(n int, lead bool) int {
	for i, st := range s.Sequence() {
		for _, l := range st.Lines {
			if l.N == n && (lead || !l.Lead) {
				return i
			}
		}
	}
	return -1
}
