//go:build linux

package systrace

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Lang is the language a server is written in.
type Lang string

const (
	C  Lang = "c"
	Go Lang = "go"
)

// Server names the traced program: its executable (to tell its frames from libc's) and
// the repository it was built from (to name a call's site by a path in it).
type Server struct {
	Lang Lang
	Path string
	Root string
}

// Entry is one call of a trace, placed: its process, its class, its normalised text and
// the line of the project's code that made it.
type Entry struct {
	Proc  int    // 0 for the server, 1.. for its children in order of creation
	Class string // Model, or "runtime:" and the name of the housekeeping row that explains it
	Text  string
	Site  string // "gosrv/common.go:123 gosrv.acceptConn"; "" where no frame is the project's
	Call  Call
	// site is the function of the innermost project frame, and via the language
	// runtime's machinery between it and the kernel ("runtime.newm", "malloc"), if any;
	// next is the same thread's next call as strace printed it, or LastCall.
	siteFunc, via, next string
}

// LastCall is the next call of a thread's last one: the thread made no other call before
// the process ended (its own exit, a call of its, is one).
const LastCall = "(none: the process ended)"

// Model is the class of a call compared C against Go.
const Model = "model"

// Unexplained is the class of a call neither the model's (no frame of the project's
// code) nor explained by a housekeeping row: a trace with one fails, and the call stands
// in the compared sequence where it was made.
const Unexplained = "runtime:?"

// Trace is a server's run, analysed.
type Trace struct {
	Server  Server
	Entries []Entry // from the server's main to its exit; start-up before main is left out
	// Unexplained are the calls that are not the model's and that no housekeeping row
	// explains: each one is a difference the table does not name.
	Unexplained []Entry
	// Dispositions is each signal's disposition at the exit: "handled", "ignored"; a
	// signal left at its default is absent.
	Dispositions map[string]string
	Procs        int
}

const module = "github.com/iomodels/iomodels/"

// goWrapper: project functions that only pass a call to the kernel; the site is their
// caller.
var goWrapper = regexp.MustCompile(`^` + regexp.QuoteMeta(module) + `gosrv\.(rawSyscall6?|rawCalls\.\w+|poll|epollWait|ignoringEINTR|sigtimedwait)(\.abi0)?$`)

// goSyscallPath: the packages between Go code and the SYSCALL instruction.
// runtimeSyscall is the runtime's own system-call package (the syscall package goes
// through it too: a row matching it says which calls only the runtime makes).
var runtimeSyscall = regexp.MustCompile(`^(internal/runtime/syscall(/linux)?|runtime/internal/syscall)\.`)

var goSyscallPath = regexp.MustCompile(`^(syscall|golang\.org/x/sys/unix|internal/runtime/syscall(/linux)?|runtime/internal/syscall|internal/syscall/unix)\.`)

// cMachinery: libc's own work between C code and the kernel (memory, threads), as
// opposed to a system call's wrapper.
var cMachinery = regexp.MustCompile(`malloc|calloc|realloc|free|tcache|arena|pthread_(create|join|cond|mutex|kill)|lll_lock|nptl|start_thread|create_thread|clone|_IO_|fork|qsort|_dl_`)

func (s Server) projectFrame(f Frame) bool {
	if s.Lang == Go {
		return strings.HasPrefix(f.Func, module) || strings.HasPrefix(f.Func, "main.")
	}
	return f.Module == s.Path && f.Func != "_start" && f.Func != ""
}

// site finds the innermost frame of the project's own code that is not a wrapper, and
// the first frame of runtime or libc machinery between it and the kernel, if any.
func (s Server) site(stack []Frame) (i int, via string) {
	for i, f := range stack {
		if !s.projectFrame(f) {
			continue
		}
		if s.Lang == Go && goWrapper.MatchString(f.Func) {
			continue
		}
		for _, g := range stack[:i] {
			if s.projectFrame(g) {
				continue
			}
			switch s.Lang {
			case Go:
				if !goSyscallPath.MatchString(g.Func) {
					return i, g.Func
				}
			case C:
				if g.Module == s.Path || cMachinery.MatchString(g.Func) {
					return i, g.Func
				}
			}
		}
		return i, ""
	}
	return -1, ""
}

