//go:build linux

package systrace

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Step is one line of a compared sequence, with the entry it came from ("" lines are
// headings).
type Step struct {
	Text  string
	Entry *Entry
}

// Sequence is the model's calls as they are compared (and any call no housekeeping
// row explains, marked, where it was made): each process's in order (its
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
		if e.Class != Model && e.Class != Unexplained {
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
	var out []Step
	enters := ringEnters(byProc)
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
		sort.SliceStable(order, func(i, j int) bool { return fdOrder(order[i]) < fdOrder(order[j]) })
		for _, k := range order {
			out = append(out, Step{Text: "  on " + k + ":"})
			out = append(out, collapse(groups[k])...)
		}
	}
	// The sums come last: a difference in the calls themselves shows first.
	if enters != "" {
		out = append(out, Step{Text: enters})
	}
	return append(out, Step{Text: fmt.Sprintf("-- the stop eventfd written %d times", stops)})
}

var enterRE = regexp.MustCompile(`^io_uring_enter\((d\d+), (\d+), (\d+), ([^,]+),`)

// ringEnters takes io_uring_enter out of each process's sequence and sums it up: how many
// requests were submitted in all, with which minimum and flags. How the kernel's
// completions fall between two enters, and so how many enters it takes, is timing; the
// requests themselves are compared one by one inside the ring (the io_uring tracepoints).
func ringEnters(byProc [][]*Entry) string {
	submitted, calls := 0, 0
	kinds := map[string]bool{}
	for p, es := range byProc {
		kept := es[:0]
		for _, e := range es {
			m := enterRE.FindStringSubmatch(e.Text)
			if m == nil {
				kept = append(kept, e)
				continue
			}
			n, _ := strconv.Atoi(m[2])
			submitted += n
			calls++
			kinds[fmt.Sprintf("io_uring_enter(%s, …, %s, %s, …)", m[1], m[3], m[4])] = true
		}
		byProc[p] = kept
	}
	if calls == 0 {
		return ""
	}
	var k []string
	for x := range kinds {
		k = append(k, x)
	}
	sort.Strings(k)
	return fmt.Sprintf("-- io_uring_enter: %d requests submitted in all, as %s", submitted, strings.Join(k, ", "))
}

// fdOrder sorts descriptor groups by name, not by which thread came first: fd1, fd2,
// then d0, d1... in order of creation, then the calls on none.
func fdOrder(k string) int {
	switch {
	case strings.HasPrefix(k, "fd"):
		n, _ := strconv.Atoi(k[2:])
		return n
	case strings.HasPrefix(k, "d"):
		n, _ := strconv.Atoi(k[1:])
		return 10 + n
	}
	return 1 << 30
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
	if strings.HasPrefix(arg, "[{fd=") { // poll: its first descriptor
		arg = strings.TrimPrefix(arg, "[{fd=")
	}
	if len(arg) > 1 && (arg[0] == 'd' || strings.HasPrefix(arg, "fd")) {
		return arg
	}
	return "-"
}

// notYet: a call that found nothing to do yet.
func notYet(text string) bool {
	return strings.Contains(text, "= -1 EAGAIN") || pollTimeout.MatchString(text) || backoff.MatchString(text)
}

// pollTimeout: a poll that found no descriptor ready. strace writes "= 0 (Timeout)", or
// "= 0" for a poll the kernel resumed after a signal (restart_syscall: only the count).
var pollTimeout = regexp.MustCompile(`^poll\(.*\) = 0( \(Timeout\))?$`)

// backoff is nonblock's sleep between two rounds that found nothing: the step keeps the
// call and masks its length (how many rounds pass before a client speaks is timing; the
// schedule itself is compared by TestNonblockBackoff) and how it ended: slept out, or cut
// short by the stop signal where the signal lands on the sleeping thread (C's handler
// runs on the thread it interrupts; Go's signal goroutine takes it on another), after
// which both go on to the next round.
var backoff = regexp.MustCompile(`^clock_nanosleep\(CLOCK_REALTIME, 0, \{tv_sec=\d+, tv_nsec=\d+\}, NULL\) = (0|\? ERESTART_RESTARTBLOCK \(Interrupted by signal\)|-1 EINTR \(Interrupted system call\))$`)

