package main

// record.go - paritydiff record: a proxy in front of a running reference that writes every
// client session it forwards, in the order things happened, as one scenario file. A
// replay against a fresh server runs the sessions in that order, so state one session built
// is there for the next; each reply the reference gave becomes an await-reply with its
// bytes, which the replay checks.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/parity"
)

const recordUsageHead = `usage: paritydiff record -listen ADDR -to HOST:PORT -o FILE  [flags]

Forwards every connection made to ADDR to the server at HOST:PORT and records each client
session (connect, bytes each way, half-close, reset, close, the server's end) into one
scenario file. SIGINT or SIGTERM (or -for, or -max-bytes) ends the recording and writes
FILE; replay it with paritydiff -builtin=false -scenarios DIR.

flags:
`

var scenarioNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// recordDefaultMax bounds the bytes a recording keeps: the file, with its payloads quoted,
// must stay under the parser's 1 MiB.
const recordDefaultMax = 192 << 10

func runRecord(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("paritydiff record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "the `address` clients connect to (port 0: a free one, printed)")
	to := fs.String("to", "", "the running reference server, `HOST:PORT`")
	out := fs.String("o", "", "the scenario `file` to write")
	dur := fs.Duration("for", 0, "stop recording after this `duration` (default: at SIGINT or SIGTERM)")
	maxBytes := fs.Int("max-bytes", recordDefaultMax, "stop recording once the sessions carried this many `bytes`")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on connecting to the server for each client")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), recordUsageHead)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitEqual
		}
		return exitTrouble
	}
	switch {
	case fs.NArg() > 0:
		return usageError(stderr, fs, "unexpected argument %q", fs.Arg(0))
	case *to == "":
		return usageError(stderr, fs, "no server: give -to HOST:PORT")
	case *out == "":
		return usageError(stderr, fs, "no file: give -o FILE")
	case *dur < 0 || *timeout <= 0 || *maxBytes <= 0 || *maxBytes > 1<<20:
		return usageError(stderr, fs, "-for, -timeout and -max-bytes (at most 1 MiB) want positive values")
	}
	if _, _, err := net.SplitHostPort(*to); err != nil {
		return usageError(stderr, fs, "-to %q: %v", *to, err)
	}
	name := strings.TrimSuffix(filepath.Base(*out), parity.ScenarioExt)
	if !scenarioNameRE.MatchString(name) {
		return usageError(stderr, fs, "-o %q: the file's name, without %s, names the scenario: use letters, digits, '-' and '_'", *out, parity.ScenarioExt)
	}
	// The file is created before the first client, so that a path that cannot be written
	// is said at once, not after a recording.
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "paritydiff record: %v\n", err)
		return exitTrouble
	}
	defer f.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "paritydiff record: %v\n", err)
		os.Remove(*out)
		return exitTrouble
	}
	rec := &recorder{log: stderr, ln: ln, to: *to, dial: *timeout, max: *maxBytes, full: make(chan struct{}), sessions: map[*session]bool{}}
	if onRecording != nil {
		onRecording(rec)
	}
	fmt.Fprintf(stderr, "paritydiff record: listening on %s, forwarding to %s; SIGINT or SIGTERM ends the recording and writes %s\n", ln.Addr(), *to, *out)
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	rec.serve(ctx)
	why := "stopped"
	select {
	case <-rec.full:
		why = fmt.Sprintf("stopped at -max-bytes %d", *maxBytes)
	default:
	}

	sc := parity.Scenario{Name: name, Steps: rec.steps, Doc: []string{
		fmt.Sprintf("Recorded by paritydiff record from %s: %d client session(s) in the order they happened.", *to, rec.n),
		"Replay: paritydiff -builtin=false -scenarios DIR -ref ... -port ...",
	}}
	if len(rec.steps) == 0 {
		os.Remove(*out)
		fmt.Fprintf(stderr, "paritydiff record: %s: no client connected, nothing written\n", why)
		return exitTrouble
	}
	text := sc.Format()
	if _, err := parity.ParseScenario(*out, text); err != nil {
		fmt.Fprintf(stderr, "paritydiff record: the recording does not read back as a scenario: %v\n", err)
		return exitTrouble
	}
	if _, err := f.Write(text); err != nil {
		fmt.Fprintf(stderr, "paritydiff record: %v\n", err)
		return exitTrouble
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "paritydiff record: %v\n", err)
		return exitTrouble
	}
	fmt.Fprintf(stdout, "paritydiff record: %s: %d session(s), %d steps, %d bytes carried, written to %s\n", why, rec.n, len(rec.steps), rec.carried, *out)
	return exitEqual
}

// onRecording, when set (by a test), is given each recorder as it starts.
var onRecording func(*recorder)

// open is the number of sessions not over yet.
func (r *recorder) open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// recordContext is the context of a recording run as a command: done at SIGINT or SIGTERM.
func recordContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