// maker is the innermost frame of a call made without the project's code, past the
// system call's own wrapper.
func (s Server) maker(stack []Frame) string {
	for _, f := range stack {
		if s.Lang == Go && (goSyscallPath.MatchString(f.Func) || strings.HasSuffix(f.Func, ".abi0")) {
			continue // a wrapper, or one of the runtime's assembly stubs
		}
		return f.Func
	}
	// Only stubs: the runtime's own if they all are (a thread's first calls, from
	// runtime.clone; a call whose callers the walker lost past the runtime's system-call
	// package), else nothing known (a stack the walker lost past a wrapper).
	for _, f := range stack {
		if !strings.HasPrefix(f.Func, "runtime.") && !runtimeSyscall.MatchString(f.Func) {
			return ""
		}
	}
	if len(stack) > 0 {
		return stack[0].Func
	}
	return NoStack
}

// NoStack is the maker of a call strace gave no stack for.
const NoStack = "(no stack)"

// Analyze places every call of a server's trace: its process, whether it is the model's
// or housekeeping (and which row explains it), its normalised text and its site.
func Analyze(calls []Call, srv Server, lines *LineTable) *Trace {
	t := &Trace{Server: srv, Dispositions: map[string]string{}}
	proc := processes(calls)
	for _, p := range proc {
		t.Procs = max(t.Procs, p+1)
	}
	names := newNamer()
	names.tasks(calls, proc)
	started := false
	exited := map[int]bool{}
	next := make([]string, len(calls))
	after := map[int]string{}
	for i := len(calls) - 1; i >= 0; i-- {
		c := calls[i]
		next[i] = after[c.Tid]
		if next[i] == "" {
			next[i] = LastCall
		}
		after[c.Tid] = c.Name + "(" + c.Args + ") = " + c.Result
	}
	for ci, c := range calls {
		p := proc[c.Tid]
		if c.Name == "rt_sigaction" {
			dispose(t.Dispositions, c)
		}
		i, via := srv.site(c.Stack)
		if p == 0 && !started {
			if i < 0 {
				continue // start-up: the dynamic loader, libc's or the Go runtime's
			}
			started = true
		}
		e := Entry{Proc: p, Call: c, next: next[ci]}
		if i >= 0 {
			e.via = via
			e.Site, e.siteFunc = lines.site(srv, c.Stack[i])
		} else {
			e.via = srv.maker(c.Stack) // no frame of the project's: what made the call
		}
		e.Text = names.normalise(p, c)
		if c.Name == "exit_group" && !exited[p] {
			// The process's end, however it is reached (C returns from main into libc's
			// exit; Go's os.Exit goes through the runtime).
			exited[p] = true
			e.Class = Model
		} else if row := explain(srv.Lang, e); row != "" {
			e.Class = "runtime:" + row
		} else if i >= 0 && via == "" {
			e.Class = Model
		} else {
			e.Class = Unexplained
			t.Unexplained = append(t.Unexplained, e)
		}
		e.Text = names.threadNames(e.Text, e.Class == Model)
		t.Entries = append(t.Entries, e)
	}
	for i := range t.Unexplained {
		t.Unexplained[i].Text = names.threadNames(t.Unexplained[i].Text, false)
	}
	return t
}

// shortFunc drops the module path from a Go function's name.
func shortFunc(f string) string { return strings.TrimPrefix(f, module) }

// processes maps each task to its process: 0 for the first task's, then 1, 2... in the
// order the processes were made (a clone without CLONE_THREAD).
func processes(calls []Call) map[int]int {
	proc := map[int]int{}
	if len(calls) == 0 {
		return proc
	}
	proc[calls[0].Tid] = 0
	n := 1
	// A child's first call can be printed before its parent's clone returns: every clone
	// is seen first, in order, then the tasks are placed.
	type clone struct{ parent, child int }
	var clones []clone
	threads := map[int]bool{}
	for _, c := range calls {
		if c.Name != "clone" && c.Name != "clone3" && c.Name != "fork" && c.Name != "vfork" {
			continue
		}
		v, ok := c.IntResult()
		if !ok || v <= 0 {
			continue
		}
		clones = append(clones, clone{c.Tid, v})
		threads[v] = strings.Contains(c.Args, "CLONE_THREAD")
	}
	for changed := true; changed; {
		changed = false
		for _, cl := range clones {
			p, ok := proc[cl.parent]
			if _, done := proc[cl.child]; !ok || done {
				continue
			}
			if threads[cl.child] {
				proc[cl.child] = p
			} else {
				proc[cl.child] = n
				n++
			}
			changed = true
		}
	}
	for _, c := range calls {
		if _, ok := proc[c.Tid]; !ok {
			proc[c.Tid] = n // a task whose clone was not seen
			n++
		}
	}
	return proc
}

