//go:build linux

package systrace

import (
	"fmt"
	"sort"
	"strings"
)

// Format writes a trace as it is kept for readers: a comment, then one line per call,
// tab-separated: process (p0 the server, p1.. its children), class (model, or runtime:ROW
// with ROW a row of Housekeeping), the normalised call, its site.
func (t *Trace) Format(model string) string {
	lang := "C"
	if t.Server.Lang == Go {
		lang = "Go"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "# %s, %s: one connection served, then one silent connection at the stop (SIGTERM)\n", model, lang)
	sb.WriteString("# columns: process, class, call, site\n")
	for _, e := range t.Entries {
		fmt.Fprintf(&sb, "p%d\t%s\t%s\t%s\n", e.Proc, e.Class, oneLine(e.Text), e.Site)
	}
	return sb.String()
}

// oneLine keeps a call on its line: strace escapes newlines in strings, but a tab could
// appear in a log line.
func oneLine(s string) string { return strings.NewReplacer("\t", `\t`, "\n", `\n`).Replace(s) }

// ModelSites is what a formatted trace says that does not vary from run to run: which
// system calls the model makes from which lines of its source (a set: how many idle
// rounds, how threads interleave, whether an idle round had begun when the stop came, is
// timing: calls that found nothing are left out). A file whose set differs from a fresh
// run's is stale: the source moved, or the model changed.
func ModelSites(formatted string) string {
	set := map[string]bool{}
	for _, l := range strings.Split(formatted, "\n") {
		f := strings.Split(l, "\t")
		if len(f) == 4 && f[1] == Model && !notYet(f[2]) {
			name, _, _ := strings.Cut(f[2], "(")
			set[name+" "+f[3]] = true
		}
	}
	var list []string
	for k := range set {
		list = append(list, k)
	}
	sort.Strings(list)
	return strings.Join(list, "\n")
}

// Stack is the call's stack, innermost first, as function names.
func (e Entry) Stack() string {
	var f []string
	for _, fr := range e.Call.Stack[:min(8, len(e.Call.Stack))] {
		f = append(f, fr.Func)
	}
	if len(f) == 0 {
		return NoStack
	}
	return strings.Join(f, " < ")
}

// Next is the same thread's next call as strace printed it ("" for the last).
func (e Entry) Next() string { return e.next }
