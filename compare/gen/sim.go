//go:build linux

package gen

// sim.go - the model of the servers: which operations may come at each point of a script,
// and which waits follow each, so that every outcome is fixed by the script, not by timing.

import (
	"bytes"
	"strings"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
)

type simConn struct {
	name       string
	reading    bool
	clientOpen bool
	served     bool // the server has finished with it and closed its socket
	halfClosed bool
	sent       int // stream: bytes written (the echo to expect)
	readSome   int // stream: bytes read by readsome before the reader started
}

// sim follows a script and predicts the server's lines and sockets.
type sim struct {
	stream, serial      bool // the stream protocol; one connection at a time (Config.Serial)
	conns               []*simConn
	stdout, stderr      int // predicted line counts; stderr starts with "listening on"
	clients, serverHeld int // open client sockets; sockets (or fork's pidfds) the server holds
	g                   *genRun
}

func newSim(cfg Config, g *genRun) *sim {
	return &sim{stream: cfg.Protocol == Stream, serial: cfg.Serial, stderr: 1, g: g}
}

func (s *sim) conn(name string) *simConn {
	for _, c := range s.conns {
		if c.name == name {
			return c
		}
	}
	return nil
}

// settle waits until the server did what the model predicts.
func (s *sim) settle() []engine.Step {
	return []engine.Step{engine.AwaitStdoutLines(s.stdout), engine.AwaitStderrLines(s.stderr), s.g.awaitSockets(s.clients, s.serverHeld)}
}

// serve marks c finished by the server.
func (s *sim) serve(c *simConn) {
	c.served = true
	s.serverHeld--
}

// recvLines is how many stdout lines a one-shot server's recv_msg line for msg takes: the
// first 512 bytes (its one recv), printed with %s (cut at the first NUL), newlines kept.
func recvLines(msg []byte) int {
	msg = msg[:min(len(msg), 512)]
	if i := bytes.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	return 1 + strings.Count(string(msg), "\n")
}

// streamDrained makes a stream connection read and waits until every byte it sent came
// back: the server is then waiting in epoll, not echoing.
func (s *sim) streamDrained(c *simConn) []engine.Step {
	st := []engine.Step{s.g.awaitWrites(c.name)}
	if !c.reading {
		c.reading = true
		st = append(st, engine.StartReading(c.name))
	}
	return append(st, engine.AwaitBytes(c.name, c.sent))
}

// valid says whether op may come now.
func (s *sim) valid(op Op) bool {
	c := s.conn(op.Conn)
	if op.Op == "connect" {
		if c != nil || len(s.conns) >= len(names) || !isName(op.Conn) {
			return false
		}
		if s.serial {
			for _, o := range s.conns {
				if !o.served {
					return false
				}
			}
		}
		return true
	}
	if c == nil || !c.clientOpen {
		return false
	}
	switch op.Op {
	case "send":
		if op.Size < 1 {
			return false
		}
		if s.stream {
			return !c.served && !c.halfClosed && c.sent+op.Size <= 4<<20
		}
		return !c.served && !c.halfClosed
	case "halfclose":
		return !c.halfClosed && !(s.stream && c.served)
	case "reset", "close":
		return true
	case "read":
		return !c.reading
	case "readsome":
		return s.stream && !c.reading && op.Size >= 1 && c.readSome+op.Size <= c.sent
	case "pause":
		return c.reading && !c.served && !c.halfClosed
	}
	return false
}

// apply moves the model past op and returns op's steps, waits included. op must be valid.
func (s *sim) apply(op Op) []engine.Step {
	name := op.Conn
	if op.Op == "connect" {
		c := &simConn{name: name, clientOpen: true, reading: !op.Quiet}
		s.conns = append(s.conns, c)
		s.clients++
		s.serverHeld++
		s.stdout++ // new conn
		var st []engine.Step
		switch {
		case op.Rcvbuf > 0:
			st = []engine.Step{engine.ConnectRcvbuf(name, op.Rcvbuf)}
			if !op.Quiet {
				st = append(st, engine.StartReading(name))
			}
		case op.Quiet:
			st = []engine.Step{engine.ConnectQuiet(name)}
		default:
			st = []engine.Step{engine.Connect(name)}
		}
		return append(st, s.settle()...)
	}
	c := s.conn(name)
	switch op.Op {
	case "send":
		msg := Content(op)
		if s.stream {
			c.sent += len(msg)
			st := []engine.Step{s.g.write(name, splitParts(msg, op.Parts))}
			if c.reading {
				st = append(st, engine.AwaitBytes(name, c.sent))
			}
			return st
		}
		st := []engine.Step{engine.Send(name, msg)}
		if op.Parts > 1 {
			st = []engine.Step{engine.SendCorked(name, splitParts(msg, op.Parts)...)}
		}
		s.stdout += recvLines(msg)
		s.serve(c)
		st = append(st, s.settle()...)
		if c.reading {
			st = append(st, engine.AwaitEnd(name))
		}
		return st
	case "halfclose":
		c.halfClosed = true
		if s.stream {
			st := append(s.streamDrained(c), engine.HalfClose(name), engine.AwaitEnd(name))
			s.stderr++ // peer close conn...
			s.serve(c)
			return append(st, s.settle()...)
		}
		st := []engine.Step{engine.HalfClose(name)}
		if !c.served {
			s.stdout++ // recv_msg: (empty)
			s.serve(c)
			if c.reading {
				st = append(st, engine.AwaitEnd(name))
			}
		}
		return append(st, s.settle()...)
	case "reset", "close":
		var st []engine.Step
		if !c.served {
			if s.stream {
				st = s.streamDrained(c)
				s.stderr++ // recv_connfd error (reset) or peer close conn... (close)
			} else if op.Op == "reset" {
				s.stderr++ // recv_connfd error: Connection reset by peer
			} else {
				s.stdout++ // recv_msg: (empty)
			}
			s.serve(c)
		} else if !s.stream && c.reading {
			st = append(st, engine.AwaitEnd(name)) // the reply is read before the client closes
		}
		c.clientOpen = false
		s.clients--
		if op.Op == "reset" {
			st = append(st, engine.Reset(name))
		} else {
			st = append(st, engine.Close(name))
		}
		return append(st, s.settle()...)
	case "read":
		c.reading = true
		st := []engine.Step{engine.StartReading(name)}
		if s.stream {
			return append(st, engine.AwaitBytes(name, c.sent))
		}
		if c.served {
			st = append(st, engine.AwaitEnd(name))
		}
		return st
	case "readsome":
		c.readSome += op.Size
		return []engine.Step{s.g.readSome(name, op.Size)}
	case "pause":
		had := 0
		if s.stream {
			had = c.sent
		}
		return []engine.Step{engine.ExpectOpenFor(name, time.Duration(op.Ms)*time.Millisecond, had)}
	}
	panic("gen: unknown op " + op.Op)
}

// finish closes every connection still open, in order, each awaited.
func (s *sim) finish() []engine.Step {
	var st []engine.Step
	for _, c := range s.conns {
		if c.clientOpen {
			if !s.stream && c.served && !c.reading {
				c.reading = true
				st = append(st, engine.StartReading(c.name), engine.AwaitEnd(c.name))
			}
			st = append(st, s.apply(Op{Op: "close", Conn: c.name})...)
		}
	}
	return st
}
