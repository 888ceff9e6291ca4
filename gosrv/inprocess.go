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

	"github.com/iomodels/iomodels/internal/logpipe"
)

// Running is a Go model running in this process: Port, Stop, Stdout, Stderr.
type Running struct{ *logpipe.Running }

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
	srv := Server{OutFd: h.Out.W, ErrFd: h.Err.W, StopFd: h.StopFd} // the model's own copy
	srv.ListenFd = OpenListener(0, srv.ErrFd)
	h.ListenFd = srv.ListenFd
	if h.ListenFd < 0 {
		h.Release()
		return nil, fmt.Errorf("gosrv: %s: OpenListener failed: %s", model, bytes.TrimSpace(h.Err.Bytes()))
	}
	port := ListenerPort(srv.ListenFd)
	logListening(srv.ErrFd, port)
	return &Running{h.Serve("gosrv", port, func() int { return m.Serve(&srv) })}, nil
}
