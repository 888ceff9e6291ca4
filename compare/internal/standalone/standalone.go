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
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
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

// syncBuffer is a bytes.Buffer that a process's output goroutine and a test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// Process is a running standalone server.
type Process struct {
	Cmd    *exec.Cmd
	Port   int
	stdout *logpipe.Pipe // a pipe of its own, which a test may hold (logpipe.Pipe.Hold); nil when Quiet
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

var listeningRE = regexp.MustCompile(`^listening on 0\.0\.0\.0:(\d+)$`)

// Options say how Start runs a server.
type Options struct {
	// Extra are open descriptors the server is given, numbered from 3 (os/exec's
	// ExtraFiles): the caller may close its copies once Start returns.
	Extra []*os.File
	// Quiet sends stdout to /dev/null and keeps only the first stderr line, draining the
	// rest as it comes: under load a server logs two lines per connection, and buffering
	// them would grow by megabytes and cost the measuring process CPU. (The server still
	// makes its write(2) calls.)
	Quiet bool
	// ReadyPort, when not 0, is the port the server will listen on: it is ready once a
	// socket of its own (or of a process it started) listens there (procfs.Listening: no
	// probe connection that it would see and log), whatever it prints. 0: ready at its
	// "listening on 0.0.0.0:PORT" line.
	ReadyPort int
	// Group makes the server the leader of a process group of its own (its pid is the
	// group's id), so that a test can signal the server and its children as a terminal's
	// Ctrl-C does, kill(-pid, sig), without signalling itself.
	Group bool
}

// Start runs argv (a server binary and its arguments, possibly behind a wrapper such as
// strace) and waits until the server prints "listening on" (its readiness), or exits, or
// timeout passes. It is the one way this repository starts a standalone server.
func Start(argv []string, o Options, timeout time.Duration) (*Process, error) {
	p := &Process{
		Cmd:    exec.Command(argv[0], argv[1:]...),
		stderr: &syncBuffer{},
		done:   make(chan struct{}),
	}
	p.Cmd.ExtraFiles = o.Extra
	if o.Group {
		p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	var outW *os.File
	if o.Quiet {
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		outW = devnull
	} else {
		stdout, err := logpipe.New()
		if err != nil {
			return nil, err
		}
		p.stdout = stdout
		// An *os.File is handed to the child as it is: the server writes into the pipe
		// itself, with no copying goroutine in between that a hold could not stop.
		outW = os.NewFile(uintptr(stdout.W), "stdout")
		stdout.W = -1 // closed below, once the child has its copy
	}
	p.Cmd.Stdout = outW
	errPipe, err := p.Cmd.StderrPipe()
	if err != nil {
		outW.Close()
		return nil, err
	}
	err = p.Cmd.Start()
	outW.Close() // the child has its copy; the pipe's reader sees end of file when it exits
	if err != nil {
		return nil, err
	}
	ready := make(chan int, 1)
	go func() {
		// Copy stderr, and hand over the port from the first line.
		sc := bufio.NewReader(errPipe)
		first := true
		for {
			line, err := sc.ReadString('\n')
			if first && line != "" && o.ReadyPort == 0 {
				first = false
				p.stderr.Write([]byte(line))
				port := -1
				if m := listeningRE.FindStringSubmatch(trimNL(line)); m != nil {
					port, _ = strconv.Atoi(m[1])
				}
				ready <- port
				if o.Quiet && err == nil {
					io.Copy(io.Discard, sc)
					break
				}
			} else if line != "" {
				p.stderr.Write([]byte(line))
			}
			if err != nil {
				break
			}
		}
		if first && o.ReadyPort == 0 {
			ready <- -1
		}
		p.err = p.Cmd.Wait()
		if p.stdout != nil {
			<-p.stdout.Done // every byte the server wrote to stdout is read
		}
		close(p.done)
	}()
	if o.ReadyPort != 0 {
		pid := p.Cmd.Process.Pid
		go func() {
			for {
				select {
				case <-p.done:
					ready <- -1
					return
				default:
				}
				if procfs.Listening(pid, o.ReadyPort) {
					ready <- o.ReadyPort
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	select {
	case port := <-ready:
		if port < 0 {
			p.Kill()
			return p, fmt.Errorf("%v did not start: %q", argv, p.Stderr())
		}
		p.Port = port
		return p, nil
	case <-time.After(timeout):
		p.Kill()
		if o.ReadyPort != 0 {
			return p, fmt.Errorf("%v: nothing listening on port %d within %v", argv, o.ReadyPort, timeout)
		}
		return p, fmt.Errorf("%v: no \"listening on\" line within %v", argv, timeout)
	}
}

// StartServer starts path with args (Start without options).
func StartServer(path string, timeout time.Duration, args ...string) (*Process, error) {
	return Start(append([]string{path}, args...), Options{}, timeout)
}

// StartServerWith is StartServer giving the server extra open descriptors, numbered from 3
// (os/exec's ExtraFiles): the caller may close its copies once it returns.
func StartServerWith(path string, extra []*os.File, timeout time.Duration, args ...string) (*Process, error) {
	return Start(append([]string{path}, args...), Options{Extra: extra}, timeout)
}

func trimNL(s string) string {
	if n := len(s); n > 0 && s[n-1] == '\n' {
		return s[:n-1]
	}
	return s
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

// Stderr is what the server printed on stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Pid is the started process's id (the server, or the wrapper in front of it).
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Signal sends sig and waits up to timeout for the server to exit; it returns how it
// ended (Status), or an error when it did not exit in time, after which it is killed.
func (p *Process) Signal(sig syscall.Signal, timeout time.Duration) (string, error) {
	p.unhold()
	if err := p.Cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return "", err
	}
	return p.Wait(timeout)
}

// Wait waits up to timeout for the server to exit and returns how it ended (Status).
func (p *Process) Wait(timeout time.Duration) (string, error) {
	select {
	case <-p.done:
		return Status(p.Cmd.ProcessState), nil
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

// Kill ends the server if it still runs and waits for it: with Group, its whole process
// group (a wrapper's child, such as strace's tracee, holds the output pipes too).
func (p *Process) Kill() {
	p.unhold()
	if a := p.Cmd.SysProcAttr; a != nil && a.Setpgid {
		syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	}
	p.Cmd.Process.Kill()
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