func stepText(e *Entry) string {
	if e.Class == Unexplained {
		return "(no housekeeping row explains it) " + e.Text
	}
	if backoff.MatchString(e.Text) {
		return "clock_nanosleep(CLOCK_REALTIME, 0, {backoff}, NULL) = 0 or interrupted"
	}
	if pollTimeout.MatchString(e.Text) && !strings.HasSuffix(e.Text, " (Timeout)") {
		return e.Text + " (Timeout)"
	}
	if e.Call.Resumed {
		return e.Text + Resumed
	}
	return e.Text
}

// Resumed ends the text of a step the kernel resumed (restart_syscall): strace shows its
// result's count alone, not what it wrote (poll's revents). Which call is resumed is
// timing: a signal for the process (a child's SIGCHLD, the stop signal) cuts short the
// wait of whichever thread the kernel wakes for it, and one that no handler takes there
// (another thread's, or SIGCHLD's default, which a tracer still sees) resumes it.
const Resumed = " (resumed: strace shows the count alone)"

// sameStep compares two steps; a call the kernel resumed is compared without what strace
// cannot show of its result (poll's revents).
func sameStep(a, b Step) bool {
	if a.Text == b.Text {
		return true
	}
	if strings.HasSuffix(a.Text, Resumed) || strings.HasSuffix(b.Text, Resumed) {
		return resultCount(strings.TrimSuffix(a.Text, Resumed)) == resultCount(strings.TrimSuffix(b.Text, Resumed))
	}
	return false
}

// resultCount cuts a call's text after its result's number.
func resultCount(t string) string {
	i := strings.LastIndex(t, ") = ")
	if i < 0 {
		return t
	}
	f := strings.Fields(t[i+4:])
	if len(f) == 0 {
		return t
	}
	return t[:i+4] + f[0]
}

// collapse turns each run of not-yet calls into one step: the distinct calls of the
// run, in the order of their first appearance, marked "(one or more)". How many rounds
// find nothing before the next event is timing; which calls a loop makes while it finds
// nothing is the model's, so a loop that spins where the other does not, or polls a
// different thing, still shows.
func collapse(es []*Entry) []Step {
	var out []Step
	for i := 0; i < len(es); {
		s := Step{Text: stepText(es[i]), Entry: es[i]}
		if !notYet(es[i].Text) {
			out = append(out, s)
			i++
			continue
		}
		j := i
		seen := map[string]bool{}
		var run []string
		for ; j < len(es) && notYet(es[j].Text); j++ {
			if t := stepText(es[j]); !seen[t] {
				seen[t] = true
				run = append(run, t)
			}
		}
		s.Text = "(one or more) " + strings.Join(run, " | ")
		out = append(out, s)
		i = j
	}
	return out
}

// Diff shows where two sequences part: the first differing step, both lines, and a few
// steps of context with the site of each call; "" when they are the same.
func Diff(c, g []Step, cn, gn string) string {
	i := 0
	for i < len(c) && i < len(g) && sameStep(c[i], g[i]) {
		i++
	}
	if i == len(c) && i == len(g) {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "first difference at step %d (%s %d steps, %s %d)\n", i+1, cn, len(c), gn, len(g))
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
		same := j < len(c) && j < len(g) && sameStep(c[j], g[j])
		mark := "  "
		if !same {
			mark = "! "
		}
		if same {
			fmt.Fprintf(&sb, "%s%4d  %s\n", mark, j+1, ct)
			continue
		}
		fmt.Fprintf(&sb, "%s%4d  %s: %s    [%s]\n", mark, j+1, cn, ct, cs)
		fmt.Fprintf(&sb, "        %s: %s    [%s]\n", gn, gt, gs)
	}
	return sb.String()
}
