//go:build linux

// Package systrace reads what a server asked of the kernel: `strace -f -k` output, parsed
// into calls with their stacks, split into the model's own calls (compared argument for
// argument, C against Go) and the language runtime's housekeeping (named by the rows of
// one table), and written as the normalised traces kept in compare/testdata/traces.
package systrace

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Frame is one line of a call's stack: the module (an executable or a library), the
// function and the offset in it, as strace -k prints them.
type Frame struct {
	Module string
	Func   string
	Off    uint64
}

// Call is one system call of a traced process.
type Call struct {
	Tid    int
	Name   string
	Args   string // the argument list as strace prints it, without the outer parentheses
	Result string // what follows " = ": "5", "-1 EAGAIN (Resource temporarily unavailable)"
	Stack  []Frame
	// Resumed: the kernel resumed the call after a stop (restart_syscall); strace shows
	// its result's count but not what it wrote (poll's revents).
	Resumed bool
	// Line is where the call stands in the trace: where it completed, the moment its
	// effect (a descriptor given, bytes read, a wait's answer) exists; for close, where it
	// started, the moment its descriptor's number is free again (another thread's accept
	// can return that number before the close returns).
	Line int
}

var (
	straceLine = regexp.MustCompile(`^(\d+) +(.*)$`)
	callStart  = regexp.MustCompile(`^([a-z0-9_]+)\((.*)$`)
	resumed    = regexp.MustCompile(`^<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)
	frameLine  = regexp.MustCompile(`^ > (\S+?)\((.*?)(?:\+0x([0-9a-f]+))?\) \[0x[0-9a-f]+\]$`)
	resultRE   = regexp.MustCompile(`\)\s+= (.*)$`)
)

// Parse reads `strace -f -qq -k` output. A call strace split in two (<unfinished ...>,
// <... resumed>) is joined; its stack follows the line where it completed.
func Parse(r io.Reader) ([]Call, error) {
	var calls []Call
	pending := map[int]int{} // tid -> index of its unfinished call
	orphan := map[int]int{}  // tid -> its call left unfinished when the thread made another
	drop := map[int]bool{}   // restart_syscall calls folded into the call they resumed
	entered := map[int]int{} // index of an unfinished call -> the line it started on
	last := -1               // the call the next stack lines belong to
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for line := 0; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, " > ") {
			if last >= 0 {
				if m := frameLine.FindStringSubmatch(text); m != nil {
					off, _ := strconv.ParseUint(m[3], 16, 64)
					calls[last].Stack = append(calls[last].Stack, Frame{Module: m[1], Func: m[2], Off: off})
				} else {
					calls[last].Stack = append(calls[last].Stack, Frame{Func: strings.TrimPrefix(text, " > ")})
				}
			}
			continue
		}
		last = -1
		m := straceLine.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		tid, _ := strconv.Atoi(m[1])
		rest := m[2]
		if r := resumed.FindStringSubmatch(rest); r != nil {
			i, ok := pending[tid]
			if !ok {
				continue
			}
			delete(pending, tid)
			calls[i].Args += r[2]
			calls[i].finish(line)
			last = resume(calls, i, orphan, drop)
			if calls[i].Name == "close" {
				calls[i].Line = entered[i]
			}
			continue
		}
		c := callStart.FindStringSubmatch(rest)
		if c == nil {
			continue // --- signals ---
		}
		cl := Call{Tid: tid, Name: c[1], Args: c[2], Line: line}
		if i, ok := pending[tid]; ok {
			if _, cut := orphan[tid]; cut && calls[i].Name == "restart_syscall" {
				drop[i] = true // a restart cut short in turn: the orphan is still the call
			} else {
				orphan[tid] = i // never resumed: restart_syscall may finish it
			}
			delete(pending, tid)
		}
		if strings.HasSuffix(rest, "<unfinished ...>") {
			// strace prints "f(a, <unfinished ...>" and then "<... f resumed>b) = r".
			cl.Args = strings.TrimRight(strings.TrimSuffix(strings.TrimRight(cl.Args, " "), "<unfinished ...>"), " ")
			if strings.HasSuffix(cl.Args, ",") {
				cl.Args += " "
			}
			pending[tid] = len(calls)
			entered[len(calls)] = line
			calls = append(calls, cl)
			continue
		}
		cl.finish(line)
		calls = append(calls, cl)
		last = resume(calls, len(calls)-1, orphan, drop)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	kept := calls[:0]
	for i, c := range calls {
		if !drop[i] {
			kept = append(kept, c)
		}
	}
	calls = kept
	// A call still unfinished at the end (exit_group, a wait cut by the exit) stands where
	// it started.
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].Line < calls[j].Line })
	return calls, nil
}

var restartRE = regexp.MustCompile(`^<\.\.\. resuming interrupted (\w+) \.\.\.>`)

// resume folds a completed restart_syscall into the call it resumed: that call, left
// unfinished on the same thread, gets its result, and the stack lines that follow. It
// returns the call those stack lines belong to.
func resume(calls []Call, i int, orphan map[int]int, drop map[int]bool) int {
	c := calls[i]
	m := restartRE.FindStringSubmatch(c.Args)
	if c.Name != "restart_syscall" || m == nil {
		return i
	}
	// A restart_syscall cut short in turn is resumed by another ("resuming interrupted
	// restart_syscall"): both are the first call again, the thread's orphan (Parse drops
	// the restarts in between) or the call a completed restart was folded into.
	chained := m[1] == "restart_syscall"
	if o, ok := orphan[c.Tid]; ok && (calls[o].Name == m[1] || chained) {
		delete(orphan, c.Tid)
		calls[o].Result, calls[o].Line, calls[o].Stack, calls[o].Resumed = c.Result, c.Line, nil, true
		drop[i] = true
		return o
	}
	// The call returned ERESTART_RESTARTBLOCK (a stop or a handler in between): the
	// restart_syscall is that call again.
	for o := i - 1; o >= 0; o-- {
		if calls[o].Tid != c.Tid {
			continue
		}
		if (calls[o].Name == m[1] || chained && calls[o].Resumed) && strings.Contains(calls[o].Result, "ERESTART") {
			calls[i].Name, calls[i].Args, calls[i].Resumed = calls[o].Name, calls[o].Args, true
		}
		return i
	}
	return i
}

// finish splits the result off a completed call's arguments.
func (c *Call) finish(line int) {
	c.Line = line
	if m := resultRE.FindStringSubmatchIndex(c.Args); m != nil {
		c.Result = strings.TrimSpace(c.Args[m[2]:m[3]])
		c.Args = c.Args[:m[0]]
	}
}

// SplitArgs splits an argument list at its top-level commas.
func SplitArgs(s string) []string {
	var out []string
	depth, start, quoted, escaped := 0, 0, false, false
	for i, r := range s {
		if quoted {
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == '"':
				quoted = false
			}
			continue
		}
		switch r {
		case '"':
			quoted = true
		case '[', '{', '(':
			depth++
		case ']', '}', ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" || len(out) > 0 {
		out = append(out, t)
	}
	return out
}

// IntResult is the call's result as a number, if it is one.
func (c Call) IntResult() (int, bool) {
	f := strings.Fields(c.Result)
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.Atoi(f[0])
	return v, err == nil
}

// Failed is the errno name of a failed call ("EAGAIN"), or "".
func (c Call) Failed() string {
	f := strings.Fields(c.Result)
	if len(f) >= 2 && f[0] == "-1" {
		return f[1]
	}
	if len(f) >= 1 && f[0] == "?" && strings.Contains(c.Result, "ERESTART") {
		return "ERESTART"
	}
	for _, w := range f {
		if strings.HasPrefix(w, "ERESTART") {
			return w
		}
	}
	return ""
}

func (f Frame) String() string {
	if f.Off == 0 {
		return fmt.Sprintf("%s(%s)", f.Module, f.Func)
	}
	return fmt.Sprintf("%s(%s+%#x)", f.Module, f.Func, f.Off)
}
