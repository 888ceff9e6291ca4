//go:build linux

package logpipe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// StopTimeout bounds how long Stop waits for the model to return and its logs to end.
const StopTimeout = 10 * time.Second

// Harness is what an in-process server needs around its model, in C (native.Start) and in
// Go (gosrv.Start) alike: the two log pipes, the stop eventfd, the listener once the caller
// has made it, and the model's return value. Only the listener and the call of the model
// differ between the two, and stay with the callers.
type Harness struct {
	Out, Err *Pipe
	StopFd   int      // the model polls it beside its own descriptors; never read
	ListenFd int      // set by the caller once its listener exists; -1 before
	Served   chan int // the model's return value, once it has returned

	stopOnce   sync.Once
	stopStatus int
	stopErr    error
}

// NewHarness makes the pipes and the stop eventfd; on an error nothing is left open.
func NewHarness() (*Harness, error) {
	h := &Harness{StopFd: -1, ListenFd: -1, Served: make(chan int, 1)}
	var err error
	if h.Out, err = New(); err != nil {
		return nil, err
	}
	if h.Err, err = New(); err != nil {
		h.Release()
		return nil, err
	}
	// One write makes the eventfd readable for good, since nobody reads it.
	if h.StopFd, err = unix.Eventfd(0, unix.EFD_CLOEXEC); err != nil {
		h.StopFd = -1
		h.Release()
		return nil, os.NewSyscallError("eventfd", err)
	}
	return h, nil
}

// Release closes the listener, the eventfd and the pipes' write ends, and waits (bounded)
// for the log readers to reach end of file. Call it only once the model has returned.
func (h *Harness) Release() error {
	for _, fd := range []*int{&h.ListenFd, &h.StopFd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	deadline := time.After(StopTimeout)
	for _, lp := range []*Pipe{h.Out, h.Err} {
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

// Stop writes the eventfd, waits for the model's return value and releases every
// descriptor. err says the model did not stop within StopTimeout (its descriptors are then
// left open, since the model may still use them). Later calls return the first result.
func (h *Harness) Stop() (status int, err error) {
	h.stopOnce.Do(func() {
		// A held log pipe (Pipe.Hold) would keep the model from ever seeing the stop.
		h.Out.Unhold()
		h.Err.Unhold()
		var one [8]byte // an eventfd is written a uint64 in the machine's byte order
		binary.NativeEndian.PutUint64(one[:], 1)
		if _, err := unix.Write(h.StopFd, one[:]); err != nil {
			h.stopStatus, h.stopErr = -1, os.NewSyscallError("write stopfd", err)
			return
		}
		select {
		case h.stopStatus = <-h.Served:
		case <-time.After(StopTimeout):
			h.stopStatus, h.stopErr = -1, fmt.Errorf("model did not return within %v of the stop", StopTimeout)
			return
		}
		h.stopErr = h.Release()
	})
	return h.stopStatus, h.stopErr
}

// Running is a model serving in this process, in C or in Go: its harness, its port and the
// thread that runs it. native.Server and gosrv.Running are this, started by their Start.
type Running struct {
	h      *Harness
	port   int
	tid    int    // the serving thread, known before Serve returns
	prefix string // "native" or "gosrv", for Stop's errors
}

// Serve runs serve (the model, on the listener the caller made and stored in h.ListenFd)
// on a goroutine locked to its own OS thread, and returns at once. The model blocks that
// thread until the stop; returning locked makes the runtime destroy the thread afterwards,
// so that the state a model may have changed (a signal mask) reaches no other goroutine.
func (h *Harness) Serve(prefix string, port int, serve func() int) *Running {
	r := &Running{h: h, port: port, prefix: prefix}
	tid := make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		tid <- unix.Gettid()
		h.Served <- serve()
	}()
	r.tid = <-tid // a test may read the thread's /proc entries while it serves
	return r
}

// Port is the port the model listens on.
func (r *Running) Port() int { return r.port }

// Stop asks the model to stop, waits for it to return and releases every descriptor.
// status is the model's return value; err says it did not stop within StopTimeout (its
// descriptors are then left open, since the model may still use them). Stop may be called
// more than once; later calls return the first result.
func (r *Running) Stop() (status int, err error) {
	status, err = r.h.Stop()
	if err != nil {
		err = fmt.Errorf("%s: %w", r.prefix, err)
	}
	return status, err
}

// Stdout is every byte the model wrote to its out descriptor so far; complete once Stop returned.
func (r *Running) Stdout() []byte { return r.h.Out.Bytes() }

// Stderr is every byte the model wrote to its err descriptor so far, starting with "listening on".
func (r *Running) Stderr() []byte { return r.h.Err.Bytes() }

// ServeTid is the thread that runs the model, from Serve's return on: a test reads its
// state and times from /proc/self/task/TID while it serves, and sees it gone after Stop.
func (r *Running) ServeTid() int { return r.tid }

// StdoutPipe is the pipe the model logs its stdout lines to: a test may hold it
// (Pipe.Hold) to stop the model at its next line.
func (r *Running) StdoutPipe() *Pipe { return r.h.Out }
