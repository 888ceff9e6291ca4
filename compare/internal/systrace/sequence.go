//go:build linux

package systrace

import (
	"fmt"
	"regexp"
	"strings"
)

// Step is one line of a compared sequence, with the entry it came from ("" lines are
// headings).
type Step struct {
	Text  string
	Entry *Entry
}

// Sequence is the model's calls as they are compared: each process's in order (its
// children after it, in order of creation); with perDescriptor (a model whose threads'
// calls interleave by timing), each process's calls grouped by the descriptor they act
// on, each group in order. Runs of calls that found nothing yet (EAGAIN, a zero-timeout
// poll that saw nothing) are one step, marked "(one or more)": a loop that spins where
// the other does not still shows as a different shape.
func (t *Trace) Sequence(perDescriptor bool) []Step {
	byProc := make([][]*Entry, t.Procs)
	stop, stops := "", 0
	for i := range t.Entries {
		e := &t.Entries[i]
		if e.Class != Model {
			continue
		}
		if e.Proc == 0 && stop == "" && strings.HasPrefix(e.Text, "eventfd2(0, EFD_CLOEXEC) = ") {
			stop = "write(" + strings.TrimPrefix(e.Text, "eventfd2(0, EFD_CLOEXEC) = ") + ", "
		}
		if e.Proc == 0 && stop != "" && strings.HasPrefix(e.Text, stop) {
			// The stop: C's handler writes the stop eventfd on the thread the signal
			// interrupted, at whatever call it interrupted; Go's signal goroutine on a
			// thread of its own. Where it lands is not the model's: it is counted apart.
			stops++
			continue
		}
		byProc[e.Proc] = append(byProc[e.Proc], e)
	}
	out := []Step{{Text: fmt.Sprintf("-- the stop eventfd written %d times", stops)}}
	for p, es := range byProc {
		out = append(out, Step{Text: fmt.Sprintf("-- process %d", p)})
		if !perDescriptor {
			out = append(out, collapse(es)...)
			continue
		}
		var order []string
		groups := map[string][]*Entry{}
		for _, e := range es {
			key := firstFd(e.Text)
			if _, ok := groups[key]; !ok {
				order = append(order, key)
			}
			groups[key] = append(groups[key], e)
		}
		for _, k := range order {
			out = append(out, Step{Text: "  on " + k + ":"})
			out = append(out, collapse(groups[k])...)
		}
	}
	return out
}

// firstFd is the descriptor a call acts on: its first renamed one, or "-".
func firstFd(text string) string {
	open := strings.IndexByte(text, '(')
	if open < 0 {
		return "-"
	}
	arg := text[open+1:]
	if end := strings.IndexAny(arg, ",)"); end >= 0 {
		arg = arg[:end]
	}
	if strings.HasPrefix(arg, "[{fd=") { // poll: the first descriptor after the stop eventfd's
		return "poll"
	}
	if len(arg) > 1 && (arg[0] == 'd' || strings.HasPrefix(arg, "fd")) {
		return arg
	}
	return "-"
}

// notYet: a call that found nothing to do yet.
func notYet(text string) bool {
	return strings.Contains(text, "= -1 EAGAIN") || strings.HasPrefix(text, "poll(") && strings.HasSuffix(text, "= 0 (Timeout)") ||
		backoff.MatchString(text)
}

// backoff is nonblock's sleep between two rounds that found nothing: the step keeps the
// call and masks its length (how many rounds pass before a client speaks is timing; the
// schedule itself is compared by TestNonblockBackoff).
var backoff = regexp.MustCompile(`^clock_nanosleep\(CLOCK_REALTIME, 0, \{tv_sec=\d+, tv_nsec=\d+\}, NULL\) = 0$`)

func stepText(e *Entry) string {
	if backoff.MatchString(e.Text) {
		return "clock_nanosleep(CLOCK_REALTIME, 0, {backoff}, NULL) = 0"
	}
	return e.Text
}

// collapse turns each run of a repeated block of not-yet calls (one to four calls long)
// into one copy of the block, marked.
func collapse(es []*Entry) []Step {
	steps := make([]Step, len(es))
	for i, e := range es {
		steps[i] = Step{Text: stepText(e), Entry: e}
	}
	for l := 1; l <= 4; l++ {
		var out []Step
		for i := 0; i < len(steps); {
			if i+2*l <= len(steps) && allNotYet(steps[i:i+l]) && same(steps[i:i+l], steps[i+l:i+2*l]) {
				j := i + l
				for j+l <= len(steps) && same(steps[i:i+l], steps[j:j+l]) {
					j += l
				}
				for k, s := range steps[i : i+l] {
					if k == 0 && !strings.HasPrefix(s.Text, "(one or more) ") {
						s.Text = "(one or more) " + s.Text
					}
					out = append(out, s)
				}
				i = j
				continue
			}
			out = append(out, steps[i])
			i++
		}
		steps = out
	}
	return steps
}

func allNotYet(s []Step) bool {
	for _, x := range s {
		if !notYet(strings.TrimPrefix(x.Text, "(one or more) ")) {
			return false
		}
	}
	return true
}

func same(a, b []Step) bool {
	for i := range a {
		if strings.TrimPrefix(a[i].Text, "(one or more) ") != strings.TrimPrefix(b[i].Text, "(one or more) ") {
			return false
		}
	}
	return true
}

// Diff shows where two sequences part: the first differing step, both lines, and a few
// steps of context with the site of each call; "" when they are the same.
func Diff(c, g []Step) string {
	i := 0
	for i < len(c) && i < len(g) && c[i].Text == g[i].Text {
		i++
	}
	if i == len(c) && i == len(g) {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "first difference at step %d (C %d steps, Go %d)\n", i+1, len(c), len(g))
	at := func(s []Step, j int) (string, string) {
		if j >= len(s) {
			return "(none)", ""
		}
		if s[j].Entry == nil {
			return s[j].Text, ""
		}
		return s[j].Text, s[j].Entry.Site
	}
	for j := max(0, i-4); j < i+4 && (j < len(c) || j < len(g)); j++ {
		ct, cs := at(c, j)
		gt, gs := at(g, j)
		mark := "  "
		if ct != gt {
			mark = "! "
		}
		if ct == gt {
			fmt.Fprintf(&sb, "%s%4d  %s\n", mark, j+1, ct)
			continue
		}
		fmt.Fprintf(&sb, "%s%4d  C:  %s    [%s]\n", mark, j+1, ct, cs)
		fmt.Fprintf(&sb, "        Go: %s    [%s]\n", gt, gs)
	}
	return sb.String()
}
