package sidebyside

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Link is where a traced call comes from in the view.
type Link struct {
	Step       int      // index of the step in the model's Sequence(), -1 when not known
	Via        []string // the functions from the site's up to the one a step calls, when the site is not in a step's own lines
	Note       string   // why Step is -1, when it is
	Candidates []int    // the steps that call the site's function, when there are several
	Guess      bool     // Step is one of Candidates, chosen by the calls around it (LinkAll)
}

// Linker finds the step behind each call's site: directly when the site is in the model's
// file, otherwise through the callers of the site's function in the site's file and the
// language's common file, up to a function the model's file calls from one step.
type Linker struct {
	root  string
	model *Model
	files map[string][]string // path -> lines, read once
	funcs map[string][]fn     // path -> its functions, found once
	links map[Site]Link       // what Link said for a site
	steps map[string][]int    // the steps of a source (path) that call a function (name): "path name"
}

// fn is one function of a source file: its name and the code of its body's lines.
type fn struct {
	name       string
	start, end int // 1-based lines, the definition's and the closing brace's
	code       []string
}

// NewLinker links calls to m's steps, reading other sources under root as needed.
func NewLinker(root string, m *Model) *Linker {
	return &Linker{root: root, model: m, files: map[string][]string{}, funcs: map[string][]fn{},
		links: map[Site]Link{}, steps: map[string][]int{}}
}

// Link finds the step of a call made at site.
func (l *Linker) Link(site Site) Link {
	if lk, ok := l.links[site]; ok {
		return lk
	}
	lk := l.link(site)
	l.links[site] = lk
	return lk
}

func (l *Linker) link(site Site) Link {
	if site.Path == "" {
		return Link{Step: -1, Note: "no site in the project's code"}
	}
	src := l.model.C
	if lang, err := LangOf(site.Path); err == nil && lang == Go {
		src = l.model.Go
	}
	if site.Path == src.Path {
		if i := src.StepAt(site.Line, false); i >= 0 {
			return Link{Step: i}
		}
		// A helper of the model's file outside any step: the steps that call it.
	}

	files := []string{site.Path} // the model's file itself, when the site is a helper there
	common := "csrc/common.c"
	if src.Lang == Go {
		common = "gosrv/common.go"
	}
	if site.Path != common {
		files = append(files, common)
	}
	// The function whose lines hold the site: the site's own name may be the function a
	// helper was inlined into.
	name := l.enclosing(site.Path, site.Line)
	if name == "" {
		name = funcName(site.Func)
	}
	seen := map[string]bool{name: true}
	frontier := []chain{{name: name, via: []string{name}}}
	for depth := 0; depth < 6 && len(frontier) > 0; depth++ {
		// The steps that call any function of this depth: one is the answer, several a
		// choice the calls around this one make (LinkAll).
		set := map[int]bool{}
		var via []string
		for _, c := range frontier {
			for _, st := range l.callingSteps(src, c.name) {
				if len(set) == 0 {
					via = c.via
				}
				set[st] = true
			}
		}
		if len(set) == 1 {
			for st := range set {
				return Link{Step: st, Via: via}
			}
		}
		if len(set) > 1 {
			// Several: every step any caller at any depth leads to is a candidate.
			for _, st := range l.deeperSteps(src, frontier, files, seen) {
				set[st] = true
			}
			var steps []int
			for st := range set {
				steps = append(steps, st)
			}
			sort.Ints(steps)
			return Link{Step: -1, Via: via, Note: via[len(via)-1] + " is called from several steps", Candidates: steps}
		}
		var next []chain
		for _, c := range frontier {
			for _, f := range files {
				for _, caller := range l.callers(f, c.name) {
					if !seen[caller] {
						seen[caller] = true
						next = append(next, chain{name: caller, via: append(append([]string(nil), c.via...), caller)})
					}
				}
			}
		}
		frontier = next
	}
	return Link{Step: -1, Note: "outside the model: no step of " + src.Path + " calls " + name}
}

// LinkAll links every call of a trace. A call whose function several steps call is given
// the one of them its neighbours say (Guess): the step of the last call linked for certain
// when it is a candidate, else the first candidate after it. Before any call is linked for
// certain, or with no candidate at or after it, there is nothing to go by: it stays
// unlinked.
func (l *Linker) LinkAll(calls []Call) []Link {
	links := make([]Link, len(calls))
	last := -1
	for i, c := range calls {
		lk := l.Link(c.Site)
		if lk.Step >= 0 {
			last = lk.Step
		} else if len(lk.Candidates) > 0 && last >= 0 {
			for _, s := range lk.Candidates {
				if s == last {
					lk.Step, lk.Guess = s, true
					break
				}
			}
			if !lk.Guess {
				for _, s := range lk.Candidates {
					if s > last {
						lk.Step, lk.Guess = s, true
						break
					}
				}
			}
		}
		links[i] = lk
	}
	return links
}

