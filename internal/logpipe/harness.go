//go:build linux

package logpipe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
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
