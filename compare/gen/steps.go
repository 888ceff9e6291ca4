//go:build linux

package gen

// steps.go - the steps only generated scripts use: the sockets counted, background writes
// on a stream connection, a quiet stream connection reading a few bytes, and a connection
// with a small receive buffer.

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/internal/procfs"
)

// genRun is a run's state beyond the engine's: the socket count at the start and the
// background writers of the stream connections.
type genRun struct {
	base    int
	mu      sync.Mutex
	writers map[string]*genWriter
}

type genWriter struct {
	last chan struct{} // closed when the latest write is done
	err  error
}

// begin counts the sockets before the first connection. A target without a process to
// look at (engine.Address) fails here: the model's waits need the server's sockets.
func (g *genRun) begin() engine.Step {
	return engine.Step{Desc: "count the sockets at the start", Do: func(r *engine.Run) error {
		pid, err := r.ServerPid()
		if err != nil {
			return fmt.Errorf("%w (generated scripts wait on the server's sockets and log lines: a server started by the engine is needed)", err)
		}
		g.base = procfs.ConnFds(pid)
		return nil
	}}
}

// awaitSockets waits until the server's process holds base plus the predicted sockets
// (and fork's pidfds): the server's, and in process the clients' too, in the same table.
func (g *genRun) awaitSockets(clients, server int) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("await %d client and %d server sockets", clients, server), Do: func(r *engine.Run) error {
		pid, err := r.ServerPid()
		if err != nil {
			return err
		}
		n := server
		if pid == os.Getpid() {
			n += clients
		}
		return r.WaitFor(fmt.Sprintf("%d sockets beside the %d at the start (have %d)", n, g.base, procfs.ConnFds(pid)-g.base), func() bool {
			return procfs.ConnFds(pid) == g.base+n
		})
	}}
}

// write writes parts, one write each, in the background and after every earlier write on
// the connection: a stream's reader may be quiet, and the write then waits for it.
func (g *genRun) write(name string, parts [][]byte) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("write %d parts on %s in the background", len(parts), name), Do: func(r *engine.Run) error {
		c, err := r.Conn(name)
		if err != nil {
			return err
		}
		g.mu.Lock()
		if g.writers == nil {
			g.writers = map[string]*genWriter{}
		}
		w := g.writers[name]
		if w == nil {
			w = &genWriter{}
			g.writers[name] = w
		}
		prev, done := w.last, make(chan struct{})
		w.last = done
		g.mu.Unlock()
		c.Sock().SetWriteDeadline(r.Deadline())
		go func() {
			defer close(done)
			if prev != nil {
				<-prev
			}
			for _, p := range parts {
				if _, err := c.Sock().Write(p); err != nil {
					g.mu.Lock()
					w.err = err
					g.mu.Unlock()
					return
				}
			}
		}()
		return nil
	}}
}

// awaitWrites waits until every background write on name is done.
func (g *genRun) awaitWrites(name string) engine.Step {
	return engine.Step{Desc: "await the background writes on " + name, Do: func(r *engine.Run) error {
		g.mu.Lock()
		w := g.writers[name]
		g.mu.Unlock()
		if w == nil {
			return nil
		}
		if err := r.Await(w.last, "the writes on "+name+" did not finish"); err != nil {
			return err
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		return w.err
	}}
}

// readSome reads exactly n bytes from a quiet connection into its data.
func (g *genRun) readSome(name string, n int) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("read %d bytes on %s", n, name), Do: func(r *engine.Run) error {
		c, err := r.Conn(name)
		if err != nil {
			return err
		}
		if rd, ok := c.Sock().(interface{ SetReadDeadline(time.Time) error }); ok {
			rd.SetReadDeadline(r.Deadline())
			defer rd.SetReadDeadline(time.Time{})
		}
		buf := make([]byte, n)
		got, err := io.ReadFull(c.Sock(), buf)
		c.Received(buf[:got])
		return err
	}}
}
