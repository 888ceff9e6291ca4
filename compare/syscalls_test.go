//go:build linux

package compare

// syscalls_test.go - the system calls themselves. For one connection to each model (and
// a second one, silent, open at the stop), the
// standalone C and Go servers run under `strace -f`, and the sequence of protocol system
// calls each makes, from its stop eventfd to its exit, must be the same: the same calls,
// in the same order, on the same descriptors (numbered by first use, since Go's runtime
// holds descriptors of its own), with the same results where a result is a descriptor.
//
// What is dropped before comparing, in both languages alike (load.Housekeeping): the calls Go's
// runtime makes for itself (threads, memory, its scheduler's sleeps and wake-ups, signal
// plumbing), which C's libc makes too where it creates a thread. Calls that failed with
// EINTR are dropped too: where a signal lands differs by design (C's handler interrupts
// the serving thread's wait, Go's runtime takes the signal on a thread of its own), and a
// retried call is the same call; for the same reason the stop eventfd's write is counted
// apart instead of placed. Calls that answered EAGAIN ("not yet") are dropped: whether a
// client's bytes or connection had arrived when the server looked is timing (TestInject
// reaches the EAGAIN paths on purpose). x/sys makes the newer twin of some calls; sameCall maps
// them (epoll_pwait is epoll_wait, ppoll is poll, pselect6 is select). And for nonblock,
// whose idle rounds depend on timing (how many rounds pass before the client speaks),
// the "not yet" calls (EAGAIN, a zero poll of the stop eventfd) and the backoff's sleeps
// are dropped: the schedule itself is pinned by TestNonblockBackoff.
//
// Where the model runs threads or processes (thread, fork), the calls of the different
// tasks interleave by timing; the comparison is then per descriptor: each descriptor's
// own sequence of calls, in order (the listener's, each connection's, the log streams').

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// onRuntimePoller: a call on the Go runtime's poller (its epoll instance and eventfd) or
// on their C counterparts, descriptors 3 and 4 of the server by contract (csrc/common.c's
// open_runtime_fds): the runtime's own, never a step of a model.
func onRuntimePoller(n string, c call) bool {
	for _, fd := range fdsOf(n, c.args) {
		if fd == "3" || fd == "4" {
			return true
		}
	}
	if fdResult[n] {
		r := strings.Fields(c.result + " x")[0]
		return r == "3" || r == "4"
	}
	return false
}

// sameCall maps x/sys's newer names to the ones glibc makes.
var sameCall = map[string]string{
	"epoll_pwait": "epoll_wait", "ppoll": "poll", "pselect6": "select", "accept": "accept4",
	"send": "sendto", "recv": "recvfrom", "eventfd": "eventfd2", "epoll_create": "epoll_create1",
}

// constArgs: the argument (0-based) of a call that carries a constant of the model,
// compared as strace prints it: listen's backlog (MAX_CONN), recvfrom's size (BUF_SIZE),
// epoll_wait's batch (MAX_EVENT), io_uring_setup's entries, setsockopt's option
// (SO_REUSEADDR), the flags of accept4, sendto, shutdown, and fcntl's command.
var constArgs = map[string]int{"listen": 1, "recvfrom": 2, "epoll_wait": 2, "io_uring_setup": 0,
	"setsockopt": 2, "accept4": 3, "sendto": 3, "shutdown": 1, "fcntl": 1, "epoll_ctl": 1}

