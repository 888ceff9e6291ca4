//go:build linux

package gosrv

// inprocess.go - a Go model running inside the calling process, so that a test can start,
// drive and stop it like the C reference in native/native.go, its twin step for step: the
// same listener, the same stop eventfd, the same two log pipes drained into buffers, and the
// model's Serve on an OS thread of its own.
//
// The goroutine that runs Serve locks its thread and never unlocks it, so the runtime
// destroys that thread when Serve returns: a model may have changed the thread's state (the
// signal mask, for sigio), and no other goroutine must inherit it.

import (
	"bytes"
	"fmt"
	"runtime"

	"github.com/iomodels/iomodels/internal/logpipe"
	"golang.org/x/sys/unix"
)

// Running is a Go model running in this process.
type Running struct {
	h    *logpipe.Harness
	port int
	tid  int // the serving thread, known before Start returns
}

// Start starts the Go model on a new listener on port 0 (every address, as the standalone
// server does) and returns once it is serving; Stderr then begins with its "listening on" line.
func Start(model string) (*Running, error) {
	m, ok := FindModel(model)
	if !ok {
		return nil, fmt.Errorf("gosrv: unknown model %q", model)
	}
	h, err := logpipe.NewHarness()
	if err != nil {
		return nil, err
	}
	s := &Running{h: h}
	srv := Server{OutFd: h.Out.W, ErrFd: h.Err.W, StopFd: h.StopFd} // the model's own copy
	srv.ListenFd = OpenListener(0, srv.ErrFd)
	h.ListenFd = srv.ListenFd
	if h.ListenFd < 0 {
		h.Release()
		return nil, fmt.Errorf("gosrv: %s: OpenListener failed: %s", model, bytes.TrimSpace(h.Err.Bytes()))
	}
	s.port = ListenerPort(srv.ListenFd)
	logListening(srv.ErrFd, s.port)

	tid := make(chan int, 1)
	go func() {
		// The model blocks this thread until the stop; locking gives it a thread of its
		// own, and returning locked makes the runtime destroy that thread afterwards.
		runtime.LockOSThread()
		tid <- unix.Gettid()
		h.Served <- m.Serve(&srv)
	}()
	s.tid = <-tid // the serving thread exists once Start returns
	return s, nil
}

// ServeTid is the thread that runs the model: a test reads its CPU time and state from
// /proc/self/task/TID while the model serves.
func (s *Running) ServeTid() int { return s.tid }

// StdoutPipe is the pipe the model logs its stdout lines to: a test may hold it
// (logpipe.Pipe.Hold) to stop the model at its next line.
func (s *Running) StdoutPipe() *logpipe.Pipe { return s.h.Out }

// Port is the port the model listens on.
func (s *Running) Port() int { return s.port }

// Stop asks the model to stop, waits for it to return and releases every descriptor.
// status is the model's return value; err says it did not stop within 10 s (its
// descriptors are then left open, since the model may still use them). Stop may be called
// more than once; later calls return the first result.
func (s *Running) Stop() (status int, err error) {
	status, err = s.h.Stop()
	if err != nil {
		err = fmt.Errorf("gosrv: %w", err)
	}
	return status, err
}

// Stdout is every byte the model wrote to its out descriptor so far; complete once Stop returned.
func (s *Running) Stdout() []byte { return s.h.Out.Bytes() }

// Stderr is every byte the model wrote to its err descriptor so far, starting with "listening on".
func (s *Running) Stderr() []byte { return s.h.Err.Bytes() }
