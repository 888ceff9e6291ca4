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

//go:generate go run gen_hash.go

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

	"github.com/iomodels/iomodels/internal/logpipe"
)

// Server is a C model running in this process: Port, Stop, Stdout, Stderr.
type Server struct{ *logpipe.Running }

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
	var srv C.struct_server // the model's own copy of the four descriptors
	srv.outfd, srv.errfd, srv.stopfd = C.int(h.Out.W), C.int(h.Err.W), C.int(h.StopFd)
	srv.listenfd = C.open_listener(0, srv.errfd)
	h.ListenFd = int(srv.listenfd)
	if h.ListenFd < 0 {
		h.Release()
		return nil, fmt.Errorf("native: %s: open_listener failed: %s", model, bytes.TrimSpace(h.Err.Bytes()))
	}
	port := int(C.listener_port(srv.listenfd))
	C.log_listening(srv.errfd, C.int(port))
	return &Server{h.Serve("native", port, func() int { return int(C.native_serve(m, &srv)) })}, nil
}
