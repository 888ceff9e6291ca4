//go:build linux

package compare

// syscalls_test.go - the I/O model itself. For one connection to each model (and a second
// one, silent, open at the stop), the standalone C and Go servers run under `strace -f -k`,
// and the system calls each makes from its main to its exit must be the same, argument for
// argument, in the same order: descriptors renamed by order of creation, pointers masked,
// ports named; every other argument and every result compared (flags, event masks, fcntl
// commands and values, signal sets, clone flags, socket options, poll and select sets).
//
// Each call's stack says who made it (compare/internal/systrace): a call made by the
// project's code through nothing but a system call's wrapper is the model's, and is
// compared; every other call is housekeeping of the language runtime (Go's scheduler, its
// memory, libc's malloc and thread start) and must match a row of systrace.Housekeeping,
// the one table of what is not compared, each row with its reason; a call no row explains
// fails the test. Signal dispositions are compared as a set, at the exit. Where the model
// runs threads (thread, sigio's stop watcher), whose calls interleave by timing, each
// process's calls are compared per descriptor. uring's submissions, which strace cannot
// see, are compared through the kernel's io_uring tracepoints (ringRequests).
//
// The traces, normalised, are kept in compare/testdata/traces for readers (one connection
// and one stop per model, C and Go, each call with its site); -update-traces writes them
// again, and TestSyscallSequence fails when the model's calls there are stale.

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/compare/internal/systrace"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/iomodels/iomodels/internal/procfs"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var updateTraces = flag.Bool("update-traces", false, "write compare/testdata/traces again from this run")

// tracedTimeout bounds a traced server's start, scenario and stop: strace -k stops the
// server at each of its calls to read its stack, and a Go server starting makes hundreds;
// on a loaded machine that takes seconds.
const tracedTimeout = 30 * time.Second

// straceServer runs one model's server under strace -f -k with one client and returns its
// trace, analysed.
func straceServer(strace string, s side, model string) (*systrace.Trace, error) {
	dir, err := os.MkdirTemp("", "iomodels-strace-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "trace.txt")
	p, err := standalone.Start([]string{strace, "-f", "-q", "-k", "-s", "256", "-o", out, "--", s.server, model, "0"}, standalone.Options{Group: true}, tracedTimeout)
	if err != nil {
		return nil, fmt.Errorf("%s: strace %s: %w", s.name, model, err)
	}
	defer p.Kill()
	pid, err := tracedChild(p.Pid())
	if err != nil {
		return nil, err
	}
	tr, err := engine.Execute(oneConnection(model, awaitIdle(model, out, `"listening on `), awaitIdle(model, out, `"new conn `)), model, stracedTarget{p, pid, model == "fork"}, engine.Options{Deadline: tracedTimeout})
	if err != nil {
		p.Kill() // and waits: strace has written the whole trace
	}
	if keep := os.Getenv("IOMODELS_KEEP_TRACES"); keep != "" {
		if b, err := os.ReadFile(out); err == nil {
			os.WriteFile(filepath.Join(keep, model+"."+s.name+".strace"), b, 0o644)
		}
	}
	if err != nil {
		// What the server did until it failed is still a trace (a mutant's first wrong
		// call comes before its crash): it is returned with the error.
		t, _ := analyse(out, s)
		return t, fmt.Errorf("%s: %s under strace: %w", s.name, model, err)
	}
	// The server's own status, from the trace: strace's may be 1 for an error of its own
	// (its stack walker racing a Go thread's exit: "walk: cannot initialize libunwind").
	if st, err := exitInTrace(out, pid, tr.Stderr); err != nil || st != "exited with 0" {
		return nil, fmt.Errorf("%s: %s under strace: %q %v (strace: %s); stderr %q", s.name, model, st, err, tr.Status, tr.Stderr)
	}
	return analyse(out, s)
}

// exitInTrace is how strace saw pid end: "exited with 0", "killed by SIGPIPE". Where
// strace's stack walker failed at the end (a Go thread killed by the exit while strace
// unwound it: "walk: cannot initialize libunwind") strace stops before it prints the end:
// then the server's last exit_group names its status.
func exitInTrace(path string, pid int, straceErr string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	prefix := strconv.Itoa(pid) + " "
	last := ""
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, "+++ "); i >= 0 && strings.HasPrefix(l, prefix) {
			return strings.TrimSuffix(strings.TrimSpace(l[i+4:]), " +++"), nil
		}
		if m := exitGroupRE.FindStringSubmatch(l); m != nil {
			last = m[1]
		}
	}
	if last != "" && strings.Contains(straceErr, "walk: cannot initialize libunwind") {
		return "exited with " + last, nil
	}
	return "", fmt.Errorf("no exit of %d in the trace", pid)
}

