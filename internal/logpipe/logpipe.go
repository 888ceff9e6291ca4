//go:build linux

// Package logpipe holds what an in-process server needs around its model, written once for
// native.Start (the C models) and gosrv.Start (the Go ports): the log pipes (the model
// writes its lines to the write end, a goroutine drains the read end into a buffer) and the
// Harness that owns them with the stop eventfd and the listener.
package logpipe

import (
	"bytes"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Pipe is a pipe whose write end the model logs to and whose read end a goroutine drains
// into a buffer, so a model never blocks on a full pipe and every byte is kept.
type Pipe struct {
	W    int // the model's out or err descriptor; -1 once closed
	mu   sync.Mutex
	buf  bytes.Buffer
	Done chan struct{} // closed once the reader has seen end of file
}

// New makes the pipe and starts its reader.
func New() (*Pipe, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	// Only the read end is non-blocking (O_NONBLOCK belongs to the open file description,
	// and each end has its own): the runtime's poller then waits on it without holding a
	// thread, while the model's write(2)s still block as they do on a standalone stdout.
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, os.NewSyscallError("fcntl O_NONBLOCK", err)
	}
	lp := &Pipe{W: p[1], Done: make(chan struct{})}
	r := os.NewFile(uintptr(p[0]), "log")
	go func() {
		defer close(lp.Done)
		defer r.Close()
		chunk := make([]byte, 4096)
		for {
			n, err := r.Read(chunk)
			lp.mu.Lock()
			lp.buf.Write(chunk[:n])
			lp.mu.Unlock()
			if err != nil { // io.EOF once every copy of the write end is closed
				return
			}
		}
	}()
	return lp, nil
}

// Bytes is everything read so far; complete once Done is closed.
func (lp *Pipe) Bytes() []byte {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return bytes.Clone(lp.buf.Bytes())
}

// CloseWriter closes the write end; the reader then reaches end of file as soon as no other
// process (a fork model's child) holds a copy.
func (lp *Pipe) CloseWriter() {
	if lp.W >= 0 {
		unix.Close(lp.W)
		lp.W = -1
	}
}
