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

// Running is a Go model running in this process.
type Running struct {
	srv      Server
	port     int
	out, err *logpipe.Pipe
	tid      int      // the serving thread; written before the send on served
	served   chan int // Serve's return value, once it has returned

	stopOnce   sync.Once
	stopStatus int
	stopErr    error
}

// Start starts the Go model on a new listener on port 0 (every address, as the standalone
// server does) and returns once it is serving; Stderr then begins with its "listening on" line.
func Start(model string) (*Running, error) {
	m, ok := FindModel(model)
	if !ok {
		return nil, fmt.Errorf("gosrv: unknown model %q", model)
	}
	s := &Running{served: make(chan int, 1)}
	s.srv.ListenFd, s.srv.StopFd = -1, -1
	var err error
	if s.out, err = logpipe.New(); err != nil {
		return nil, err
	}
	if s.err, err = logpipe.New(); err != nil {
		s.release()
		return nil, err
	}
	s.srv.OutFd, s.srv.ErrFd = s.out.W, s.err.W

	// The stop eventfd: the model polls it beside its own descriptors and returns once it is
	// readable; one write makes it readable for good, since nobody reads it.
	stopFd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		s.release()
		return nil, os.NewSyscallError("eventfd", err)
	}
	s.srv.StopFd = stopFd

	s.srv.ListenFd = OpenListener(0, s.srv.ErrFd)
	if s.srv.ListenFd < 0 {
		s.release()
		return nil, fmt.Errorf("gosrv: %s: OpenListener failed: %s", model, bytes.TrimSpace(s.err.Bytes()))
	}
	s.port = ListenerPort(s.srv.ListenFd)
	logListening(s.srv.ErrFd, s.port)

	srv := s.srv // the model's copy: release may reset s.srv's fields only after Serve returned
	go func() {
		// Serve blocks this thread until the stop; locking gives the model a thread of its
		// own, and returning locked makes the runtime destroy that thread afterwards.
		runtime.LockOSThread()
		s.tid = unix.Gettid()
		s.served <- m.Serve(&srv)
	}()
	return s, nil
}

// release closes what Start or Stop opened and waits (bounded) for the log readers to end.
func (s *Running) release() error {
	if s.srv.ListenFd >= 0 {
		unix.Close(s.srv.ListenFd)
		s.srv.ListenFd = -1
	}
	if s.srv.StopFd >= 0 {
		unix.Close(s.srv.StopFd)
		s.srv.StopFd = -1
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
func (s *Running) Port() int { return s.port }

// Stop asks the model to stop, waits for Serve to return and releases every descriptor.
// status is Serve's return value; err says the model did not stop within 10 s (its
// descriptors are then left open, since the model may still use them). Stop may be called
// more than once; later calls return the first result.
func (s *Running) Stop() (status int, err error) {
	s.stopOnce.Do(func() {
		var one [8]byte // an eventfd is written a uint64 in the machine's byte order
		binary.NativeEndian.PutUint64(one[:], 1)
		if _, err := unix.Write(s.srv.StopFd, one[:]); err != nil {
			s.stopStatus, s.stopErr = -1, os.NewSyscallError("write stopfd", err)
			return
		}
		select {
		case s.stopStatus = <-s.served:
		case <-time.After(stopTimeout):
			s.stopStatus, s.stopErr = -1, fmt.Errorf("gosrv: model did not return within %v of the stop", stopTimeout)
			return
		}
		if err := s.release(); err != nil {
			s.stopErr = fmt.Errorf("gosrv: %w", err)
		}
	})
	return s.stopStatus, s.stopErr
}

// Stdout is every byte the model wrote to its OutFd so far; complete once Stop returned.
func (s *Running) Stdout() []byte { return s.out.Bytes() }

// Stderr is every byte the model wrote to its ErrFd so far, starting with "listening on".
func (s *Running) Stderr() []byte { return s.err.Bytes() }