// deeperSteps is the steps that call the callers of frontier's functions, at any depth.
func (l *Linker) deeperSteps(src *Source, frontier []chain, files []string, seen map[string]bool) []int {
	var steps []int
	names := make([]string, 0, len(frontier))
	for _, c := range frontier {
		names = append(names, c.name)
	}
	for depth := 0; depth < 6 && len(names) > 0; depth++ {
		var next []string
		for _, n := range names {
			for _, f := range files {
				for _, caller := range l.callers(f, n) {
					if !seen[caller] {
						seen[caller] = true
						next = append(next, caller)
						steps = append(steps, l.callingSteps(src, caller)...)
					}
				}
			}
		}
		names = next
	}
	return steps
}

type chain struct {
	name string
	via  []string
}

// callingSteps is the steps of src that call name (not where it is defined).
func (l *Linker) callingSteps(src *Source, name string) []int {
	key := src.Path + " " + name
	if steps, ok := l.steps[key]; ok {
		return steps
	}
	var steps []int
	for i, st := range src.Sequence() {
		for _, ln := range st.Lines {
			if calls(codeOf(ln.Text, src.Lang), name) && !isDefinition(ln.Text, name, src.Lang) {
				steps = append(steps, i)
				break
			}
		}
	}
	l.steps[key] = steps
	return steps
}

// calls tells whether code calls name: name( not preceded by an identifier's character.
func calls(code, name string) bool {
	for i := 0; ; {
		j := strings.Index(code[i:], name+"(")
		if j < 0 {
			return false
		}
		j += i
		if j == 0 || !isIdentChar(code[j-1]) {
			return true
		}
		i = j + 1
	}
}

func isIdentChar(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// isDefinition tells the line that defines name (at column 0) from one that calls it.
func isDefinition(text, name string, lang Lang) bool {
	code := strings.TrimRight(text, " \t")
	if lang == Go {
		return regexp.MustCompile(`^func (\([^)]*\) )?` + regexp.QuoteMeta(name) + `\(`).MatchString(code)
	}
	return regexp.MustCompile(`^[a-z].*[ *]` + regexp.QuoteMeta(name) + `\([^;]*$`).MatchString(code)
}

func (l *Linker) lines(path string) []string {
	lines, ok := l.files[path]
	if !ok {
		b, err := os.ReadFile(filepath.Join(l.root, filepath.FromSlash(path)))
		if err == nil {
			lines = strings.Split(string(b), "\n")
		}
		l.files[path] = lines
	}
	return lines
}

var (
	cDef  = regexp.MustCompile(`^[a-z].*[ *]([a-z_][a-z0-9_]*)\([^;]*$`)
	goDef = regexp.MustCompile(`^func (?:\([^)]*\) )?([A-Za-z_][A-Za-z0-9_]*)[\[(]`)
)

func definition(lang Lang) *regexp.Regexp {
	if lang == Go {
		return goDef
	}
	return cDef
}

// functions is the functions of the file at path, found once.
func (l *Linker) functions(path string) []fn {
	if fs, ok := l.funcs[path]; ok {
		return fs
	}
	var fs []fn
	lang, err := LangOf(path)
	if err == nil {
		def := definition(lang)
		var cur *fn
		for i, text := range l.lines(path) {
			if !strings.HasPrefix(text, " ") && !strings.HasPrefix(text, "\t") {
				if m := def.FindStringSubmatch(text); m != nil {
					fs = append(fs, fn{name: m[1], start: i + 1, end: i + 1})
					cur = &fs[len(fs)-1]
					continue
				}
			}
			if cur == nil {
				continue
			}
			cur.end = i + 1
			if strings.HasPrefix(text, "}") {
				cur = nil
				continue
			}
			cur.code = append(cur.code, codeOf(text, lang))
		}
	}
	l.funcs[path] = fs
	return fs
}

// enclosing is the function of the file at path whose body holds line n, or "".
func (l *Linker) enclosing(path string, n int) string {
	for _, f := range l.functions(path) {
		if n >= f.start && n <= f.end {
			return f.name
		}
	}
	return ""
}

// callers is the functions of the file at path whose bodies call name.
func (l *Linker) callers(path, name string) []string {
	var out []string
	for _, f := range l.functions(path) {
		if f.name == name {
			continue
		}
		for _, code := range f.code {
			if calls(code, name) {
				out = append(out, f.name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