var exitGroupRE = regexp.MustCompile(`^\d+ +exit_group\((\d+)`)

// analyse reads a trace of s's server.
func analyse(path string, s side) (*systrace.Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	calls, err := systrace.Parse(bufio.NewReader(f))
	if err != nil {
		return nil, err
	}
	bin, err := filepath.EvalSymlinks(s.server)
	if err != nil {
		return nil, err
	}
	lines, err := systrace.ReadLines(bin)
	if err != nil {
		return nil, err
	}
	lang := systrace.Go
	if s.name == "C" {
		lang = systrace.C
	}
	return systrace.Analyze(calls, systrace.Server{Lang: lang, Path: bin, Root: standalone.RepoRoot()}, lines), nil
}

// threaded: the models whose calls are compared per descriptor (thread; sigio's stop
// watcher is a thread of its own).
func threaded(model string) bool { return model == "thread" || model == "sigio" }

// compareTraces is the comparison: "" when C and Go made the same model calls, explained
// every other call and left the signals alike.
func compareTraces(model string, c, g *systrace.Trace) string {
	var sb strings.Builder
	for _, t := range []*systrace.Trace{c, g} {
		for i, e := range t.Unexplained {
			if i == 5 {
				fmt.Fprintf(&sb, "... and %d more\n", len(t.Unexplained)-i)
				break
			}
			fmt.Fprintf(&sb, "%s: a call no housekeeping row explains: %s [%s]; stack: %v; the thread's next call: %s\n", t.Server.Lang, e.Text, e.Site, e.Stack(), e.Next())
		}
	}
	if d := systrace.DispositionDiff(model, c, g); d != nil {
		fmt.Fprintf(&sb, "signal dispositions at the exit differ: %s\n", strings.Join(d, "; "))
	}
	if d := systrace.Diff(c.Sequence(threaded(model)), g.Sequence(threaded(model)), "C", "Go"); d != "" {
		sb.WriteString(d)
	}
	return sb.String()
}

// oneConnection is the traced scenario: one connection served, then one silent at the
// stop (what the stop closes is part of the sequence). beforeFirst runs before the first
// connection, beforeStop before the stop.
func oneConnection(model string, beforeFirst, beforeStop engine.Step) engine.Scenario {
	lines := 3 // new conn a, recv_msg a, new conn s
	if streamModel(model) {
		lines = 2
	}
	return engine.Scenario{Name: "one-connection", Steps: func(string) []engine.Step {
		// fork: whether the parent reaps a's child before it accepts s is timing (the
		// child's exit and s's arrival race), unless s waits for the reaping.
		return engine.Seq(beforeFirst, awaitWaiting(model), engine.Connect("a"), sendWithFin("a", []byte("hello, strace")), engine.AwaitEnd("a"), awaitChildrenReaped(),
			awaitClosed(), awaitWaiting(model), engine.Connect("s"), engine.AwaitStdoutLines(lines), beforeStop, engine.StopServer())
	}}
}

// awaitClosed waits until the server holds no connection but its listener: the client
// sees the end of a at the server's shutdown, and whether the close that follows comes
// before s is accepted (and so which number, which uring slot s gets) is otherwise timing.
func awaitClosed() engine.Step {
	return engine.Step{Desc: "wait until the server has closed its connections", Do: func(r *engine.Run) error {
		server, err := r.ServerPid()
		if err != nil {
			return err
		}
		return r.WaitFor("the server's connections closed", func() bool { return procfs.ConnFds(server) == 1 })
	}}
}

