//go:build linux

package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
)

// Server is a standalone server started for a measurement. Unlike standalone.StartServer
// it sends the server's stdout to /dev/null and drains its stderr as it goes: under load a
// server logs two lines per connection, and a buffer in the measuring process would grow
// by megabytes and cost the generator CPU. (The server still makes its write(2) calls.)
type Server struct {
	Cmd  *exec.Cmd
	Port int
	done chan struct{}
	// lines counts stderr lines after the first (epoll-et's "peer close conn...").
	lines int
	first string
}

var listeningRE = regexp.MustCompile(`^listening on 0\.0\.0\.0:(\d+)$`)

// StartServer runs argv (a server binary and its arguments, possibly behind strace) and
// waits for its "listening on" line.
func StartServer(timeout time.Duration, argv ...string) (*Server, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd.Stdout = devnull
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Cmd: cmd, done: make(chan struct{})}
	ready := make(chan int, 1)
	go func() {
		r := bufio.NewReader(errPipe)
		line, err := r.ReadString('\n')
		s.first = strings.TrimSuffix(line, "\n")
		port := -1
		if m := listeningRE.FindStringSubmatch(s.first); m != nil {
			port, _ = strconv.Atoi(m[1])
		}
		ready <- port
		if err == nil {
			io.Copy(io.Discard, r)
		}
		cmd.Wait()
		close(s.done)
	}()
	select {
	case port := <-ready:
		if port < 0 {
			s.Kill()
			return nil, fmt.Errorf("%v did not start: %q", argv, s.first)
		}
		s.Port = port
		return s, nil
	case <-time.After(timeout):
		s.Kill()
		return nil, fmt.Errorf("%v: no \"listening on\" line within %v", argv, timeout)
	}
}

// Pid is the started process (the server, or strace in front of it).
func (s *Server) Pid() int { return s.Cmd.Process.Pid }

// Stop sends SIGTERM to pid (the server itself, which may be strace's child) and waits
// up to timeout for the started process to end; after that it is killed.
func (s *Server) Stop(pid int, timeout time.Duration) error {
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(timeout):
		s.Kill()
		return fmt.Errorf("server %d did not stop within %v", pid, timeout)
	}
}

// Kill ends the started process and waits for it.
func (s *Server) Kill() {
	s.Cmd.Process.Kill()
	<-s.done
}

// Binaries are the standalone binaries plus the baseline server, built into one directory.
type Binaries struct {
	standalone.Binaries
	Baseline string // accept, recv, close: the floor of this machine
}

// Build builds the standalone binaries (standalone.Build) and the baseline server.
func Build(ctx context.Context, dir string) (Binaries, error) {
	sb, err := standalone.Build(ctx, dir)
	b := Binaries{Binaries: sb, Baseline: filepath.Join(dir, "baseline")}
	if err != nil {
		return b, err
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	src := filepath.Join(standalone.RepoRoot(), "compare", "internal", "load", "baseline", "baseline.c")
	cmd := exec.CommandContext(ctx, cc, "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", b.Baseline, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, fmt.Errorf("%v: %v\n%s", cmd.Args, err, out)
	}
	return b, nil
}