var sigactionRE = regexp.MustCompile(`^(SIG[A-Z0-9_]+), \{sa_handler=([^,]+),`)

// dispose records what an rt_sigaction call set.
func dispose(d map[string]string, c Call) {
	m := sigactionRE.FindStringSubmatch(c.Args)
	if m == nil || c.Failed() != "" {
		return
	}
	switch m[2] {
	case "SIG_DFL":
		delete(d, m[1])
	case "SIG_IGN":
		d[m[1]] = "ignored"
	default:
		d[m[1]] = "handled"
	}
}

// DispositionDiff lists the signals whose disposition at the exit differs, less those a
// housekeeping row explains.
func DispositionDiff(model string, c, g *Trace) []string {
	var out []string
	sigs := map[string]bool{}
	for s := range c.Dispositions {
		sigs[s] = true
	}
	for s := range g.Dispositions {
		sigs[s] = true
	}
	var list []string
	for s := range sigs {
		list = append(list, s)
	}
	sort.Strings(list)
	for _, s := range list {
		cd, gd := or(c.Dispositions[s], "default"), or(g.Dispositions[s], "default")
		if cd == gd || goRuntimeSignal[s] == [2]string{cd, gd} || modelSignal[model][s] == [2]string{cd, gd} {
			continue
		}
		out = append(out, fmt.Sprintf("%s: C %s, Go %s", s, cd, gd))
	}
	return out
}