// recorder forwards client sessions and keeps their steps, in the order it saw them.
type recorder struct {
	log  io.Writer
	ln   net.Listener
	to   string
	dial time.Duration
	max  int
	full chan struct{} // closed once max bytes were carried

	mu       sync.Mutex
	steps    []parity.Step
	n        int // sessions so far
	carried  int
	stopped  bool
	sessions map[*session]bool
	wg       sync.WaitGroup
}

// session is one client connection and the one the proxy made to the server for it.
type session struct {
	name       string
	client, up *net.TCPConn
	// What has ended, as the recorder saw it: the client's end of stream, the server's,
	// and the session itself (closed: no step after).
	clientEOF, upEOF, closed bool
}

// serve accepts clients until ctx is done or the recording is full, then closes every
// session and waits for its goroutines.
func (r *recorder) serve(ctx context.Context) {
	go func() {
		select {
		case <-ctx.Done():
		case <-r.full:
		}
		r.ln.Close()
	}()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			break
		}
		r.wg.Add(1)
		go r.session(c.(*net.TCPConn))
	}
	r.mu.Lock()
	r.stopped = true
	for s := range r.sessions {
		s.closed = true
		s.client.Close()
		s.up.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// session connects the client to the server and forwards both ways, recording each event
// before it forwards it: a request is recorded before the server can answer it, a reply
// before the client can act on it.
func (r *recorder) session(client *net.TCPConn) {
	defer r.wg.Done()
	d := net.Dialer{Timeout: r.dial}
	nc, err := d.Dial("tcp", r.to)
	if err != nil {
		r.mu.Lock()
		fmt.Fprintf(r.log, "paritydiff record: a client from %s not recorded: the server: %v\n", client.RemoteAddr(), err)
		r.mu.Unlock()
		client.SetLinger(0)
		client.Close()
		return
	}
	s := &session{client: client, up: nc.(*net.TCPConn)}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		s.client.Close()
		s.up.Close()
		return
	}
	r.n++
	s.name = fmt.Sprintf("c%d", r.n)
	r.sessions[s] = true
	r.steps = append(r.steps, parity.Step{Op: parity.Connect, Conn: s.name})
	r.mu.Unlock()

	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); r.pump(s, s.client, s.up, true) }()
	go func() { defer pumps.Done(); r.pump(s, s.up, s.client, false) }()
	pumps.Wait()
	r.mu.Lock()
	delete(r.sessions, s)
	r.mu.Unlock()
	s.client.Close()
	s.up.Close()
}

// pump forwards from src to dst: the client's bytes (fromClient) become send steps, the
// server's await-reply steps with those bytes; its end of stream a half-close, or the
// awaited end; a reset a reset step.
func (r *recorder) pump(s *session, src, dst *net.TCPConn, fromClient bool) {
	op := parity.AwaitReply
	if fromClient {
		op = parity.Send
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !r.bytes(s, op, buf[:n]) {
				return
			}
			dst.Write(buf[:n]) // a failed write shows as the other pump's error
		}
		if err == nil {
			continue
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if s.closed {
			return
		}
		reset := errors.Is(err, syscall.ECONNRESET)
		if !reset && !errors.Is(err, io.EOF) {
			return // closed by the other pump or at the stop
		}
		switch {
		case fromClient && reset:
			r.add(s, parity.Reset, nil)
			s.closed = true
			dst.SetLinger(0)
			dst.Close()
			src.Close()
		case fromClient && s.upEOF:
			r.add(s, parity.Close, nil)
			s.closed = true
			dst.Close()
			src.Close()
		case fromClient:
			r.add(s, parity.HalfClose, nil)
			s.clientEOF = true
			dst.CloseWrite()
		case reset:
			r.add(s, parity.AwaitEnd, nil)
			r.add(s, parity.Close, nil)
			s.closed = true
			dst.SetLinger(0)
			dst.Close()
			src.Close()
		case s.clientEOF:
			r.add(s, parity.AwaitEnd, nil)
			r.add(s, parity.Close, nil)
			s.closed = true
			dst.Close()
			src.Close()
		default:
			r.add(s, parity.AwaitEnd, nil)
			s.upEOF = true
			dst.CloseWrite()
		}
		return
	}
}

// bytes records p as a send or a reply of s; false once the session is over or the
// recording full.
func (r *recorder) bytes(s *session, op parity.Op, p []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.closed || r.stopped {
		return false
	}
	if r.carried+len(p) > r.max {
		if !r.stopped {
			r.stopped = true
			close(r.full)
		}
		return false
	}
	r.carried += len(p)
	r.add(s, op, p)
	return true
}

// add appends a step; bytes that follow bytes of the same session and direction, with
// nothing in between, join them.
func (r *recorder) add(s *session, op parity.Op, p []byte) {
	if k := len(r.steps) - 1; p != nil && k >= 0 && r.steps[k].Conn == s.name && r.steps[k].Op == op {
		r.steps[k].Data[0] = append(r.steps[k].Data[0], p...)
		return
	}
	st := parity.Step{Op: op, Conn: s.name}
	if p != nil {
		st.Data = [][]byte{append([]byte(nil), p...)}
	}
	r.steps = append(r.steps, st)
}