// ringRequests runs s's uring server through oneConnection with its ring traced (the
// kernel's io_uring tracepoints): each request it submitted, in order, with its
// descriptor and its completion.
func ringRequests(s side) ([]string, error) {
	ring, err := systrace.StartRing()
	if err != nil {
		return nil, errSkip{err.Error()}
	}
	defer ring.Close()
	p, err := standalone.StartServer(s.server, processTimeout, "uring", "0")
	if err != nil {
		return nil, err
	}
	defer p.Kill()
	nothing := engine.Step{Desc: "nothing", Do: func(*engine.Run) error { return nil }}
	tr, err := engine.Execute(oneConnection("uring", nothing, nothing), "uring", engine.Process{Proc: p}, engine.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: uring with its ring traced: %w", s.name, err)
	}
	if tr.Status != "exited 0" {
		return nil, fmt.Errorf("%s: uring with its ring traced: %s; stderr %q", s.name, tr.Status, tr.Stderr)
	}
	text, err := ring.Read()
	if err != nil {
		return nil, err
	}
	reqs := systrace.RingRequests(text, p.Pid())
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%s: no io_uring request of pid %d in the trace", s.name, p.Pid())
	}
	return reqs, nil
}

// awaitWaiting: sigio accepts in a loop (once armed, and after each connection it
// serves), and the loop's accept4 races the next client (EAGAIN then a signal, or the
// client at once) unless the client waits until the server waits for signals (a thread
// of it in rt_sigtimedwait, /proc/PID/task/TID/syscall).
func awaitWaiting(model string) engine.Step {
	return engine.Step{Desc: "await the server in its wait", Do: func(r *engine.Run) error {
		if model != "sigio" {
			return nil
		}
		server, err := r.ServerPid()
		if err != nil {
			return err
		}
		return r.WaitFor("the server waiting for signals", func() bool { return procfs.InSyscall(server, unix.SYS_RT_SIGTIMEDWAIT) })
	}}
}

// awaitIdle: for nonblock, whose loop never blocks, the next step (the first client, the
// stop) waits until the server has slept once since it wrote after (the trace shows it),
// so that both languages have made at least one idle round when it comes, whichever
// moment it lands at.
func awaitIdle(model, trace, after string) engine.Step {
	return engine.Step{Desc: "await an idle round in the trace", Do: func(r *engine.Run) error {
		if model != "nonblock" {
			return nil
		}
		idle := func() bool {
			b, _ := os.ReadFile(trace)
			text := string(b)
			i := strings.LastIndex(text, after)
			return i >= 0 && strings.Contains(text[i:], "clock_nanosleep(")
		}
		if !engine.WaitFor(r.Deadline(), idle) {
			return fmt.Errorf("no idle round in the trace after %s", after)
		}
		return nil
	}}
}

// sendWithFin sends p and half-closes in one segment (TCP_CORK held across the write and
// the shutdown, both made back to back on the descriptor): the server sees the bytes and
// the end of stream in one wake-up, so how many reads it makes (or, for sigio, how many
// signals it is sent) does not depend on when the FIN arrives. The cork holds data for
// 200 ms at most: a client descheduled that long between the two calls would send the
// bytes alone, which the count of segments sent (TCP_INFO) shows between the write and
// the shutdown, and the step fails so rather than let the server's answer to two segments
// read as a difference. The shutdown then sends what the cork holds with the FIN appended.
// The count is not compared after the shutdown: it takes in the client's ACKs of the
// server's answer, which may come before the second look.
func sendWithFin(name string, p []byte) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("send %d bytes and the end of stream on %s in one segment", len(p), name), Do: func(r *engine.Run) error {
		c, err := r.Conn(name)
		if err != nil {
			return err
		}
		return engine.Control(c.Sock(), func(fd int) error {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK, 1); err != nil {
				return err
			}
			before, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				return err
			}
			if n, err := unix.Write(fd, p); err != nil || n != len(p) {
				return fmt.Errorf("write %d bytes on %s: %d, %v", len(p), name, n, err)
			}
			held, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				return err
			}
			if n := held.Segs_out - before.Segs_out; n != 0 {
				return fmt.Errorf("%s: the bytes left in %d segments before the end of stream was queued, not with it", name, n)
			}
			if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
				return err
			}
			return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK, 0)
		})
	}}
}