// splitArgs splits strace's argument list at top-level commas.
func splitArgs(s string) []string {
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
		case ']', '}':
			depth--
		case ')':
			if depth == 0 {
				return append(out, strings.TrimSpace(s[start:i]))
			}
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// fdResult: calls whose result is a new descriptor.
var fdResult = map[string]bool{"accept4": true, "socket": true, "eventfd2": true, "epoll_create1": true,
	"pidfd_open": true, "io_uring_setup": true, "dup": true, "fcntl": false}

type call struct {
	tid    int
	name   string
	args   string
	result string // "= 5", "= -1 EAGAIN (...)"
	at     int    // where it stands in the sequence: see parseStrace
}

var (
	straceLine = regexp.MustCompile(`^(\d+) +(.*)$`)
	callStart  = regexp.MustCompile(`^([a-z0-9_]+)\((.*)$`)
	resumed    = regexp.MustCompile(`^<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)
)

// parseStrace reads `strace -f -qq` output into calls in the order they were entered,
// but for a call that returns a new descriptor, which stands where it returned: a
// descriptor's number is freed inside close and given again when accept4 (or socket...)
// returns, so an accept4 that was entered before another thread's close of the same
// number, and returned after it, must come after that close, or the reused number would
// name the wrong descriptor.
func parseStrace(path string) ([]call, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var calls []call
	pending := map[int]int{} // tid -> index of its unfinished call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 0; sc.Scan(); line++ {
		m := straceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		tid, _ := strconv.Atoi(m[1])
		rest := m[2]
		if r := resumed.FindStringSubmatch(rest); r != nil {
			if i, ok := pending[tid]; ok {
				calls[i].args += r[2]
				calls[i].result = resultOf(calls[i].args)
				if fdResult[calls[i].name] {
					calls[i].at = line
				}
				delete(pending, tid)
			}
			continue
		}
		c := callStart.FindStringSubmatch(rest)
		if c == nil {
			continue // --- signals ---, +++ exits +++
		}
		cl := call{tid: tid, name: c[1], args: c[2], at: line}
		if strings.HasSuffix(rest, "<unfinished ...>") {
			cl.args = strings.TrimSuffix(strings.TrimSuffix(cl.args, "<unfinished ...>"), " ")
			pending[tid] = len(calls)
		} else {
			cl.result = resultOf(cl.args)
		}
		calls = append(calls, cl)
	}
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].at < calls[j].at })
	return calls, sc.Err()
}

// resultOf is what follows the " = " of a completed call (strace pads before it).
func resultOf(s string) string {
	m := resultRE.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

var (
	resultRE  = regexp.MustCompile(`\)\s+= (.*)$`)
	pollFdRE  = regexp.MustCompile(`fd=(\d+)`)
	selectSet = regexp.MustCompile(`^\d+, \[([\d ]*)\]`)
	leadingFd = regexp.MustCompile(`^(\d+)[,)]`)
)

// fdsOf lists the descriptors a call names: its first argument, or poll's and select's
// sets (select's first argument is a count, not a descriptor).
func fdsOf(name, args string) []string {
	switch name {
	case "poll":
		var fds []string
		for _, m := range pollFdRE.FindAllStringSubmatch(strings.SplitN(args, "]", 2)[0], -1) {
			fds = append(fds, m[1])
		}
		return fds
	case "select":
		if m := selectSet.FindStringSubmatch(args); m != nil {
			return strings.Fields(m[1])
		}
		return nil
	case "eventfd2", "socket", "exit_group", "pipe2", "execve", "io_uring_setup", "pidfd_open", "wait4", "waitid", "kill", "prlimit64":
		return nil
	}
	if m := leadingFd.FindStringSubmatch(args); m != nil {
		return []string{m[1]}
	}
	return nil
}

// sysStep is one call of the comparable sequence, with its descriptors' names.
type sysStep struct {
	text string
	fds  []string
}

// protocol turns a trace into the comparable sequences, one per process in the order the
// processes were made: the server's from its first eventfd2 (the stop eventfd, its first
// step of its own), each child's from its first poll (the serving; before it C's child
// closes what it does not need and Go's child starts a runtime), the dropped calls left
// out, names mapped, descriptors renamed in order of first use (dN; fd1 and fd2 are the
// log streams). For a model with threads (perDescriptor), each process's calls are
// projected per descriptor: each descriptor's own calls in order.
func protocol(model string, calls []call, perDescriptor bool) []string {
	proc := map[int]int{} // tid -> its process (the tid of its first task)
	var procs []int
	if len(calls) > 0 {
		proc[calls[0].tid] = calls[0].tid
		procs = append(procs, calls[0].tid)
	}
	steps := map[int][]sysStep{}
	started := map[int]bool{}
	alias := map[int]map[string]string{}
	counter, stops := 0, 0
	exited := map[int]bool{}
	name := func(p int, fd string) string {
		if fd == "1" || fd == "2" {
			return "fd" + fd
		}
		if alias[p] == nil {
			alias[p] = map[string]string{}
		}
		if a, ok := alias[p][fd]; ok {
			return a
		}
		a := fmt.Sprintf("d%d", counter)
		counter++
		alias[p][fd] = a
		return a
	}
	for _, c := range calls {
		p, ok := proc[c.tid]
		if !ok {
			p = c.tid // a task whose clone was not seen: a process of its own
			proc[c.tid] = p
		}
		n := c.name
		if m, ok := sameCall[n]; ok {
			n = m
		}
		if n == "clone" || n == "clone3" {
			// Follow the new task: CLONE_THREAD stays in this process.
			if v, err := strconv.Atoi(strings.Fields(c.result + " x")[0]); err == nil && v > 0 {
				if strings.Contains(c.args, "CLONE_THREAD") {
					proc[v] = p
				} else {
					proc[v] = v
					procs = append(procs, v)
					// The child starts with the parent's descriptors, under the same names.
					alias[v] = map[string]string{}
					for k, a := range alias[p] {
						alias[v][k] = a
					}
				}
			}
		}
		if p == procs[0] && onRuntimePoller(n, c) {
			continue
		}
		if !started[p] {
			if (p == procs[0] && n != "eventfd2") || (p != procs[0] && n != "poll") {
				continue
			}
			started[p] = true
		}
		if load.Housekeeping[n] || strings.Contains(c.result, "EINTR") || strings.Contains(c.result, "ERESTART") {
			continue
		}
		if strings.Contains(c.result, "EAGAIN") {
			continue // "not yet": whether the client's bytes had arrived is timing
		}
		if model == "nonblock" && (n == "clock_nanosleep" || (n == "poll" && strings.HasPrefix(c.result, "0 "))) {
			continue
		}
		if n == "exit_group" {
			if exited[p] {
				continue // Go: a second thread racing to the same exit
			}
			exited[p] = true
		}
		st := sysStep{text: n}
		var names []string
		for _, fd := range fdsOf(n, c.args) {
			a := name(p, fd)
			names = append(names, a)
			st.fds = append(st.fds, a)
		}
		// The constants a call carries: the listen backlog, the recv size, the epoll
		// batch, the ring's entries, the socket option, the flags.
		if k, ok := constArgs[n]; ok {
			if parts := splitArgs(c.args); k < len(parts) {
				names = append(names, parts[k])
			}
		}
		if names != nil {
			st.text += "(" + strings.Join(names, ",") + ")"
		}
		if fdResult[n] {
			if v, err := strconv.Atoi(strings.Fields(c.result + " x")[0]); err == nil && v >= 0 {
				delete(alias[p], strconv.Itoa(v)) // a number given again is a new descriptor
				a := name(p, strconv.Itoa(v))
				st.text += " = " + a
				st.fds = append(st.fds, a)
			} else {
				st.text += " = " + c.result
			}
		} else if strings.HasPrefix(c.result, "-1 ") {
			st.text += " = " + strings.Fields(c.result)[1]
		}
		if n == "write" && len(st.fds) == 1 && st.fds[0] == "d0" && p == procs[0] {
			// The stop: the handler (C, on the serving thread, after interrupting its
			// wait) or the runtime's signal goroutine (Go, on a thread of its own) writes
			// the stop eventfd, at a moment that depends on where the signal landed.
			// Counted apart.
			stops++
			continue
		}
		if l := steps[p]; n == "io_uring_enter" && len(l) > 0 && l[len(l)-1].text == st.text {
			// uring: how many completions one io_uring_enter returns (the send's and the
			// shutdown's together or apart) is timing: a run of them is one step.
			continue
		}
		steps[p] = append(steps[p], st)
		if n == "close" {
			if fds := fdsOf(n, c.args); len(fds) == 1 {
				delete(alias[p], fds[0])
			}
		}
	}
	out := []string{fmt.Sprintf("-- the stop eventfd written %d times", stops)}
	for i, p := range procs {
		out = append(out, fmt.Sprintf("-- process %d", i))
		if !perDescriptor {
			for _, st := range steps[p] {
				out = append(out, st.text)
			}
			continue
		}
		var order []string
		by := map[string][]string{}
		for _, st := range steps[p] {
			// Under one descriptor only, the first but the stop eventfd: every thread
			// watches that one, in an order that is a race.
			fds := st.fds
			if len(fds) > 1 && fds[0] == "d0" {
				fds = fds[1:]
			}
			for _, fd := range fds[:min(1, len(fds))] {
				if by[fd] == nil {
					order = append(order, fd)
				}
				// The threads' waits are not compared: which thread the stop signal lands
				// on, and so which wait is cut short and looked at again, is the kernel's
				// choice (C against C differs). Each descriptor's other calls are.
				if strings.HasPrefix(st.text, "poll(") {
					continue
				}
				by[fd] = append(by[fd], st.text)
			}
			if len(st.fds) == 0 {
				// sigio: how many readiness signals one connection raises (the data and
				// the end, one wake-up each or one for both) is timing: a run of waits
				// for the signal is one step.
				if l := by["-"]; st.text == "rt_sigtimedwait" && len(l) > 0 && l[len(l)-1] == st.text {
					continue
				}
				by["-"] = append(by["-"], st.text)
			}
		}
		order = append(order, "-")
		for _, fd := range order {
			out = append(out, "  "+fd+":")
			out = append(out, by[fd]...)
		}
	}
	return out
}

// straceServer runs one model's server under strace -f with one client and returns its
// calls.
func straceServer(strace string, s side, model string) ([]call, error) {
	dir, err := os.MkdirTemp("", "iomodels-strace-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "trace.txt")
	p, err := standalone.StartServer(strace, processTimeout, "-f", "-qq", "-o", out, "--", s.server, model, "0")
	if err != nil {
		return nil, fmt.Errorf("%s: strace %s: %w", s.name, model, err)
	}
	defer p.Kill()
	pid, err := tracedChild(p.Pid())
	if err != nil {
		return nil, err
	}
	// One connection served, then one silent at the stop: what the stop closes is part of
	// the sequence.
	lines := 3 // new conn a, recv_msg a, new conn s
	if streamModel(model) {
		lines = 2
	}
	tr, err := engine.Execute(engine.Scenario{Name: "one-connection", Steps: func(string) []engine.Step {
		// fork: whether the parent reaps a's child before it accepts s is timing (the
		// child's exit and s's arrival race), unless s waits for the reaping.
		return engine.Seq(engine.Connect("a"), sendWithFin("a", []byte("hello, strace")), engine.AwaitEnd("a"), awaitChildrenReaped(),
			engine.Connect("s"), engine.AwaitStdoutLines(lines), engine.StopServer())
	}}, model, stracedTarget{p, pid}, engine.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %s under strace: %w", s.name, model, err)
	}
	if tr.Status != "exited 0" {
		return nil, fmt.Errorf("%s: %s under strace: %s; stderr %q", s.name, model, tr.Status, tr.Stderr)
	}
	return parseStrace(out)
}

// sendWithFin sends p and half-closes in one segment (TCP_CORK held across the write and
// the shutdown): the server sees the bytes and the end of stream in one wake-up, so how
// many reads it makes does not depend on when the FIN arrives.
func sendWithFin(name string, p []byte) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("send %d bytes and the end of stream on %s in one segment", len(p), name), Do: func(r *engine.Run) error {
		c, err := r.Conn(name)
		if err != nil {
			return err
		}
		cork := func(on int) error {
			return engine.Control(c.Sock(), func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK, on) })
		}
		if err := cork(1); err != nil {
			return err
		}
		c.Sock().SetWriteDeadline(r.Deadline())
		if _, err := c.Sock().Write(p); err != nil {
			return err
		}
		if err := engine.Control(c.Sock(), func(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) }); err != nil {
			return err
		}
		return cork(0)
	}}
}

// syscallCheck is the sequence of one model as a transcript (one note per call), for the
// mutants; errSkip without strace.
func syscallCheck(model string) func(s side) (*engine.Transcript, error) {
	return func(s side) (*engine.Transcript, error) {
		strace, err := exec.LookPath("strace")
		if err != nil {
			return nil, errSkip{"strace not found"}
		}
		calls, err := straceServer(strace, s, model)
		if err != nil {
			return nil, err
		}
		return &engine.Transcript{Notes: protocol(model, calls, model == "thread" || model == "sigio")}, nil
	}
}

// syscallChecks: one per model.
func syscallChecks(t *testing.T, g side) []check {
	var cs []check
	for _, model := range availableModels(t) {
		cs = append(cs, check{"syscalls/" + model, syscallCheck(model)})
	}
	return cs
}

// stracedTarget is a standalone server started by strace: signals go to the server (the
// child), the exit status is strace's, which is its tracee's.
type stracedTarget struct {
	p   *standalone.Process
	pid int
}

func (s stracedTarget) Port() int      { return s.p.Port }
func (s stracedTarget) Stdout() []byte { return []byte(s.p.Stdout()) }
func (s stracedTarget) Stderr() []byte { return []byte(s.p.Stderr()) }
func (s stracedTarget) ServerPid() int { return s.pid }
func (s stracedTarget) Stop() (string, error) {
	if err := syscall.Kill(s.pid, syscall.SIGTERM); err != nil {
		return "", err
	}
	return s.p.Wait(processTimeout)
}

// tracedChild is strace's child: the server.
func tracedChild(pid int) (int, error) {
	var kids []string
	engine.WaitFor(time.Now().Add(processTimeout), func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		kids = strings.Fields(string(b))
		return len(kids) > 0
	})
	if len(kids) == 0 {
		return 0, fmt.Errorf("strace %d has no child", pid)
	}
	return strconv.Atoi(kids[0])
}

func TestSyscallSequence(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace not found: install it (apt-get install strace; .ci/run does) to compare system calls")
	}
	c, g := sides(t)
	for _, model := range models(t) {
		t.Run(model, func(t *testing.T) {
			if reason := unavailable(model); reason != "" {
				t.Skipf("%s unavailable: %s", model, reason)
			}
			threads := model == "thread" || model == "sigio" // sigio: the stop watcher's thread
			ccalls, err := straceServer(strace, c, model)
			require.NoError(t, err)
			gcalls, err := straceServer(strace, g, model)
			require.NoError(t, err)
			cs, gs := protocol(model, ccalls, threads), protocol(model, gcalls, threads)
			if d := diffSeq(cs, gs); d != "" {
				t.Errorf("%s: the system calls differ:\n%s", model, d)
			}
		})
	}
}

// diffSeq shows both sequences side by side from the first difference.
func diffSeq(a, b []string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	if i == len(a) && i == len(b) {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "first difference at call %d (C %d calls, Go %d)\n", i+1, len(a), len(b))
	for j := max(0, i-3); j < max(len(a), len(b)) && j < i+12; j++ {
		x, y := "", ""
		if j < len(a) {
			x = a[j]
		}
		if j < len(b) {
			y = b[j]
		}
		mark := " "
		if x != y {
			mark = "!"
		}
		fmt.Fprintf(&sb, "%s %3d  %-40s %s\n", mark, j+1, x, y)
	}
	return sb.String()
}
