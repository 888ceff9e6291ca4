//go:build linux

package engine

// run.go - one run of a scenario against one server: its state (connections,
// their readers, notes), and execute, which runs the steps and takes the transcript.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/internal/procfs"
)

// ---- the run: state of one scenario against one server ----

// Sock is a client socket: a *net.TCPConn from connect, or an *os.File around a socket
// that connectHigh made by hand. Both read, write and close through the runtime's poller.
type Sock interface {
	io.ReadWriteCloser
	SetWriteDeadline(t time.Time) error
	SyscallConn() (syscall.RawConn, error)
}

// Control runs f on the socket's descriptor and returns f's error.
func Control(s Sock, f func(fd int) error) error {
	raw, err := s.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

type Conn struct {
	name string
	c    Sock
	port int

	mu        sync.Mutex
	data      []byte
	end       string
	reading   bool
	readDone  chan struct{}
	sendErr   error
	sendDone  chan struct{}
	closedByU bool
	awaited   int // the bytes the reply steps (reply.go) have taken so far
}

type Run struct {
	target   Target
	deadline time.Time
	conns    map[string]*Conn
	names    []string // declaration order
	notes    []string

	stopped bool // a stopServer step stopped the server
	status  string

	// orderedLines: with unorderedLog, the first orderedLines lines of stdout are still
	// compared in order (logOrderedSoFar).
	orderedLines int

	quiet, logWait time.Duration // Options.Quiet, Options.LogWait
	normalize      []Normalizer  // Options.Normalize, or the default
}

func newRun(t Target, deadline time.Time) *Run {
	return &Run{target: t, deadline: deadline, conns: map[string]*Conn{}}
}

func (r *Run) Conn(name string) (*Conn, error) {
	c, ok := r.conns[name]
	if !ok {
		return nil, fmt.Errorf("no connection %q (connect it first)", name)
	}
	return c, nil
}

func (r *Run) Note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// WaitFor polls cond every millisecond until it holds or the deadline (at most until)
// passes. It is the only way a step waits.
func WaitFor(until time.Time, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if time.Now().After(until) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// MeasureUntil lets time pass until t: a measurement window (the server's CPU over it, an
// idle spell before a client speaks), never a wait for a server, which is always waitFor
// on a condition.
func MeasureUntil(t time.Time) { time.Sleep(time.Until(t)) }

func (r *Run) WaitFor(what string, cond func() bool) error {
	if !WaitFor(r.deadline, cond) {
		return fmt.Errorf("watchdog: %s did not happen before the scenario's deadline%s", what, r.childrenNote())
	}
	return nil
}

// childrenNote describes the server's child processes for a watchdog failure (fork's
// children: their state and the kernel function each sleeps in), so that a hang in a
// child says where it is.
func (r *Run) childrenNote() string {
	pid, err := r.ServerPid()
	if err != nil {
		return ""
	}
	kids, err := procfs.Children(pid)
	if err != nil || len(kids) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("; the server's children (pid state wchan):")
	for _, k := range kids {
		wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", k.Pid))
		fmt.Fprintf(&b, " %d %s %s;", k.Pid, k.State, wchan)
	}
	return b.String()
}

// Await waits for done to be closed (by a goroutine of the run: no polling) until the
// scenario's deadline; failed, it says "watchdog: " and what did not finish.
func (r *Run) Await(done <-chan struct{}, failed string) error {
	select {
	case <-done:
		return nil
	case <-time.After(time.Until(r.deadline)):
		return fmt.Errorf("watchdog: %s%s", failed, r.childrenNote())
	}
}

// StartReading starts the connection's reader: it appends whatever arrives and records
// how the connection ended.
func (c *Conn) StartReading(r *Run) {
	c.mu.Lock()
	if c.reading {
		c.mu.Unlock()
		return
	}
	c.reading = true
	c.mu.Unlock()
	go func() {
		defer close(c.readDone)
		buf := make([]byte, 64<<10)
		for {
			n, err := c.c.Read(buf)
			c.mu.Lock()
			if n > 0 {
				c.data = append(c.data, buf[:n]...)
			}
			if err != nil {
				switch {
				case errors.Is(err, io.EOF):
					c.end = "EOF"
				case errors.Is(err, syscall.ECONNRESET):
					c.end = "reset"
				case (errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed)) && c.closedByU:
					c.end = "closed"
				default:
					c.end = "error: " + err.Error()
				}
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
		}
	}()
}

func (c *Conn) Snapshot() (n int, end string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.data), c.end
}

// ---- running a scenario ----

// Options say how Execute runs a scenario; the zero value is the defaults.
type Options struct {
	Deadline  time.Duration // DefaultDeadline when 0
	Normalize []Normalizer  // DefaultNormalizers when nil
	// Quiet, when not 0: before the server is stopped (a stop step, the run's end), wait
	// until its stdout and stderr have not grown for Quiet, or the deadline, so that a line
	// written just after a close (which the client saw) is in the log, not a race.
	Quiet time.Duration
	// LogWait, when not 0: a wait for log lines (AwaitStdoutLines, AwaitStderrLines) gives
	// up with ErrNoLogLine once the server's logs have not grown for LogWait: a server
	// that never writes the line fails in LogWait, not at the deadline.
	LogWait time.Duration
}

// Execute runs the steps against t and returns the transcript. The target is stopped
// before it returns, whatever happens.
func Execute(sc Scenario, model string, t Target, o Options) (tr *Transcript, err error) {
	deadline := o.Deadline
	if deadline == 0 {
		deadline = DefaultDeadline
	}
	deadline = max(deadline, sc.Deadline)
	normalize := o.Normalize
	if normalize == nil {
		normalize = DefaultNormalizers
	}
	r := newRun(t, time.Now().Add(deadline))
	r.quiet, r.logWait, r.normalize = o.Quiet, o.LogWait, normalize
	startFds := -1
	pi, hasProc := t.(ServerProcess)
	if hasProc {
		startFds = procfs.ConnFds(pi.ServerPid())
	}
	stopped := false
	defer func() {
		for _, c := range r.conns {
			c.c.Close()
		}
		if !stopped && !r.stopped {
			t.Stop()
		}
	}()

	for i, st := range sc.Steps(model) {
		if err := st.Do(r); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w%s", i+1, st.Desc, err, endedNote(t))
		}
	}

	// Snapshot every connection, then close them all so that the server sees every end.
	tr = &Transcript{}
	for _, name := range r.names {
		c := r.conns[name]
		c.mu.Lock()
		rec := ConnRecord{Name: name, Data: append([]byte(nil), c.data...), End: c.end}
		c.mu.Unlock()
		if rec.End == "" {
			rec.End = "open"
		}
		tr.Conns = append(tr.Conns, rec)
	}
	for _, c := range r.conns {
		c.mu.Lock()
		c.closedByU = true
		c.mu.Unlock()
		c.c.Close()
	}
	for _, c := range r.conns {
		if c.reading {
			if err := r.Await(c.readDone, "reader of "+c.name+" did not stop"); err != nil {
				return nil, err
			}
		}
	}
	// The server has seen every end once its descriptor count is back where it started
	// (it logs before it closes): only then are its logs complete. The wait is bounded by
	// the scenario's deadline, at least 3 s from now: on a loaded machine a server with
	// many connections to close (40 fork children) took longer than a fixed 3 s. A server
	// still holding more is a leak, and fails the run whichever side it is: two servers
	// that leak alike are not at parity with a correct one.
	// With Options.Quiet the quiet wait before the stop takes the place of this check: a
	// tool compares no descriptor counts, and a server written elsewhere may log after it
	// closes, or keep a descriptor a client left.
	if hasProc && o.Quiet <= 0 {
		settled := WaitFor(later(r.deadline, time.Now().Add(3*time.Second)), func() bool { return procfs.ConnFds(pi.ServerPid()) <= startFds })
		if !settled {
			return nil, fmt.Errorf("descriptor leak: the server holds %d connection descriptors after every client closed, %d at the start", procfs.ConnFds(pi.ServerPid()), startFds)
		}
	}
	tr.Notes = r.notes

	status := r.status
	if !r.stopped {
		var err error
		r.awaitQuiet()
		status, err = t.Stop()
		stopped = true
		if err != nil {
			return nil, fmt.Errorf("stop: %w", err)
		}
	}
	tr.Status = status
	tr.Stdout, tr.Stderr = string(t.Stdout()), string(t.Stderr())
	for _, n := range normalize {
		tr.Stdout, tr.Stderr = n(tr.Stdout, r), n(tr.Stderr, r)
	}
	if sc.UnorderedLog {
		tr.Stdout = sortLinesAfter(tr.Stdout, r.orderedLines)
	}
	return tr, nil
}

