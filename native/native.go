//go:build linux && cgo

// Package native runs the C reference servers of csrc/ inside the Go process, through cgo,
// so that a test can start, drive and stop them like the Go ports (gosrv/inprocess.go, its
// twin, step for step). The C is compiled from csrc/ itself by one-line shims in this folder
// (fork.c holds `#include "../csrc/fork.c"`); the list of models is csrc/models.c's table,
// read at run time, so a new model needs only its shim and its table row.
//
// A running model is a serve_X call on an OS thread of its own: the goroutine that makes the
// cgo call locks its thread and never unlocks it, so the runtime destroys that thread when
// the call returns (a model may have changed the thread's signal mask or other state).
package native

/*
#cgo CFLAGS: -std=gnu11 -Wall -Wextra -Werror
#cgo LDFLAGS: -lpthread
#include "../csrc/echo.h"

int native_serve(const struct model *m, const struct server *srv);
*/
import "C"

import (
	"bytes"
	"fmt"
	"runtime"

	"github.com/iomodels/iomodels/internal/logpipe"
	"golang.org/x/sys/unix"
)

// Server is a C model running in this process.
type Server struct {
	h    *logpipe.Harness
	port int
	tid  int // the serving thread, known before Start returns
}

// Start starts the C model on a new listener on port 0 (every address, as the standalone
// server does) and returns once it is serving; Stderr then begins with its "listening on" line.
func Start(model string) (*Server, error) {
	m := findModel(model)
	if m == nil {
		return nil, fmt.Errorf("native: unknown model %q", model)
	}
	h, err := logpipe.NewHarness()
	if err != nil {
		return nil, err
	}
	s := &Server{h: h}
	var srv C.struct_server // the model's own copy of the four descriptors
	srv.outfd, srv.errfd, srv.stopfd = C.int(h.Out.W), C.int(h.Err.W), C.int(h.StopFd)
	srv.listenfd = C.open_listener(0, srv.errfd)
	h.ListenFd = int(srv.listenfd)
	if h.ListenFd < 0 {
		h.Release()
		return nil, fmt.Errorf("native: %s: open_listener failed: %s", model, bytes.TrimSpace(h.Err.Bytes()))
	}
	s.port = int(C.listener_port(srv.listenfd))
	C.log_listening(srv.errfd, C.int(s.port))

	tid := make(chan int, 1)
	go func() {
		// The model blocks this thread until the stop; locking gives it a thread of its
		// own, and returning locked makes the runtime destroy that thread afterwards.
		runtime.LockOSThread()
		tid <- unix.Gettid()
		h.Served <- int(C.native_serve(m, &srv))
	}()
	s.tid = <-tid // the serving thread exists once Start returns
	return s, nil
}

// ServeTid is the thread that runs the model: a test reads its CPU time and state from
// /proc/self/task/TID while the model serves.
func (s *Server) ServeTid() int { return s.tid }

// StdoutPipe is the pipe the model logs its stdout lines to: a test may hold it
// (logpipe.Pipe.Hold) to stop the model at its next line.
func (s *Server) StdoutPipe() *logpipe.Pipe { return s.h.Out }

// Port is the port the model listens on.
func (s *Server) Port() int { return s.port }

// Stop asks the model to stop, waits for it to return and releases every descriptor.
// status is the model's return value; err says it did not stop within 10 s (its
// descriptors are then left open, since the model may still use them). Stop may be called
// more than once; later calls return the first result.
func (s *Server) Stop() (status int, err error) {
	status, err = s.h.Stop()
	if err != nil {
		err = fmt.Errorf("native: %w", err)
	}
	return status, err
}

// Stdout is every byte the model wrote to its out descriptor so far; complete once Stop returned.
func (s *Server) Stdout() []byte { return s.h.Out.Bytes() }

// Stderr is every byte the model wrote to its err descriptor so far, starting with "listening on".
func (s *Server) Stderr() []byte { return s.h.Err.Bytes() }