func or(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// ---- descriptors and addresses ----

// namer renames descriptors by order of creation (d0, d1... per server; a child keeps its
// parent's names), and ports by order of first appearance.
type namer struct {
	tids    map[string]string // a process's id -> PID (the server), P1.. (its children)
	threads map[string]string // a thread's id -> T1..
	known   map[string]bool   // every task's id
	nthread int
	fds     map[int]map[string]string
	next    int
	ports   map[string]string
	peers   int
}

func newNamer() *namer {
	return &namer{fds: map[int]map[string]string{}, ports: map[string]string{}, tids: map[string]string{}, threads: map[string]string{}, known: map[string]bool{}}
}

var (
	ownerTidRE = regexp.MustCompile(`type=F_OWNER_TID, pid=(\d+)`)
	siPidRE    = regexp.MustCompile(`si_pid=(\d+)`)
	tgkillRE   = regexp.MustCompile(`^tgkill\((\d+), (\d+),`)
)

// nameTasks names the process and thread ids a call's text holds, by their role: a
// process as PID (the server) or P1.. (its children), a thread as T1.., in the order
// threads first appear in such a role. (C's serving thread is its main thread; Go's a
// thread of the runtime's: the role is what compares.)
func (n *namer) nameTasks(name, text string) string {
	sub := func(re *regexp.Regexp, text string, f func(string) string) string {
		return re.ReplaceAllStringFunc(text, func(m string) string {
			g := re.FindStringSubmatchIndex(m)
			return m[:g[2]] + f(m[g[2]:g[3]]) + m[g[3]:]
		})
	}
	text = sub(siPidRE, text, n.process)
	text = sub(ownerTidRE, text, n.thread)
	result := strings.LastIndex(text, ") = ")
	switch name {
	case "getpid", "getppid":
		if result >= 0 {
			text = text[:result+4] + n.process(text[result+4:])
		}
	case "gettid":
		if result >= 0 {
			text = text[:result+4] + n.thread(text[result+4:])
		}
	case "tgkill":
		if m := tgkillRE.FindStringSubmatch(text); m != nil {
			text = "tgkill(" + n.process(m[1]) + ", " + n.thread(m[2]) + "," + text[len(m[0]):]
		}
	case "kill", "wait4", "pidfd_open":
		if open := strings.IndexByte(text, '('); open >= 0 {
			rest := text[open+1:]
			if end := strings.IndexAny(rest, ",)"); end >= 0 {
				text = text[:open+1] + n.process(rest[:end]) + rest[end:]
			}
		}
		if name == "wait4" && result >= 0 {
			if r := strings.LastIndex(text, ") = "); r >= 0 {
				text = text[:r+4] + n.process(text[r+4:])
			}
		}
	case "clone", "clone3", "fork", "vfork":
		if result >= 0 {
			if strings.Contains(text, "CLONE_THREAD") {
				text = text[:result+4] + n.thread(text[result+4:])
			} else {
				text = text[:result+4] + n.process(text[result+4:])
			}
		}
	}
	return text
}

func (n *namer) process(id string) string {
	if name, ok := n.tids[id]; ok {
		return name
	}
	return id
}

// thread marks a thread's id; its name (T1..) is given once the call is known to be the
// model's (threadNames), so that the runtime's threads take none.
func (n *namer) thread(id string) string {
	if !n.known[id] {
		return id
	}
	return "TID#" + id
}

var tidMark = regexp.MustCompile(`TID#(\d+)`)

// threadNames names the marked threads of a model call's text by first appearance; in
// another call's text, a thread is T.
func (n *namer) threadNames(text string, model bool) string {
	return tidMark.ReplaceAllStringFunc(text, func(m string) string {
		if !model {
			return "T"
		}
		id := m[4:]
		if name, ok := n.threads[id]; ok {
			return name
		}
		n.nthread++
		n.threads[id] = fmt.Sprintf("T%d", n.nthread)
		return n.threads[id]
	})
}

// tasks learns the tasks of the trace: the server's first task is PID, the first task
// of each child process P1.. in order of creation.
func (n *namer) tasks(calls []Call, proc map[int]int) {
	leader := map[int]bool{}
	for _, c := range calls {
		id := strconv.Itoa(c.Tid)
		if n.known[id] {
			continue
		}
		n.known[id] = true
		if p := proc[c.Tid]; !leader[p] {
			leader[p] = true
			if p == 0 {
				n.tids[id] = "PID"
			} else {
				n.tids[id] = fmt.Sprintf("P%d", p)
			}
		}
	}
	// A child's pid can appear (clone's result) before any call of its own.
	for _, c := range calls {
		if v, ok := c.IntResult(); ok && v > 0 && (c.Name == "clone" || c.Name == "clone3") && !strings.Contains(c.Args, "CLONE_THREAD") {
			id := strconv.Itoa(v)
			if _, ok := n.tids[id]; !ok {
				n.tids[id] = fmt.Sprintf("P%d", proc[v])
			}
			n.known[id] = true
		}
	}
}

func (n *namer) fd(p int, fd string) string {
	if v, err := strconv.Atoi(fd); err != nil || v < 0 {
		return fd
	}
	if fd == "0" || fd == "1" || fd == "2" {
		return "fd" + fd
	}
	m := n.fds[p]
	if m == nil {
		m = map[string]string{}
		// A child starts with its parent's descriptors, under the same names.
		for k, v := range n.fds[0] {
			m[k] = v
		}
		n.fds[p] = m
	}
	if a, ok := m[fd]; ok {
		return a
	}
	a := fmt.Sprintf("d%d", n.next)
	n.next++
	m[fd] = a
	return a
}

// fresh names a descriptor a call has just created: a number given again is a new one.
func (n *namer) fresh(p int, fd string) string {
	if m := n.fds[p]; m != nil {
		delete(m, fd)
	}
	return n.fd(p, fd)
}

// fdArgs: which arguments of a call are descriptors.
var fdArgs = map[string][]int{
	"read": {0}, "write": {0}, "close": {0}, "recvfrom": {0}, "sendto": {0}, "accept4": {0},
	"accept": {0}, "shutdown": {0}, "setsockopt": {0}, "getsockopt": {0}, "bind": {0},
	"listen": {0}, "getsockname": {0}, "getpeername": {0}, "fcntl": {0}, "ioctl": {0},
	"fstat": {0}, "epoll_wait": {0}, "epoll_pwait": {0}, "epoll_pwait2": {0}, "epoll_ctl": {0, 2},
	"io_uring_enter": {0}, "io_uring_register": {0}, "connect": {0}, "readv": {0},
	"writev": {0}, "sendmsg": {0}, "recvmsg": {0}, "dup": {0}, "dup2": {0, 1}, "dup3": {0, 1},
	"pidfd_send_signal": {0}, "fchmod": {0}, "lseek": {0}, "mmap": {4},
}

// fdResults: calls whose result is a new descriptor.
var fdResults = map[string]bool{
	"socket": true, "accept": true, "accept4": true, "epoll_create": true, "epoll_create1": true,
	"eventfd": true, "eventfd2": true, "open": true, "openat": true, "dup": true, "dup2": true,
	"dup3": true, "io_uring_setup": true, "pidfd_open": true, "signalfd4": true, "timerfd_create": true,
}

var (
	pointerRE  = regexp.MustCompile(`0x[0-9a-f]{5,}`)
	portRE     = regexp.MustCompile(`sin_port=htons\((\d+)\)|127\.0\.0\.1:(\d+)`)
	pollFdRE   = regexp.MustCompile(`fd=(\d+)`)
	epollData  = regexp.MustCompile(`data=\{u32=(\d+), u64=(\d+)\}`)
	pidfdRE    = regexp.MustCompile(`pidfd=\[(\d+)\]`)
	fdSetRE    = regexp.MustCompile(`\[([\d ]+)\]`)
	childTidRE = regexp.MustCompile(`child_tid=\[\d+\]|parent_tid=\[\d+\]`)
)

// normalise is a call's text with its descriptors renamed, its pointers masked and its
// ports named: name(args) = result.
func (n *namer) normalise(p int, c Call) string {
	args := SplitArgs(c.Args)
	for _, i := range fdArgs[c.Name] {
		if i < len(args) {
			args[i] = n.fd(p, args[i])
		}
	}
	switch c.Name {
	case "waitid":
		if len(args) > 1 && args[0] == "P_PIDFD" {
			args[1] = n.fd(p, args[1])
		}
	case "poll", "ppoll":
		for i := range args[:min(1, len(args))] {
			args[i] = pollFdRE.ReplaceAllStringFunc(args[i], func(s string) string { return "fd=" + n.fd(p, s[3:]) })
		}
	case "select", "pselect6":
		for i := 1; i < min(4, len(args)); i++ {
			args[i] = n.fdSet(p, args[i])
		}
	case "epoll_ctl", "epoll_wait", "epoll_pwait":
		for i := range args {
			args[i] = epollData.ReplaceAllStringFunc(args[i], func(s string) string { return n.epollData(p, s) })
		}
	}
	text := c.Name + "(" + strings.Join(args, ", ") + ")"
	result := c.Result
	if v, ok := c.IntResult(); ok && v >= 0 && fdResults[c.Name] {
		result = n.fresh(p, strconv.Itoa(v))
	}
	switch c.Name {
	case "poll", "ppoll":
		result = pollFdRE.ReplaceAllStringFunc(result, func(s string) string { return "fd=" + n.fd(p, s[3:]) })
	case "select", "pselect6":
		result = fdSetRE.ReplaceAllStringFunc(result, func(s string) string { return n.fdSet(p, s) })
	case "epoll_wait", "epoll_pwait":
		result = epollData.ReplaceAllStringFunc(result, func(s string) string { return n.epollData(p, s) })
	case "clone3":
		text = pidfdRE.ReplaceAllStringFunc(text, func(s string) string {
			return "pidfd=[" + n.fresh(p, pidfdRE.FindStringSubmatch(s)[1]) + "]"
		})
	}
	if result != "" && result != "?" {
		text += " = " + result
	}
	text = childTidRE.ReplaceAllStringFunc(text, func(s string) string { return s[:strings.Index(s, "[")] + "[…]" })
	text = n.nameTasks(c.Name, text)
	text = pointerRE.ReplaceAllString(text, "0x…")
	return n.namePorts(text)
}

func (n *namer) fdSet(p int, set string) string {
	return fdSetRE.ReplaceAllStringFunc(set, func(s string) string {
		f := strings.Fields(s[1 : len(s)-1])
		for i := range f {
			f[i] = n.fd(p, f[i])
		}
		return "[" + strings.Join(f, " ") + "]"
	})
}

// epollData renames an epoll event's data where it is a descriptor of this process (the
// models keep the descriptor there).
func (n *namer) epollData(p int, s string) string {
	m := epollData.FindStringSubmatch(s)
	if m[1] != m[2] {
		return s
	}
	if _, ok := n.fds[p][m[1]]; !ok && !(p != 0 && n.fds[0][m[1]] != "") {
		return s
	}
	a := n.fd(p, m[1])
	return "data=" + a
}

// namePorts names the ports a trace shows (the listener's, then each peer's) wherever
// they appear: in addresses and in log lines.
func (n *namer) namePorts(text string) string {
	for _, m := range portRE.FindAllStringSubmatch(text, -1) {
		port := m[1] + m[2]
		if port == "0" {
			continue
		}
		if _, ok := n.ports[port]; !ok {
			if len(n.ports) == 0 && m[1] != "" {
				n.ports[port] = "PORT"
			} else {
				n.peers++
				n.ports[port] = fmt.Sprintf("PEER%d", n.peers)
			}
		}
	}
	for num, name := range n.ports {
		if strings.Contains(text, num) {
			text = regexp.MustCompile(`\b`+num+`\b`).ReplaceAllString(text, name)
		}
	}
	return text
}

// relPath is a source path relative to the repository.
func relPath(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