// endedNote says, for a step that failed, whether the server's process had ended
// meanwhile (how, and its last lines), which is then the likely cause.
func endedNote(t Target) string {
	var status string
	switch p := t.(type) {
	case Ender:
		// A server that died is reaped by a goroutine of its own: give it a moment.
		st, ended := p.Ended(endedWait)
		if !ended {
			return ""
		}
		status = st
	case Process:
		if p.Proc == nil || p.Proc.WaitExit(endedWait) == "running" {
			return ""
		}
		status = p.Proc.WaitExit(0)
	default:
		return ""
	}
	last := func(b []byte) string {
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 3 {
			lines = lines[len(lines)-3:]
		}
		return fmt.Sprintf("%q", strings.Join(lines, "\n"))
	}
	return fmt.Sprintf("; the server had ended: %s; its last stdout lines %s, stderr lines %s",
		status, last(t.Stdout()), last(t.Stderr()))
}

// Ender is a target that can tell whether its server's process has ended, waiting up to
// d for it: its status ("exited 1", "killed by SIGPIPE") and true, or false.
type Ender interface {
	Ended(d time.Duration) (string, bool)
}

// endedWait is how long a failed step waits to see whether the server's process ended.
const endedWait = 300 * time.Millisecond

// logSize is how many bytes the server logged so far, stdout and stderr.
func (r *Run) logSize() int { return len(r.target.Stdout()) + len(r.target.Stderr()) }

