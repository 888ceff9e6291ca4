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
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/iomodels/iomodels/internal/logpipe"
	"golang.org/x/sys/unix"
)

// stopTimeout bounds how long Stop waits for the model to return and its logs to end.
const stopTimeout = 10 * time.Second

// Server is a C model running in this process.
type Server struct {
	srv      C.struct_server
	port     int
	out, err *logpipe.Pipe
	tid      int      // the serving thread; written before the send on served
	served   chan int // serve_X's return value, once it has returned

	stopOnce   sync.Once
	stopStatus int
	stopErr    error
}

// Start starts the C model on a new listener on port 0 (every address, as the standalone
// server does) and returns once it is serving; Stderr then begins with its "listening on" line.
func Start(model string) (*Server, error) {
	m := findModel(model)
	if m == nil {
		return nil, fmt.Errorf("native: unknown model %q", model)
	}
	s := &Server{served: make(chan int, 1)}
	s.srv.listenfd, s.srv.stopfd = -1, -1
	var err error
	if s.out, err = logpipe.New(); err != nil {
		return nil, err
	}
	if s.err, err = logpipe.New(); err != nil {
		s.release()
		return nil, err
	}
	s.srv.outfd, s.srv.errfd = C.int(s.out.W), C.int(s.err.W)

	// The stop eventfd: the model polls it beside its own descriptors and returns once it is
	// readable; one write makes it readable for good, since nobody reads it.
	stopFd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		s.release()
		return nil, os.NewSyscallError("eventfd", err)
	}
	s.srv.stopfd = C.int(stopFd)

	s.srv.listenfd = C.open_listener(0, s.srv.errfd)
	if s.srv.listenfd < 0 {
		s.release()
		return nil, fmt.Errorf("native: %s: open_listener failed: %s", model, bytes.TrimSpace(s.err.Bytes()))
	}
	s.port = int(C.listener_port(s.srv.listenfd))
	C.log_listening(s.srv.errfd, C.int(s.port))

	srv := s.srv // the model's copy: release may reset s.srv's fields only after it returned
	go func() {
		// serve_X blocks this thread until the stop; locking gives the model a thread of its
		// own, and returning locked makes the runtime destroy that thread afterwards.
		runtime.LockOSThread()
		s.tid = unix.Gettid()
		s.served <- int(C.native_serve(m, &srv))
	}()
	return s, nil
}

// release closes what Start or Stop opened and waits (bounded) for the log readers to end.
func (s *Server) release() error {
	if s.srv.listenfd >= 0 {
		unix.Close(int(s.srv.listenfd))
		s.srv.listenfd = -1
	}
	if s.srv.stopfd >= 0 {
		unix.Close(int(s.srv.stopfd))
		s.srv.stopfd = -1
	}
	deadline := time.After(stopTimeout)
	for _, lp := range []*logpipe.Pipe{s.out, s.err} {
		if lp == nil {
			continue
		}
		lp.CloseWriter()
		select {
		case <-lp.Done:
		case <-deadline:
			return errors.New("log pipe still open: a child process holds its write end")
		}
	}
	return nil
}

// Port is the port the model listens on.
func (s *Server) Port() int { return s.port }

// Stop asks the model to stop, waits for serve_X to return and releases every descriptor.
// status is serve_X's return value; err says the model did not stop within 10 s (its
// descriptors are then left open, since the model may still use them). Stop may be called
// more than once; later calls return the first result.
func (s *Server) Stop() (status int, err error) {
	s.stopOnce.Do(func() {
		var one [8]byte // an eventfd is written a uint64 in the machine's byte order
		binary.NativeEndian.PutUint64(one[:], 1)
		if _, err := unix.Write(int(s.srv.stopfd), one[:]); err != nil {
			s.stopStatus, s.stopErr = -1, os.NewSyscallError("write stopfd", err)
			return
		}
		select {
		case s.stopStatus = <-s.served:
		case <-time.After(stopTimeout):
			s.stopStatus, s.stopErr = -1, fmt.Errorf("native: model did not return within %v of the stop", stopTimeout)
			return
		}
		if err := s.release(); err != nil {
			s.stopErr = fmt.Errorf("native: %w", err)
		}
	})
	return s.stopStatus, s.stopErr
}

// Stdout is every byte the model wrote to its outfd so far; complete once Stop returned.
func (s *Server) Stdout() []byte { return s.out.Bytes() }

// Stderr is every byte the model wrote to its errfd so far, starting with "listening on".
func (s *Server) Stderr() []byte { return s.err.Bytes() }