// syscallCheck is one model's model calls as a transcript (one note per step), for the
// mutants; errSkip without strace.
func syscallCheck(model string) func(s side) (*engine.Transcript, error) {
	return func(s side) (*engine.Transcript, error) {
		strace, err := exec.LookPath("strace")
		if err != nil {
			return nil, errSkip{"strace not found"}
		}
		t, err := straceServer(strace, s, model)
		if t == nil {
			return nil, err
		}
		tr := &engine.Transcript{}
		for _, st := range t.Sequence(threaded(model)) {
			tr.Notes = append(tr.Notes, st.Text)
		}
		if err != nil {
			// The calls it made until then are compared; its failure is one more note.
			tr.Notes = append(tr.Notes, "-- the run failed")
			return tr, nil
		}
		if model == "uring" {
			reqs, err := ringRequests(s)
			if err != nil {
				return nil, err
			}
			for _, r := range reqs {
				tr.Notes = append(tr.Notes, "ring: "+r)
			}
		}
		return tr, nil
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
	// holdChildren: the stop holds the server's child (fork's, serving the silent
	// connection) until the server waits for it, see Stop.
	holdChildren bool
}

func (s stracedTarget) Port() int      { return s.p.Port }
func (s stracedTarget) Stdout() []byte { return []byte(s.p.Stdout()) }
func (s stracedTarget) Stderr() []byte { return []byte(s.p.Stderr()) }
func (s stracedTarget) ServerPid() int { return s.pid }

// Stop sends SIGTERM. fork's children watch the stop eventfd too: whether a child has
// exited by the time the server's poll answers the stop (its pidfd ready beside the
// eventfd, or not) is timing. So the children are stopped (SIGSTOP) before the stop and
// continued once the server waits for them in wait4: its poll sees the stop alone, and
// each child then leaves its own wait for the stop.
func (s stracedTarget) Stop() (string, error) {
	var held []int
	if s.holdChildren {
		var err error
		if held, err = stopChildren(s.pid, 1); err != nil {
			return "", err
		}
	}
	if err := syscall.Kill(s.pid, syscall.SIGTERM); err != nil {
		return "", err
	}
	if len(held) > 0 {
		waiting := engine.WaitFor(time.Now().Add(holdTimeout), func() bool { return procfs.InSyscall(s.pid, unix.SYS_WAIT4) })
		for _, c := range held {
			syscall.Kill(c, syscall.SIGCONT)
		}
		if !waiting {
			s.p.Kill()
			return "", fmt.Errorf("the server did not wait for its held child within %v", holdTimeout)
		}
	}
	return s.p.Wait(tracedTimeout)
}

// holdTimeout bounds each wait of a stop that holds a child: the child in its poll, the
// server in wait4 (milliseconds, under strace; a fork mutant never gets there).
const holdTimeout = 10 * time.Second

// stopChildren waits until pid has n live children, each waiting in poll for its client
// or the stop (the server logs a connection before it forks its child, and a child strace
// has not let run yet would take the signal for strace's own attach stop), sends each
// SIGSTOP and waits until every one is stopped.
func stopChildren(pid, n int) ([]int, error) {
	var held []int
	waiting := func() bool {
		kids, _ := procfs.Children(pid)
		held = held[:0]
		for _, k := range kids {
			if k.State != "Z" && procfs.InSyscall(k.Pid, unix.SYS_POLL) {
				held = append(held, k.Pid)
			}
		}
		return len(held) == n
	}
	if !engine.WaitFor(time.Now().Add(holdTimeout), waiting) {
		kids, _ := procfs.Children(pid)
		var seen []string
		for _, k := range kids {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", k.Pid))
			seen = append(seen, fmt.Sprintf("%d %s in %s", k.Pid, k.State, strings.Fields(string(b) + " ?")[0]))
		}
		return nil, fmt.Errorf("the server has %d children waiting in poll, want %d (children, state, system call number: %v)", len(held), n, seen)
	}
	for _, c := range held {
		if err := syscall.Kill(c, syscall.SIGSTOP); err != nil {
			return held, err
		}
	}
	stopped := func() bool {
		now, _ := procfs.Children(pid)
		n := 0
		for _, k := range now {
			if slices.Contains(held, k.Pid) && (k.State == "T" || k.State == "t") {
				n++
			}
		}
		return n == len(held)
	}
	if !engine.WaitFor(time.Now().Add(tracedTimeout), stopped) {
		return held, fmt.Errorf("children %v not stopped within %v", held, tracedTimeout)
	}
	return held, nil
}

// tracedChild is strace's child: the server.
func tracedChild(pid int) (int, error) {
	var kids []string
	engine.WaitFor(time.Now().Add(tracedTimeout), func() bool {
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
		ciskip.Skipf(t, ciskip.Because, "strace not found: install it (apt-get install strace; .ci/run does) to compare system calls")
	}
	c, g := sides(t)
	for _, model := range models(t) {
		t.Run(model, func(t *testing.T) {
			if reason := unavailable(model); reason != "" {
				ciskip.Skipf(t, ciskip.Uring, "%s unavailable: %s", model, reason)
			}
			ct, err := straceServer(strace, c, model)
			require.NoError(t, err)
			gt, err := straceServer(strace, g, model)
			require.NoError(t, err)
			if d := compareTraces(model, ct, gt); d != "" {
				t.Errorf("%s: the system calls differ:\n%s", model, d)
			}
			if model == "uring" {
				cr, err := ringRequests(c)
				skipOn(t, err)
				require.NoError(t, err)
				gr, err := ringRequests(g)
				require.NoError(t, err)
				if d := diffLines(cr, gr, "Go"); d != "" {
					t.Errorf("uring: the requests in the ring differ:\n%s", d)
				}
				checkStoredRing(t, "c", cr)
				checkStoredRing(t, "go", gr)
			}
			checkStoredTraces(t, model, ct, gt)
		})
	}
}

// checkStoredRing: uring's requests, kept beside its traces (uring.LANG.ring), as
// checkStoredTraces keeps the traces.
func checkStoredRing(t *testing.T, lang string, reqs []string) {
	path := filepath.Join(standalone.RepoRoot(), "compare", "testdata", "traces", "uring."+lang+".ring")
	text := "# uring's requests in the ring, in the order submitted: opcode, user_data (op | slot << 8), flags, descriptor -> result, cflags\n" +
		strings.Join(reqs, "\n") + "\n"
	if *updateTraces {
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		return
	}
	old, err := os.ReadFile(path)
	if err != nil || string(old) != text {
		t.Errorf("%s is stale or missing (go test ./compare -run TestSyscallSequence -update-traces writes it again)", path)
	}
}

// checkStoredTraces compares the traces kept for readers with this run's (which calls
// the model makes from which lines: the rest varies from run to run), or writes them with
// -update-traces.
func checkStoredTraces(t *testing.T, model string, ts ...*systrace.Trace) {
	for _, tr := range ts {
		path := filepath.Join(standalone.RepoRoot(), "compare", "testdata", "traces", model+"."+string(tr.Server.Lang)+".trace")
		text := tr.Format(model)
		if *updateTraces {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (go test ./compare -run TestSyscallSequence -update-traces writes it)", path, err)
			continue
		}
		if a, b := systrace.ModelSites(string(old)), systrace.ModelSites(text); a != b {
			t.Errorf("%s is stale: its model calls or their sites differ from this run's (go test ./compare -run TestSyscallSequence -update-traces writes it again)", path)
		}
	}
}

// skipOn skips the test for what cannot run here (errSkip).
func skipOn(t *testing.T, err error) {
	var skip errSkip
	if errors.As(err, &skip) {
		ciskip.Skipf(t, ciskip.Because, "%s", skip.reason)
	}
}

// diffLines compares two system-call checks' notes, the steps' texts, as
// TestSyscallSequence compares the steps (systrace.Diff), from their first difference.
func diffLines(c, g []string, gn string) string {
	steps := func(lines []string) []systrace.Step {
		var s []systrace.Step
		for _, l := range lines {
			s = append(s, systrace.Step{Text: l})
		}
		return s
	}
	return systrace.Diff(steps(c), steps(g), "C", gn)
}
