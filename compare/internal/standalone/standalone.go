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
	"sync"
	"syscall"
	"time"
)

// Impl names a language side: "c" or "go".
type Impl string

const (
	C  Impl = "c"
	Go Impl = "go"
)

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

// Build compiles the four binaries into dir with the flags the Makefile uses.
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
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

var listeningRE = regexp.MustCompile(`^listening on 0\.0\.0\.0:(\d+)$`)

// StartServer starts path with args and waits until it prints "listening on" (its
// readiness), or exits, or timeout passes.
func StartServer(path string, timeout time.Duration, args ...string) (*Process, error) {
	return StartServerWith(path, nil, timeout, args...)
}

// StartServerWith is StartServer giving the server extra open descriptors, numbered from 3
// (os/exec's ExtraFiles): the caller may close its copies once it returns.
func StartServerWith(path string, extra []*os.File, timeout time.Duration, args ...string) (*Process, error) {
	return startServer(path, extra, nil, timeout, args...)
}

// StartServerGroup is StartServerWith with the server the leader of a process group of its
// own (its pid is the group's id), so that a test can signal the server and its children
// as a terminal's Ctrl-C does (kill(-pid, sig)) without signalling itself.
func StartServerGroup(path string, extra []*os.File, timeout time.Duration, args ...string) (*Process, error) {
	return startServer(path, extra, &syscall.SysProcAttr{Setpgid: true}, timeout, args...)
}

func startServer(path string, extra []*os.File, attr *syscall.SysProcAttr, timeout time.Duration, args ...string) (*Process, error) {
	p := &Process{
		Cmd:    exec.Command(path, args...),
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		done:   make(chan struct{}),
	}
	p.Cmd.ExtraFiles = extra
	p.Cmd.SysProcAttr = attr
	p.Cmd.Stdout = p.stdout
	errPipe, err := p.Cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan int, 1)
	go func() {
		// Copy stderr, and hand over the port from the first line.
		sc := bufio.NewReader(errPipe)
		first := true
		for {
			line, err := sc.ReadString('\n')
			p.stderr.Write([]byte(line))
			if first && line != "" {
				first = false
				if m := listeningRE.FindStringSubmatch(trimNL(line)); m != nil {
					port, _ := strconv.Atoi(m[1])
					ready <- port
				} else {
					ready <- -1
				}
			}
			if err != nil {
				break
			}
		}
		if first {
			ready <- -1
		}
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	select {
	case port := <-ready:
		if port < 0 {
			p.Kill()
			return p, fmt.Errorf("%s %v did not start: %q", path, args, p.Stderr())
		}
		p.Port = port
		return p, nil
	case <-time.After(timeout):
		p.Kill()
		return p, fmt.Errorf("%s %v: no \"listening on\" line within %v", path, args, timeout)
	}
}

func trimNL(s string) string {
	if n := len(s); n > 0 && s[n-1] == '\n' {
		return s[:n-1]
	}
	return s
}

// Stdout is what the server printed on stdout so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr is what the server printed on stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Pid is the server's process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Signal sends sig and waits up to timeout for the server to exit; it returns the exit
// code (or -1 and an error when it did not exit in time, after which it is killed).
func (p *Process) Signal(sig syscall.Signal, timeout time.Duration) (int, error) {
	if err := p.Cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return -1, err
	}
	return p.Wait(timeout)
}

// Wait waits up to timeout for the server to exit and returns its exit code.
func (p *Process) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		p.Kill()
		return -1, fmt.Errorf("server %d did not exit within %v", p.Pid(), timeout)
	}
}

// Kill ends the server if it still runs and waits for it.
func (p *Process) Kill() {
	p.Cmd.Process.Kill()
	<-p.done
}

// Run runs a command (a client, or a server that should fail) to its end within timeout
// and returns its stdout, stderr and exit code.
func Run(timeout time.Duration, path string, args ...string) (stdout, stderr string, code int, err error) {
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
	return out.String(), errb.String(), cmd.ProcessState.ExitCode(), err
}
