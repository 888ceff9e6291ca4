package sidebyside

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// View is one model's page: its aligned twins, its two traces and its picture.
type View struct {
	Model   *Model
	IOModel string // the seed's name of the I/O model, for the title
	Picture *Picture
	Traces  [2]TraceView // C, Go
}

// TraceView is one language's trace as the page shows it.
type TraceView struct {
	Lang    Lang
	Path    string // where it is stored, relative to the root
	Trace   *Trace // nil when none is stored
	Missing string // why Trace is nil
	Links   []Link // Links[i] is Trace.Calls[i]'s
}

// NewView reads what a model's page shows: the twins (checked against each other), the
// picture (its steps checked against the markers) and the traces, linked to the steps.
func NewView(cfg Config, name, ioModel string) (*View, error) {
	root := cfg.Root
	m, err := LoadModel(root, name)
	if err != nil {
		return nil, err
	}
	pic, err := LoadPicture(cfg.path(cfg.Pictures), name)
	if err != nil {
		return nil, err
	}
	if err := pic.CheckSteps(m); err != nil {
		return nil, err
	}
	v := &View{Model: m, IOModel: ioModel, Picture: pic}
	linker := NewLinker(root, m)
	for i, lang := range []Lang{C, Go} {
		ext := map[Lang]string{C: "c", Go: "go"}[lang]
		p := filepath.Join(cfg.path(cfg.Traces), name+"."+ext+".trace")
		tv := TraceView{Lang: lang, Path: relTo(root, p)}
		f, err := os.Open(p)
		if err != nil {
			tv.Missing = fmt.Sprintf("no trace stored at %s", tv.Path)
			v.Traces[i] = tv
			continue
		}
		tr, err := ReadTrace(tv.Path, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		tv.Trace = tr
		tv.Links = linker.LinkAll(tr.Calls)
		v.Traces[i] = tv
	}
	return v, nil
}

func relTo(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return p
}

// SourcePages is the project files the page links into besides the model's twins (the
// sites of calls made in shared code), relative to the root.
func (v *View) SourcePages() []string {
	set := map[string]bool{}
	for _, tv := range v.Traces {
		if tv.Trace == nil {
			continue
		}
		for _, c := range tv.Trace.Calls {
			if c.Site.Path != "" && c.Site.Path != v.Model.C.Path && c.Site.Path != v.Model.Go.Path {
				set[c.Site.Path] = true
			}
		}
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// SourcePageName is the file name of a source's page in the output directory.
func SourcePageName(path string) string {
	return "src-" + strings.NewReplacer("/", "_", ".", "_").Replace(path) + ".html"
}

const style = `
body { font-family: sans-serif; margin: 0 1.2em 2em; color: #222; }
h1 { font-size: 1.5em; margin: .6em 0 .2em; } h2 { font-size: 1.2em; margin: 1.2em 0 .4em; }
nav { font-size: .9em; margin: .6em 0; } nav a { margin-right: .6em; }
.intro { max-width: 70em; }
.picture img { max-width: 100%; border: 1px solid #ddd; }
.main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1.2em; align-items: start; }
table.code { border-collapse: collapse; width: 100%; table-layout: fixed; font-size: 12px; }
table.code td { font-family: monospace; white-space: pre-wrap; vertical-align: top; padding: 0 .3em; word-break: break-word; }
table.code td.n { color: #888; text-align: right; width: 2.6em; user-select: none; }
table.code col.code { width: 50%; }
table.code tr.step th { text-align: left; background: #e4ecf7; color: #1d4f91; padding: .35em .4em; font-size: 13px; border-top: 2px solid #9fb6d8; }
table.code tr.step th .defer { font-weight: normal; color: #555; }
table.code tr.header td { color: #555; }
table.code tr.marker td { color: #1d4f91; font-weight: bold; }
table.code td.only { background: #fff4e0; }
table.code tr.why td { font-family: sans-serif; white-space: normal; font-size: 11.5px; color: #7a4b00; background: #fffaf0; padding: .15em .5em .3em; }
table.code tr:target td, table.code td:target { background: #ffe98a; }
.traces { position: sticky; top: 0; max-height: 100vh; overflow: auto; }
.trace h3 { font-size: 1em; margin: .8em 0 .2em; }
.trace .title { font-size: .85em; color: #555; margin-bottom: .3em; }
table.calls { border-collapse: collapse; font-size: 11.5px; width: 100%; }
table.calls td { font-family: monospace; padding: 1px .3em; vertical-align: top; border-bottom: 1px solid #f0f0f0; }
table.calls td.call { word-break: break-all; }
table.calls td.where { font-family: sans-serif; white-space: nowrap; }
table.calls tr.runtime td { color: #888; background: #f7f7f7; font-family: sans-serif; }
table.calls tr:target td { background: #ffe98a; }
.missing { color: #a00; }
.housekeeping { font-size: .85em; } .housekeeping td { padding: 0 .4em; vertical-align: top; }
table.index { border-collapse: collapse; } table.index td, table.index th { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
table.index img { width: 360px; border: 1px solid #ddd; }
pre.src { font-size: 12px; } pre.src span:target { background: #ffe98a; }
`

func e(s string) string { return html.EscapeString(s) }

// HTML renders the model's page; nav lists every model's name for the links between pages.
func (v *View) HTML(nav []string) string {
	m := v.Model
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s: C and Go side by side</title><style>%s</style></head><body>\n", e(m.Name), style)
	b.WriteString(`<nav><a href="index.html">all models</a> `)
	for _, n := range nav {
		if n == m.Name {
			fmt.Fprintf(&b, "<b>%s</b> ", e(n))
		} else {
			fmt.Fprintf(&b, `<a href="%s.html">%s</a> `, e(n), e(n))
		}
	}
	b.WriteString("</nav>\n")
	fmt.Fprintf(&b, "<h1>%s <small>(%s)</small></h1>\n", e(m.Name), e(v.IOModel))
	fmt.Fprintf(&b, `<p class="intro"><code>%s</code> and <code>%s</code>, aligned on the model's steps (the <code>step:</code> comments of both files). Matching lines share a row; a line of one language alone is tinted, with the reason below it. On the right, the system calls of one connection and the stop, as strace saw them: each call links to the step and the line that made it; the language runtime's own calls are grey and named.</p>`+"\n", e(m.C.Path), e(m.Go.Path))
	fmt.Fprintf(&b, `<h2>Who waits where, who wakes whom</h2><div class="picture"><img id="picture" src="%s.svg" alt="%s"></div>`+"\n", e(m.Name), e(v.Picture.Title))

	b.WriteString(`<div class="main"><div class="steps"><h2>The steps, C beside Go</h2>` + "\n")
	v.writeCode(&b)
	b.WriteString("</div>\n<div class=\"traces\"><h2>System calls</h2>\n")
	for _, tv := range v.Traces {
		v.writeTrace(&b, tv)
	}
	b.WriteString("</div></div>\n</body></html>\n")
	return b.String()
}

func (v *View) writeCode(b *strings.Builder) {
	m := v.Model
	fmt.Fprintf(b, `<table class="code" id="code"><colgroup><col style="width:2.8em"><col class="code"><col style="width:2.8em"><col class="code"></colgroup>`+"\n")
	fmt.Fprintf(b, "<tr><th colspan=2>C: <code>%s</code></th><th colspan=2>Go: <code>%s</code></th></tr>\n", e(m.C.Path), e(m.Go.Path))
	step := 0
	for _, blk := range Align(m) {
		id := ""
		if blk.Name != "" {
			id = fmt.Sprintf(` id="step-%d"`, step)
			step++
		}
		title := e(blk.Title)
		if blk.Name != "" {
			title = "step: " + title
		}
		if blk.Deferred {
			title += ` <span class="defer">(Go writes it earlier, with <code>defer</code>; it runs here, when the function returns)</span>`
		}
		fmt.Fprintf(b, "<tr class=\"step\"%s><th colspan=4>%s</th></tr>\n", id, title)
		for i, r := range blk.Rows {
			cls := ""
			if blk.Name == "" {
				cls = "header"
			}
			if (r.C != nil && r.C.Marker) || (r.Go != nil && r.Go.Marker) {
				cls = "marker"
			}
			fmt.Fprintf(b, "<tr class=\"%s\">%s%s</tr>\n", cls, cell2("c", r.C, r.Only() == C), cell2("go", r.Go, r.Only() == Go))
			if r.Why != "" && RunEnds(blk.Rows, i) {
				fmt.Fprintf(b, "<tr class=\"why\"><td colspan=4>%s only: %s</td></tr>\n", r.Only(), e(r.Why))
			}
		}
	}
	b.WriteString("</table>\n")
}

func cell2(prefix string, l *Line, only bool) string {
	if l == nil {
		return `<td class="n"></td><td></td>`
	}
	cls := ""
	if only {
		cls = ` class="only"`
	}
	return fmt.Sprintf(`<td class="n" id="%s-L%d">%d</td><td%s>%s</td>`, prefix, l.N, l.N, cls, e(strings.ReplaceAll(l.Text, "\t", "    ")))
}

func (v *View) writeTrace(b *strings.Builder, tv TraceView) {
	fmt.Fprintf(b, `<div class="trace" id="trace-%s"><h3>%s (<code>%s</code>)</h3>`+"\n", strings.ToLower(string(tv.Lang)), tv.Lang, e(tv.Path))
	if tv.Trace == nil {
		fmt.Fprintf(b, "<p class=\"missing\">%s</p></div>\n", e(tv.Missing))
		return
	}
	fmt.Fprintf(b, "<div class=\"title\">%s</div>\n", e(strings.Join(tv.Trace.Comments, " — ")))
	src := v.Model.C
	prefix := "c"
	if tv.Lang == Go {
		src, prefix = v.Model.Go, "go"
	}
	seq := src.Sequence()
	b.WriteString(`<table class="calls">` + "\n")
	house := map[string][]Call{}
	var order []string
	calls := tv.Trace.Calls
	for i := 0; i < len(calls); i++ {
		c := calls[i]
		if !c.IsModel() {
			// A run of housekeeping: one grey row, named, in place.
			j := i
			counts := map[string]int{}
			var names []string
			for ; j < len(calls) && !calls[j].IsModel(); j++ {
				n := calls[j].Housekeeping()
				if counts[n] == 0 {
					names = append(names, n)
				}
				counts[n]++
				if len(house[n]) == 0 {
					order = append(order, n)
				}
				house[n] = append(house[n], calls[j])
			}
			var parts []string
			for _, n := range names {
				parts = append(parts, fmt.Sprintf("%s ×%d", n, counts[n]))
			}
			fmt.Fprintf(b, "<tr class=\"runtime\"><td>%s</td><td colspan=2>runtime: %s</td></tr>\n", e(c.Process), e(strings.Join(parts, ", ")))
			i = j - 1
			continue
		}
		lk := tv.Links[i]
		where := ""
		if lk.Step >= 0 {
			title := "the step that made this call"
			if lk.Guess {
				title = "one of the steps that call " + lk.Via[len(lk.Via)-1] + ", chosen by the calls around this one"
			}
			where = fmt.Sprintf(`<a href="#step-%d" title="%s">%s</a>`, lk.Step, e(title), e(seq[lk.Step].Name))
			if lk.Guess {
				where += "?"
			}
		} else if lk.Note != "" {
			where = e(lk.Note)
		}
		if c.Site.Path == src.Path && c.Site.Line > len(src.Lines) {
			// A trace older than the source: say so rather than link to nothing.
			where += fmt.Sprintf(` · %s:%d (beyond the file: the trace is older than the source)`, e(shortPath(c.Site.Path)), c.Site.Line)
		} else if c.Site.Path != "" {
			href := fmt.Sprintf("#%s-L%d", prefix, c.Site.Line)
			if c.Site.Path != src.Path {
				href = SourcePageName(c.Site.Path) + fmt.Sprintf("#L%d", c.Site.Line)
			}
			via := ""
			if len(lk.Via) > 1 {
				via = " via " + strings.Join(lk.Via[1:], " ← ")
			}
			where += fmt.Sprintf(` · <a href="%s" title="%s%s">%s:%d</a>`, e(href), e(c.Site.Func), e(via), e(shortPath(c.Site.Path)), c.Site.Line)
		}
		fmt.Fprintf(b, "<tr id=\"%s-call-%d\"><td>%s</td><td class=\"call\">%s</td><td class=\"where\">%s</td></tr>\n", prefix, c.N, e(c.Process), e(c.Text), where)
	}
	b.WriteString("</table>\n")
	if len(order) > 0 {
		fmt.Fprintf(b, "<p><b>%s's runtime housekeeping</b> (not the model's calls; the rows name what the runtime does):</p><table class=\"housekeeping\">\n", tv.Lang)
		for _, n := range order {
			calls := "calls"
			if len(house[n]) == 1 {
				calls = "call"
			}
			fmt.Fprintf(b, "<tr><td><code>%s</code></td><td>%d %s</td><td>for example <code>%s</code></td></tr>\n", e(n), len(house[n]), calls, e(house[n][0].Text))
		}
		b.WriteString("</table>\n")
	}
	b.WriteString("</div>\n")
}

func shortPath(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// SourceHTML renders a whole source file with a line anchor per line (#L12).
func SourceHTML(path, text string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title><style>%s</style></head><body>\n<nav><a href=\"index.html\">all models</a></nav><h1><code>%s</code></h1><pre class=\"src\">", e(path), style, e(path))
	for i, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fmt.Fprintf(&b, "<span id=\"L%d\">%5d  %s</span>\n", i+1, i+1, e(strings.ReplaceAll(l, "\t", "    ")))
	}
	b.WriteString("</pre></body></html>\n")
	return b.String()
}

// IndexEntry is one model's line of the index.
type IndexEntry struct {
	Name, IOModel string
	Steps         int
	Calls         [2]int // the model's calls in the C and the Go trace; -1 without a trace
}

// IndexHTML renders the index of every model's page.
func IndexHTML(entries []IndexEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>iomodels: C and Go side by side</title><style>%s</style></head><body>\n", style)
	b.WriteString("<h1>Linux I/O models in C and Go, side by side</h1>\n")
	b.WriteString(`<p class="intro">Each page shows one model: its C file (<code>csrc/</code>) and its Go port (<code>gosrv/</code>) aligned step by step, the system calls of one connection in each language, and a picture of who waits where and who wakes whom. Generated by <code>go run ./compare/cmd/sidebyside</code>.</p>` + "\n")
	b.WriteString("<table class=\"index\"><tr><th>model</th><th>I/O model</th><th>steps</th><th>model calls (C / Go)</th><th>picture</th></tr>\n")
	for _, en := range entries {
		calls := func(n int) string {
			if n < 0 {
				return "no trace"
			}
			return fmt.Sprint(n)
		}
		fmt.Fprintf(&b, `<tr><td><a href="%s.html">%s</a></td><td>%s</td><td>%d</td><td>%s / %s</td><td><a href="%s.html"><img src="%s.svg" alt="%s"></a></td></tr>`+"\n",
			e(en.Name), e(en.Name), e(en.IOModel), en.Steps, calls(en.Calls[0]), calls(en.Calls[1]), e(en.Name), e(en.Name), e(en.Name))
	}
	b.WriteString("</table></body></html>\n")
	return b.String()
}

// ModelCalls is how many of the trace's calls are the model's, -1 without a trace.
func (tv TraceView) ModelCalls() int {
	if tv.Trace == nil {
		return -1
	}
	n := 0
	for _, c := range tv.Trace.Calls {
		if c.IsModel() {
			n++
		}
	}
	return n
}