// awaitQuiet waits, with Options.Quiet, until the server's logs have not grown for that
// long, or the deadline passed (a server that never stops logging is stopped anyway).
// A server that can say it is idle (an Idler: every thread of its process group asleep)
// ends the wait sooner: idle at two looks idleGap apart with its logs unchanged since.
func (r *Run) awaitQuiet() {
	if r.quiet <= 0 {
		return
	}
	idler, _ := r.target.(Idler)
	last, since := r.logSize(), time.Now()
	var idleAt time.Time
	WaitFor(r.deadline, func() bool {
		if n := r.logSize(); n != last {
			last, since, idleAt = n, time.Now(), time.Time{}
		}
		if time.Since(since) >= r.quiet {
			return true
		}
		if idler == nil {
			return false
		}
		if !idler.Idle() {
			idleAt = time.Time{}
			return false
		}
		if idleAt.IsZero() {
			idleAt = time.Now()
		}
		return time.Since(idleAt) >= idleGap && r.logSize() == last
	})
}

// idleGap is how long a server must look idle, its logs unchanged, to be taken as quiet.
const idleGap = 3 * time.Millisecond

// An Idler is a server that can say whether it is idle: nothing of it running or about to.
type Idler interface{ Idle() bool }

// sortLinesAfter sorts the lines of s after the first n.
func sortLinesAfter(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	n = min(n, len(lines))
	sort.Strings(lines[n:])
	return strings.Join(lines, "")
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ---- what steps written outside this package see of a run ----

// Target is the server under test.
func (r *Run) Target() Target { return r.target }

// Host is the server's IPv4 loopback address: 127.0.0.1 unless the target says otherwise
// (a Host method, as Address's targets have).
func (r *Run) Host() string {
	if h, ok := r.target.(interface{ Host() string }); ok {
		return h.Host()
	}
	return "127.0.0.1"
}

// Deadline is when the scenario's watchdog fires.
func (r *Run) Deadline() time.Time { return r.deadline }

// Names are the connections' names, in the order they were declared.
func (r *Run) Names() []string { return r.names }

// Ended records that the server ended during the scenario (a step stopped or signalled
// it) with status; Execute then does not stop it again.
func (r *Run) Ended(status string) { r.stopped, r.status = true, status }

// AddConn adds a connection a step made itself (with socket options of its own, or
// numbered by hand), under name, with its local port; read starts its reader at once.
func (r *Run) AddConn(name string, s Sock, port int, read bool) (*Conn, error) {
	if _, dup := r.conns[name]; dup {
		return nil, fmt.Errorf("connection %q declared twice", name)
	}
	c := &Conn{name: name, c: s, port: port, readDone: make(chan struct{})}
	r.conns[name] = c
	r.names = append(r.names, name)
	if read {
		c.StartReading(r)
	}
	return c, nil
}

// Name is the connection's name in the scenario.
func (c *Conn) Name() string { return c.name }

// Sock is the client's socket.
func (c *Conn) Sock() Sock { return c.c }

// Port is the client's local port.
func (c *Conn) Port() int { return c.port }

// Data is a copy of what the connection received so far.
func (c *Conn) Data() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.data...)
}

// Reading says whether the connection's reader has started.
func (c *Conn) Reading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reading
}

// Received records p as received on the connection: for a step that reads the socket
// itself while the connection's reader is not running.
func (c *Conn) Received(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data = append(c.data, p...)
}
