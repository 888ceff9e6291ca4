//go:build linux

// Package standalone builds the standalone servers and clients of both languages into a
// directory (the C compiler for csrc/, CGO_ENABLED=0 go build for gosrv/) and runs them as
// processes. Tests and the report use it so that nothing depends on a prior `make`.
package standalone

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/internal/logpipe"
	"github.com/iomodels/iomodels/internal/procfs"
	"golang.org/x/sys/unix"
)

// Impl names a language side: "c" or "go".
type Impl string

const (
	C  Impl = "c"
	Go Impl = "go"
)

// shared is what Shared built, once per process.
var shared struct {
	once sync.Once
	bins Binaries
	err  error
	dir  string
}

// Shared builds the four programs into a temporary directory the first time it is called
// in this process (builds take seconds, so every test of a test binary shares one) and
// returns the same Binaries, or the same error, afterwards. RemoveShared deletes the
// directory: a test binary's TestMain calls it after m.Run.
func Shared() (Binaries, error) {
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "iomodels-build-"); shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared.bins, shared.err = Build(ctx, shared.dir)
	})
	return shared.bins, shared.err
}

// RemoveShared deletes what Shared built, if it built anything.
func RemoveShared() {
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

// Binaries are the four programs one Build made.
type Binaries struct {
	Dir string
}

// Server is the path of impl's server binary.
func (b Binaries) Server(impl Impl) string { return filepath.Join(b.Dir, string(impl), "server") }

// Client is the path of impl's client binary.
func (b Binaries) Client(impl Impl) string { return filepath.Join(b.Dir, string(impl), "client") }

// RepoRoot finds the repository root (the directory holding go.mod) from this source file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// CFiles lists the C sources of the server: every .c in csrc/ but the client's.
func CFiles(root string) ([]string, error) {
	all, err := filepath.Glob(filepath.Join(root, "csrc", "*.c"))
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range all {
		if filepath.Base(f) != "client.c" {
			files = append(files, f)
		}
	}
	return files, nil
}

// SanitizeEnv names the environment variable that, set to 1, makes Build compile the C
// programs with AddressSanitizer and UndefinedBehaviorSanitizer (`make sanitize`'s flags),
// so that every standalone test runs the sanitized C server against the Go one.
const SanitizeEnv = "IOMODELS_SANITIZE"

// SanitizeFlags are the compiler flags of a sanitized build (Makefile: SANITIZE_FLAGS):
// every error halts the program (no recovery), with frame pointers for its stack trace.
var SanitizeFlags = []string{"-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"}

// Sanitized: this run builds the sanitized C programs (SanitizeEnv=1).
func Sanitized() bool { return os.Getenv(SanitizeEnv) == "1" }

// SanitizerOptions are the run-time options of the sanitized C programs, set by SetSanitizerOptions.
// ASan's own handlers for SIGSEGV, SIGBUS and SIGFPE would turn those signals, sent by
// kill, into a report and exit status 1 instead of death by the signal (measured: exit 1
// with "AddressSanitizer: SEGV on unknown address"); off, every signal does what it does
// to the plain build. Everything else ASan and LSan check stays on: an error is a report on
// stderr and exit status 1 (a leak at exit: 23), which the comparison with Go shows.
var SanitizerOptions = map[string]string{
	"ASAN_OPTIONS":  "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:halt_on_error=1:detect_leaks=1",
	"UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}

// SetSanitizerOptions puts SanitizerOptions into this process's environment (which the
// servers inherit), unless already set there.
func SetSanitizerOptions() {
	for k, v := range SanitizerOptions {
		if _, ok := os.LookupEnv(k); !ok {
			os.Setenv(k, v)
		}
	}
}

// Build compiles the four binaries into dir with the flags the Makefile uses (with
// SanitizeFlags when Sanitized).
func Build(ctx context.Context, dir string) (Binaries, error) {
	root := RepoRoot()
	b := Binaries{Dir: dir}
	for _, impl := range []Impl{C, Go} {
		if err := os.MkdirAll(filepath.Join(dir, string(impl)), 0o755); err != nil {
			return b, err
		}
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	cflags := []string{"-O2", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror"}
	if Sanitized() {
		cflags = append([]string{"-O1", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror"}, SanitizeFlags...)
	}
	server, err := CFiles(root)
	if err != nil {
		return b, err
	}
	common := filepath.Join(root, "csrc", "common.c")
	cmds := []*exec.Cmd{
		exec.CommandContext(ctx, cc, append(append(append(cflags, "-o", b.Server(C)), server...), "-lpthread")...),
		exec.CommandContext(ctx, cc, append(cflags, "-o", b.Client(C), filepath.Join(root, "csrc", "client.c"), common)...),
		exec.CommandContext(ctx, "go", "build", "-o", b.Server(Go), "./gosrv/cmd/server"),
		exec.CommandContext(ctx, "go", "build", "-o", b.Client(Go), "./gosrv/cmd/client"),
	}
	for _, cmd := range cmds {
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("%v: %v\n%s", cmd.Args, err, out)
		}
	}
	return b, nil
}

// Stream is what one of the server's log descriptors, stdout or stderr, is.
type Stream int

const (
	// Read: a pipe read to its end as the server writes (stdout's is a logpipe.Pipe, which
	// a test may hold).
	Read Stream = iota
	// Stall: a pipe shrunk to one page that nobody reads until Drain: a few lines fill it
	// and the server's next write blocks.
	Stall
	// Broken: a pipe whose read end is closed before the server starts (EPIPE, SIGPIPE).
	Broken
	// Closed: no descriptor at all (a shell's >&-).
	Closed
	// Discard: /dev/null.
	Discard
)

// stream is the reading end of one of the server's log pipes other than a held stdout.
type stream struct {
	mode Stream
	r    *os.File
	mu   sync.Mutex
	buf  bytes.Buffer
	eof  chan struct{}
	gate chan struct{} // closed to start reading (at once unless Stall)
	once sync.Once
	// firstOnly keeps the first line only, and discards the rest as it comes (Quiet).
	firstOnly bool
}

func (l *stream) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// read copies the pipe into buf until its end, calling onLine with each line.
func (l *stream) read(onLine func(string)) {
	defer close(l.eof)
	defer l.r.Close()
	<-l.gate
	br := bufio.NewReader(l.r)
	first := true
	for {
		line, err := br.ReadString('\n')
		if first || !l.firstOnly {
			l.mu.Lock()
			l.buf.WriteString(line)
			l.mu.Unlock()
		}
		if line != "" {
			first = false
			if onLine != nil {
				onLine(line)
			}
		}
		if err != nil {
			return
		}
	}
}

func (l *stream) drain() { l.once.Do(func() { close(l.gate) }) }

// Process is a running standalone server.
type Process struct {
	proc   *os.Process
	Port   int
	stdout *logpipe.Pipe // Read: a pipe of its own, which a test may hold (logpipe.Pipe.Hold)
	logs   [2]*stream    // stdout when Stall, stderr when Read or Stall
	group  bool
	exited chan struct{} // closed once the process was reaped
	done   chan struct{} // closed once it was reaped and its read logs reached their end
	state  *os.ProcessState
}

var listeningRE = regexp.MustCompile(`^listening on 0\.0\.0\.0:(\d+)\n?$`)

// ParseListening reads a server's readiness line, "listening on 0.0.0.0:PORT" (with its
// newline or without), and returns PORT. It is the one reader of that line.
func ParseListening(line string) (port int, ok bool) {
	m := listeningRE.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	port, err := strconv.Atoi(m[1])
	if err != nil || port <= 0 || port > 65535 {
		return 0, false
	}
	return port, true
}

// Options say how Start runs a server; the zero value reads stdout and stderr, and waits
// for the "listening on" line.
type Options struct {
	// Extra are open descriptors the server is given, numbered from 3: the caller may
	// close its copies once Start returns.
	Extra []*os.File
	// Stdout and Stderr say what the server's descriptors 1 and 2 are.
	Stdout, Stderr Stream
	// Quiet sends stdout to /dev/null and keeps only the first stderr line, draining the
	// rest as it comes: under load a server logs two lines per connection, and buffering
	// them would grow by megabytes and cost the measuring process CPU. (The server still
	// makes its write(2) calls.)
	Quiet bool
	// ReadyPort, when not 0, is the port the server will listen on: it is ready once a
	// socket of its own (or of a process it started) listens there (procfs.Listening: no
	// probe connection that it would see and log), whatever it prints. 0: ready at its
	// "listening on 0.0.0.0:PORT" line when stderr is read, else once it holds a
	// listening socket (procfs.ListeningPort).
	ReadyPort int
	// Group makes the server the leader of a process group of its own (its pid is the
	// group's id), so that a test can signal the server and its children as a terminal's
	// Ctrl-C does, kill(-pid, sig), without signalling itself.
	Group bool
	// Tool: the server is started for a tool (paritydiff) rather than a test: it leads a
	// process group of its own (Group), the kernel kills it if the thread that started it
	// dies (a parent-death signal, SIGKILL), and StopAll reaches it until it was reaped.
	Tool bool
}

// Start runs argv (a server binary and its arguments, possibly behind a wrapper such as
// strace or valgrind) as o says and waits until the server listens (Options.ReadyPort
// says how that is seen), or exits, or timeout passes. It is the one way this repository
// starts a standalone server. A server that exits before it listens gives ErrExited, with
// its stderr so far.
func Start(argv []string, o Options, timeout time.Duration) (*Process, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty command line")
	}
	if o.Quiet {
		o.Stdout = Discard
	}
	p := &Process{group: o.Group, exited: make(chan struct{}), done: make(chan struct{})}
	var toClose []*os.File
	defer func() {
		for _, f := range toClose {
			f.Close()
		}
	}()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	toClose = append(toClose, devnull)
	files := []*os.File{devnull, nil, nil}
	for i, mode := range []Stream{o.Stdout, o.Stderr} {
		switch {
		case mode == Closed:
		case mode == Discard:
			files[1+i] = devnull
		case mode == Read && i == 0:
			lp, err := logpipe.New()
			if err != nil {
				return nil, err
			}
			p.stdout = lp
			// An *os.File is handed to the child as it is: the server writes into the pipe
			// itself, with no copying goroutine in between that a hold could not stop.
			w := os.NewFile(uintptr(lp.W), "stdout")
			lp.W = -1 // closed below, once the child has its copy
			toClose = append(toClose, w)
			files[1] = w
		default:
			r, w, err := brokenOrNot(mode)
			if err != nil {
				return nil, err
			}
			toClose = append(toClose, w)
			files[1+i] = w
			if mode == Broken {
				continue
			}
			l := &stream{mode: mode, r: r, eof: make(chan struct{}), gate: make(chan struct{}), firstOnly: o.Quiet && i == 1}
			if mode == Stall {
				if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, os.Getpagesize()); err != nil {
					r.Close()
					return nil, os.NewSyscallError("fcntl F_SETPIPE_SZ", err)
				}
			} else {
				l.drain()
			}
			p.logs[i] = l
		}
	}
	files = append(files, o.Extra...)
	path := argv[0]
	if !strings.Contains(path, "/") {
		if path, err = exec.LookPath(path); err != nil {
			return nil, err
		}
	}
	if o.Tool {
		o.Group, p.group = true, true
		if err := CloseOnExecAll(); err != nil {
			return nil, err
		}
	}
	attr := &os.ProcAttr{Files: files, Sys: &syscall.SysProcAttr{Setpgid: o.Group}}
	if o.Tool {
		// Pdeathsig is the death of the starting thread, not of the process: the Go
		// runtime ends a thread only when a goroutine locked to it exits, which this
		// package's callers do not do.
		attr.Sys.Pdeathsig = syscall.SIGKILL
	}
	proc, err := os.StartProcess(path, argv, attr)
	if err != nil {
		return nil, err
	}
	p.proc = proc
	if o.Tool {
		tools.add(p)
	}
	for _, f := range toClose {
		f.Close() // the child has its copies; a pipe's reader sees its end when they are gone
	}
	toClose = nil

	ready := make(chan int, 1)
	byLine := o.ReadyPort == 0 && o.Stderr == Read
	for i, l := range p.logs {
		if l == nil {
			continue
		}
		var onLine func(string)
		if i == 1 && byLine {
			first := true
			onLine = func(line string) {
				if first {
					first = false
					port, ok := ParseListening(line)
					if !ok {
						port = -1
					}
					ready <- port
				}
			}
		}
		go l.read(onLine)
	}
	go func() {
		p.state, _ = proc.Wait()
		close(p.exited)
		if o.Tool {
			tools.remove(p)
		}
		if p.stdout != nil {
			<-p.stdout.Done // every byte the server wrote to stdout is read
		}
		if l := p.logs[1]; l != nil && l.mode == Read {
			<-l.eof
		}
		close(p.done)
	}()
	if !byLine {
		go func() {
			for {
				select {
				case <-p.exited:
					return
				default:
				}
				if o.ReadyPort != 0 && procfs.Listening(proc.Pid, o.ReadyPort) {
					ready <- o.ReadyPort
					return
				}
				if o.ReadyPort == 0 {
					if port := procfs.ListeningPort(proc.Pid); port > 0 {
						ready <- port
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	select {
	case port := <-ready:
		if port > 0 {
			p.Port = port
			return p, nil
		}
	case <-p.exited:
		select {
		case port := <-ready: // a line read just before the exit
			if port > 0 {
				p.Port = port
				return p, nil
			}
		default:
		}
	case <-time.After(timeout):
		p.Kill()
		if o.ReadyPort != 0 {
			return p, fmt.Errorf("%v: nothing listening on port %d within %v", argv, o.ReadyPort, timeout)
		}
		if byLine {
			return p, fmt.Errorf("%v: no \"listening on\" line within %v", argv, timeout)
		}
		return p, fmt.Errorf("%v: no listening socket within %v", argv, timeout)
	}
	p.Kill()
	if p.Exited() {
		return p, fmt.Errorf("%v did not start: %w (%s), stdout %q, stderr %q", argv, ErrExited, Status(p.state), p.Stdout(), p.Stderr())
	}
	return p, fmt.Errorf("%v did not start (%s): stdout %q, stderr %q", argv, Status(p.state), p.Stdout(), p.Stderr())
}

// ErrExited: the server exited before it listened.
var ErrExited = errors.New("the server exited before it listened")

// brokenOrNot makes a log pipe; for Broken its read end is closed at once (r is nil).
// While the read end exists, a process that another goroutine forks gets a copy of it
// until it execs (close-on-exec): on a loaded machine long enough for a server started
// meanwhile to write its first line into the pipe and live on (seen once in ~20 runs:
// a Go fork server idle with a "broken" stderr). Holding syscall.ForkLock for reading
// keeps forks out (os.StartProcess takes it for writing, and its vfork'ed child has exec'd
// when it returns).
func brokenOrNot(mode Stream) (r, w *os.File, err error) {
	if mode != Broken {
		return os.Pipe()
	}
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	r, w, err = os.Pipe()
	if err == nil {
		r.Close()
	}
	return nil, w, err
}

// StartServer starts path with args (Start without options).
func StartServer(path string, timeout time.Duration, args ...string) (*Process, error) {
	return Start(append([]string{path}, args...), Options{}, timeout)
}

// Stdout is what the server printed on stdout so far.
func (p *Process) Stdout() string {
	if p.stdout == nil {
		return ""
	}
	return string(p.stdout.Bytes())
}

// StdoutPipe is the pipe the server prints its stdout to (nil when Quiet), which a test
// may hold (logpipe.Pipe.Hold) to stop the server at its next line. Its W is -1: the write
// end is the server's descriptor 1.
func (p *Process) StdoutPipe() *logpipe.Pipe { return p.stdout }

// unhold lets a held stdout drain: a server blocked on it could not act on a signal.
func (p *Process) unhold() {
	if p.stdout != nil {
		p.stdout.Unhold()
	}
}

// Stderr is what the server printed on stderr so far ("" when it is not read).
func (p *Process) Stderr() string { return p.Log(2) }

// Log is what the server printed so far on fd 1 or 2, whatever the stream ("" when it is
// not read).
func (p *Process) Log(fd int) string {
	if fd == 1 && p.stdout != nil {
		return string(p.stdout.Bytes())
	}
	if l := p.logs[fd-1]; l != nil {
		return l.String()
	}
	return ""
}

// Drain starts reading the server's stalled streams (Stall).
func (p *Process) Drain() {
	for _, l := range p.logs {
		if l != nil {
			l.drain()
		}
	}
}

// Logs drains the server's streams and waits, up to timeout, until every one that is read
// reached its end (every writer gone, a fork server's children included); it returns
// stdout and stderr.
func (p *Process) Logs(timeout time.Duration) (stdout, stderr string, err error) {
	p.Drain()
	deadline := time.After(timeout)
	var ends []<-chan struct{}
	if p.stdout != nil {
		ends = append(ends, p.stdout.Done)
	}
	for _, l := range p.logs {
		if l != nil {
			ends = append(ends, l.eof)
		}
	}
	for _, end := range ends {
		select {
		case <-end:
		case <-deadline:
			return p.Stdout(), p.Stderr(), errors.New("a log pipe did not reach its end")
		}
	}
	return p.Stdout(), p.Stderr(), nil
}

// Pid is the started process's id (the server, or the wrapper in front of it).
func (p *Process) Pid() int { return p.proc.Pid }

// Send sends sig to the server and does not wait; a server already reaped is no error.
func (p *Process) Send(sig syscall.Signal) error {
	if err := p.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Exited says whether the server was reaped.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// WaitExit waits up to d for the server to be reaped, its logs aside, and returns its
// status, or "running".
func (p *Process) WaitExit(d time.Duration) string {
	if p.Exited() {
		return Status(p.state)
	}
	select {
	case <-p.exited:
		return Status(p.state)
	case <-time.After(d):
		return "running"
	}
}

// State is how the process ended (nil while it runs): its status and resource usage.
func (p *Process) State() *os.ProcessState {
	if !p.Exited() {
		return nil
	}
	return p.state
}

// Signal sends sig and waits up to timeout for the server to exit; it returns how it
// ended (Status), or an error when it did not exit in time, after which it is killed.
func (p *Process) Signal(sig syscall.Signal, timeout time.Duration) (string, error) {
	p.unhold()
	if err := p.Send(sig); err != nil {
		return "", err
	}
	return p.Wait(timeout)
}

// Stop sends sig to the server and returns how it ended, every wait bounded by grace:
// a server that has not exited grace after sig is killed with its process group
// (SIGKILL). Once it exited, what remains of its group (a fork server's children, which
// may hold its stdout and stderr open) gets SIGTERM, and SIGKILL if its logs have not
// reached their end grace later. err says what had to be killed, or that the logs are
// still held (a process that left the group) and were read only so far.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) (string, error) {
	p.unhold()
	if err := p.Send(sig); err != nil {
		return "", err
	}
	var errs []error
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.killGroup(unix.SIGKILL)
		errs = append(errs, fmt.Errorf("server %d did not exit within %v of %s: killed (SIGKILL) with its process group", p.Pid(), grace, SignalName(sig)))
		select {
		case <-p.exited:
		case <-time.After(grace):
			return "running", errors.Join(append(errs, fmt.Errorf("server %d not reaped %v after SIGKILL", p.Pid(), grace))...)
		}
	}
	select {
	case <-p.done:
		return Status(p.state), errors.Join(errs...)
	default:
	}
	p.Drain()
	p.killGroup(unix.SIGTERM)
	select {
	case <-p.done:
		return Status(p.state), errors.Join(errs...)
	case <-time.After(grace):
	}
	p.killGroup(unix.SIGKILL)
	select {
	case <-p.done:
		errs = append(errs, fmt.Errorf("server %d exited (%s) but its process group held its logs open %v after SIGTERM: killed (SIGKILL)", p.Pid(), Status(p.state), grace))
	case <-time.After(grace):
		errs = append(errs, fmt.Errorf("server %d exited (%s) but a process outside its group holds its logs open: they are taken as read so far", p.Pid(), Status(p.state)))
	}
	return Status(p.state), errors.Join(errs...)
}

// killGroup sends sig to the server's process group (Group), or to the server alone.
func (p *Process) killGroup(sig unix.Signal) {
	if p.group {
		unix.Kill(-p.proc.Pid, sig)
		return
	}
	if !p.Exited() {
		p.proc.Signal(sig)
	}
}

// CloseOnExecAll marks every descriptor of this process above 2 close-on-exec, so that a
// server started next holds only the descriptors it is given (0-2): a descriptor this
// process inherited open (a shell's fd 10) would otherwise pass on and shift the
// server's descriptor numbers.
func CloseOnExecAll() error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	self := int(d.Fd())
	if err != nil {
		d.Close()
		return err
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= 2 || fd == self {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue // closed meanwhile, or already close-on-exec
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil {
			d.Close()
			return os.NewSyscallError("fcntl F_SETFD", err)
		}
	}
	return d.Close()
}

// tools are the processes started with Options.Tool and not yet reaped.
var tools = toolSet{live: map[*Process]bool{}}

type toolSet struct {
	mu   sync.Mutex
	live map[*Process]bool
}

func (t *toolSet) add(p *Process)    { t.mu.Lock(); t.live[p] = true; t.mu.Unlock() }
func (t *toolSet) remove(p *Process) { t.mu.Lock(); delete(t.live, p); t.mu.Unlock() }

// StopAll stops every server started with Options.Tool that was not reaped yet, with its
// process group: SIGTERM to each group, then SIGKILL to those whose leader has not exited
// grace later, and it returns once their members are gone (or a further grace has passed),
// so that a tool that exits next leaves none running. A tool calls it when it is told to
// stop (SIGINT, SIGTERM, SIGHUP). It returns how many servers it found running.
func StopAll(grace time.Duration) int {
	tools.mu.Lock()
	var ps []*Process
	for p := range tools.live {
		ps = append(ps, p)
	}
	tools.mu.Unlock()
	for _, p := range ps {
		p.unhold()
		p.killGroup(unix.SIGTERM)
	}
	deadline := time.After(grace)
	for _, p := range ps {
		select {
		case <-p.exited:
		case <-deadline:
		}
	}
	for _, p := range ps {
		// The group may outlive its leader (children that ignore SIGTERM).
		unix.Kill(-p.proc.Pid, unix.SIGKILL)
	}
	// A killed process lives on until the kernel has torn it down (its sockets closed):
	// the leader until it is reaped, the other members until they are zombies or gone.
	gone := func() bool {
		for _, p := range ps {
			select {
			case <-p.exited:
			default:
				return false
			}
			if len(procfs.GroupMembers(p.proc.Pid)) > 0 {
				return false
			}
		}
		return true
	}
	for until := time.Now().Add(grace); !gone() && time.Now().Before(until); {
		time.Sleep(5 * time.Millisecond)
	}
	return len(ps)
}

// Wait waits up to timeout for the server to exit and returns how it ended (Status).
func (p *Process) Wait(timeout time.Duration) (string, error) {
	select {
	case <-p.done:
		return Status(p.state), nil
	case <-time.After(timeout):
		p.Kill()
		return "", fmt.Errorf("server %d did not exit within %v", p.Pid(), timeout)
	}
}

// Status says how a process ended, as its wait status tells: "exited N" or "killed by
// SIGX" (never ProcessState.ExitCode's -1, which hides which signal it was).
func Status(ps *os.ProcessState) string {
	if ps == nil {
		return "not started"
	}
	return WaitStatus(ps.Sys().(syscall.WaitStatus))
}

// WaitStatus is Status for a raw wait status.
func WaitStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited %d", ws.ExitStatus())
	case ws.Signaled():
		return "killed by " + SignalName(ws.Signal())
	case ws.Stopped():
		return "stopped by " + SignalName(ws.StopSignal())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// SignalName is the name `kill -l` gives sig: SIGHUP..SIGSYS, SIGRTMIN+n and SIGRTMAX-n
// for glibc's real-time range 34..64 (SIGRTMIN is 34: glibc keeps 32 and 33 for itself,
// which have no name and are "signal 32", "signal 33").
func SignalName(sig syscall.Signal) string {
	const rtmin, rtmax = 34, 64
	switch {
	case sig >= 1 && sig <= 31:
		if name := unix.SignalName(sig); name != "" {
			return name
		}
	case sig == rtmin:
		return "SIGRTMIN"
	case sig == rtmax:
		return "SIGRTMAX"
	case sig > rtmin && sig <= (rtmin+rtmax)/2:
		return fmt.Sprintf("SIGRTMIN+%d", int(sig)-rtmin)
	case sig > (rtmin+rtmax)/2 && sig < rtmax:
		return fmt.Sprintf("SIGRTMAX-%d", rtmax-int(sig))
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// Kill ends the server if it still runs and waits for it and its logs: with Group, its
// whole process group (fork's children; a wrapper's child, such as strace's tracee, holds
// the output pipes too).
func (p *Process) Kill() {
	p.unhold()
	if p.group {
		unix.Kill(-p.proc.Pid, unix.SIGKILL)
	}
	p.proc.Kill()
	p.Drain()
	<-p.done
}

// ClosedPort is a loopback port that refuses connections: bound, never listening, held
// until release is called, so that no other program can take it meanwhile.
func ClosedPort() (port int, release func(), err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, os.NewSyscallError("socket", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		return 0, nil, os.NewSyscallError("bind", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return 0, nil, os.NewSyscallError("getsockname", err)
	}
	return sa.(*syscall.SockaddrInet4).Port, func() { syscall.Close(fd) }, nil
}

// Run runs a command (a client, or a server that should fail) to its end within timeout
// and returns its stdout, stderr and how it ended (Status).
func Run(timeout time.Duration, path string, args ...string) (stdout, stderr, status string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		err = nil
	}
	return out.String(), errb.String(), Status(cmd.ProcessState), err
}
