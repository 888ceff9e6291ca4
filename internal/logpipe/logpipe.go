//go:build linux

// Package logpipe holds what an in-process server needs around its model, written once for
// native.Start (the C models) and gosrv.Start (the Go ports): the log pipes (the model
// writes its lines to the write end, a goroutine drains the read end into a buffer) and the
// Harness that owns them with the stop eventfd and the listener.
package logpipe

import (
	"bytes"
	"errors"
	"fmt"
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
	rfd  int           // the read end, open until Done

	// Hold: while held the reader reads nothing; skip counts the filler bytes written
	// into the pipe by Hold, which the reader drops (they come before any byte of the
	// model's, which is idle while Hold fills the pipe).
	held   bool
	parked bool // the reader waits for the hold's end (and reads nothing meanwhile)
	skip   int
	unheld *sync.Cond // signalled when held turns false, and when the reader parks
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
	lp := &Pipe{W: p[1], Done: make(chan struct{}), rfd: p[0]}
	lp.unheld = sync.NewCond(&lp.mu)
	r := os.NewFile(uintptr(p[0]), "log")
	go func() {
		defer close(lp.Done)
		defer r.Close()
		chunk := make([]byte, 4096)
		for {
			lp.mu.Lock()
			for lp.held {
				if !lp.parked {
					lp.parked = true
					lp.unheld.Broadcast()
				}
				lp.unheld.Wait()
			}
			lp.parked = false
			lp.mu.Unlock()
			n, err := r.Read(chunk)
			lp.mu.Lock()
			data := chunk[:max(n, 0)]
			drop := min(lp.skip, len(data))
			lp.skip -= drop
			lp.buf.Write(data[drop:])
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

// Hold stops draining the pipe and fills it to the brim, so that the model's next write
// to it blocks: the model's thread then stands still, in the middle of what it was doing,
// while the kernel queues whatever comes for it (connections, data, signals), as a
// standalone server stopped by SIGSTOP would. The release function lets the reader drain
// again (the filler is dropped, never seen in Bytes) and the blocked write completes.
//
// Call it only while the model writes nothing to this pipe (it is idle, waiting for an
// event): the filler must come before the model's next byte. The filler is written
// through a second, non-blocking open file description of the pipe (/proc/self/fd/R), in
// whole pages until the pipe takes no more, then byte by byte: a full pipe has every slot
// holding a full page, where even a one-byte write waits.
func (lp *Pipe) Hold() (release func(), err error) {
	select {
	case <-lp.Done:
		return nil, errors.New("logpipe: hold: the pipe is closed")
	default:
	}
	// Opened through the read end, which this process holds even when the write end is
	// another process's (a standalone server's stdout); opening a pipe's /proc link opens
	// the pipe itself, in the mode asked for.
	w, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", lp.rfd), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("open the log pipe again", err)
	}
	defer unix.Close(w)
	lp.mu.Lock()
	lp.held = true
	lp.mu.Unlock()
	release = lp.Unhold
	page := bytes.Repeat([]byte{'.'}, 4096)
	fill := func() error {
		for _, size := range []int{len(page), 1} {
			for i := 0; i < 1<<16; i++ {
				lp.mu.Lock()
				lp.skip += size // before the write: the reader may take these bytes at once
				lp.mu.Unlock()
				n, err := unix.Write(w, page[:size])
				lp.mu.Lock()
				lp.skip -= size - max(n, 0)
				lp.mu.Unlock()
				if err == unix.EAGAIN {
					break
				}
				if err != nil {
					return os.NewSyscallError("fill the log pipe", err)
				}
			}
		}
		return nil
	}
	// The reader may be inside a read when the hold begins, and take a chunk after the
	// pipe was filled: fill, wait until the reader is parked (the filler makes its read
	// return), then fill what it took.
	err = fill()
	if err == nil {
		lp.mu.Lock()
		for !lp.parked {
			lp.unheld.Wait()
		}
		lp.mu.Unlock()
		err = fill()
	}
	if err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// Unhold lets the reader drain again, if a Hold is in force: a model blocked on the full
// pipe cannot see its stop.
func (lp *Pipe) Unhold() {
	lp.mu.Lock()
	lp.held = false
	lp.unheld.Broadcast()
	lp.mu.Unlock()
}
