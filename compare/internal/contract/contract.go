//go:build linux

// Package contract is CONTRACT.md's expectations as scenarios of the engine: what each
// model must log and answer, checked on a transcript (Scenario.Expect). The suite runs
// every scenario against every model it applies to, in both languages, in process and as
// the standalone binary (compare/runner_test.go), the C reference twice against the Go
// port; paritydiff -contract MODEL checks any server against them. Each scenario is
// deterministic: where an outcome depends on timing, the scenario controls the timing (a
// comment says how), and the reference is run twice to prove it.
package contract

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/internal/procfs"
	"golang.org/x/sys/unix"
)

// The traits of a model come from the table of models (gosrv/models.go, which
// native's TestTableMatchesGo holds equal to csrc/models.c); the suite never decides them.

// StreamModel: the server echoes for as long as the connection is open (CONTRACT.md § Wire
// protocols).
func StreamModel(model string) bool { return gosrv.Traits(model).Protocol == gosrv.Stream }

// oneShot: one recv of at most 512 bytes, echo, close (CONTRACT.md § Wire protocols).
func oneShot(model string) bool { return gosrv.Traits(model).Protocol == gosrv.OneShot }

// parens: the model logs "new conn(IP:PORT)" (CONTRACT.md § Output).
func parens(model string) bool { return gosrv.Traits(model).ConnLog == gosrv.ConnParens }

// Multiplexing: one thread serves several ready connections per wake-up, in an order of
// service the model defines.
func Multiplexing(model string) bool { return gosrv.Traits(model).Multiplexes }

func Only(names ...string) func(string) bool {
	return func(m string) bool {
		for _, n := range names {
			if n == m {
				return true
			}
		}
		return false
	}
}

// ---- expectations on the reference's transcript (CONTRACT.md § Wire protocols, § Output) ----

type Expectation func(model string, tr *engine.Transcript) error

func Expects(es ...Expectation) func(string, *engine.Transcript) error {
	return func(model string, tr *engine.Transcript) error {
		var errs []string
		for _, e := range es {
			if err := e(model, tr); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if errs != nil {
			return fmt.Errorf("%s", strings.Join(errs, "\n"))
		}
		return nil
	}
}

// oneShotReply is what a one-shot server answers to msg sent in one piece.
func Reply(model string, msg []byte) []byte {
	if oneShot(model) && len(msg) > 512 {
		return msg[:512]
	}
	return msg
}

// logged is msg as the log line shows it: cut at the first NUL (C's %s).
func Logged(msg []byte) string {
	if i := bytes.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	return string(msg)
}

// wantEcho: name received want and then end of stream.
func WantEcho(name string, msg []byte) Expectation {
	return func(model string, tr *engine.Transcript) error {
		c, ok := tr.Conn(name)
		if !ok {
			return fmt.Errorf("no connection %s", name)
		}
		want := Reply(model, msg)
		if !bytes.Equal(c.Data, want) {
			return fmt.Errorf("%s", engine.DescribeBytesDiff("echo on "+name, c.Data, want, "got", "want"))
		}
		if c.End != "EOF" {
			return fmt.Errorf("%s ended %s, want EOF", name, c.End)
		}
		return nil
	}
}

// wantServed: the server logged name's connection and (one-shot) its message, each once,
// and (stream) "peer close conn..." once per connection on stderr.
func wantServed(name string, msg []byte) Expectation {
	return func(model string, tr *engine.Transcript) error {
		nc := "new conn 127.0.0.1:<" + name + ">\n"
		if parens(model) {
			nc = "new conn(127.0.0.1:<" + name + ">)\n"
		}
		if n := strings.Count(tr.Stdout, nc); n != 1 {
			return fmt.Errorf("stdout has %q %d times, want once", nc, n)
		}
		if oneShot(model) {
			line := "recv_msg: " + Logged(Reply(model, msg)) + "\n"
			if !strings.Contains(tr.Stdout, line) {
				return fmt.Errorf("stdout lacks %q", line)
			}
		}
		return nil
	}
}

// wantLines: stdout has exactly n lines for n clients served (no duplicated lines).
func WantStdoutLines(perClient, clients int) Expectation {
	return func(model string, tr *engine.Transcript) error {
		want := perClient * clients
		if perClient == 0 {
			want = 2 * clients
			if StreamModel(model) {
				want = clients
			}
		}
		if got := strings.Count(tr.Stdout, "\n"); got != want {
			return fmt.Errorf("stdout has %d lines, want %d", got, want)
		}
		return nil
	}
}

func wantStderrContains(s string) Expectation {
	return func(model string, tr *engine.Transcript) error {
		if !strings.Contains(tr.Stderr, s) {
			return fmt.Errorf("stderr lacks %q", s)
		}
		return nil
	}
}

func WantNote(s string) Expectation {
	return func(model string, tr *engine.Transcript) error {
		for _, n := range tr.Notes {
			if strings.Contains(n, s) {
				return nil
			}
		}
		return fmt.Errorf("no note contains %q (notes %q)", s, tr.Notes)
	}
}

// servedAll: every connection got its echo and was logged once.
func ServedAll(names []string, msgs [][]byte) []Expectation {
	var es []Expectation
	for i := range names {
		es = append(es, WantEcho(names[i], msgs[i]), wantServed(names[i], msgs[i]))
	}
	return es
}

// wantAcceptOrder: stdout begins with one "new conn" line per connection, in the order the
// connections were made (a model that logs on accept, before any data came).
func WantAcceptOrder(names []string) Expectation {
	return func(model string, tr *engine.Transcript) error {
		lines := strings.SplitAfter(tr.Stdout, "\n")
		for i, name := range names {
			want := "new conn 127.0.0.1:<" + name + ">\n"
			if parens(model) {
				want = "new conn(127.0.0.1:<" + name + ">)\n"
			}
			if i >= len(lines) || lines[i] != want {
				return fmt.Errorf("stdout line %d is not %q: accept order", i+1, want)
			}
		}
		return nil
	}
}

// wantCleanStop: the server's stop returned 0 and, standalone, its last line is the
// seed's line for the SIGTERM that stopped it.
func WantCleanStop() Expectation {
	return func(model string, tr *engine.Transcript) error {
		if tr.Status != "exited 0" {
			return fmt.Errorf("%s after the stop, want exited 0", tr.Status)
		}
		if strings.Contains(tr.Stderr, "signal: ") && !strings.HasSuffix(tr.Stderr, "\nsignal: SIGTERM(15)   close server ... done\n") {
			return fmt.Errorf("stderr does not end with the SIGTERM line: %q", lastLine(tr))
		}
		return nil
	}
}

func wantStdout(want string) Expectation {
	return func(model string, tr *engine.Transcript) error {
		if tr.Stdout != want {
			return fmt.Errorf("stdout %q, want %q", tr.Stdout, want)
		}
		return nil
	}
}

// echoScenario is the seed's client with one message. A one-shot server closes a message
// longer than its buffer with bytes unread, which resets the connection, so the message
// and the half-close leave in one segment: sent apart, the half-close would race the reset.
func echoScenario(name string, msg []byte) engine.Scenario {
	return engine.Scenario{
		Name: name,
		Steps: func(model string) []engine.Step {
			if len(msg) > 512 {
				return []engine.Step{engine.Connect("a"), engine.SendHalfClose("a", msg), engine.AwaitEnd("a")}
			}
			return engine.Client("a", msg)
		},
		Expect: Expects(WantEcho("a", msg), wantServed("a", msg), WantStdoutLines(0, 1)),
	}
}

// each is f's step for every connection, in order.
func Each(names []string, f func(name string) engine.Step) []engine.Step {
	s := make([]engine.Step, len(names))
	for i, name := range names {
		s[i] = f(name)
	}
	return s
}

// sendEach sends every connection its message, in order.
func SendEach(names []string, msgs [][]byte) []engine.Step {
	s := make([]engine.Step, len(names))
	for i, name := range names {
		s[i] = engine.Send(name, msgs[i])
	}
	return s
}

// clients names n connections c0..c(n-1) with distinct printable messages.
func ClientNames(n int) ([]string, [][]byte) {
	names := make([]string, n)
	msgs := make([][]byte, n)
	for i := range names {
		names[i] = fmt.Sprintf("c%03d", i)
		msgs[i] = []byte(fmt.Sprintf("message %d: %s", i, engine.Text(uint64(i), 20+i%50)))
	}
	return names, msgs
}

// concurrent opens n connections, then sends on all, then half-closes all, then reads all:
// every connection is open at once. The iterative server serves them one after the other
// (its log is serial); a Multiplexing server is held while they send (concurrentHeld), so
// it serves them all from one wake-up in its own order, which the log shows unsorted.
func Concurrent(name string, n int, models func(string) bool) engine.Scenario {
	names, msgs := ClientNames(n)
	return engine.Scenario{
		Name:   name,
		Models: models,
		Steps: func(model string) []engine.Step {
			if Multiplexing(model) {
				return concurrentHeld(names, msgs)
			}
			return engine.Seq(Each(names, engine.Connect), SendEach(names, msgs), Each(names, engine.HalfClose), Each(names, engine.AwaitEnd))
		},
		Expect: func(model string, tr *engine.Transcript) error {
			clients := n
			if Multiplexing(model) {
				clients++ // h, the connection that held the server, ends silent
			}
			return Expects(append(ServedAll(names, msgs), WantStdoutLines(0, clients))...)(model, tr)
		},
	}
}

// concurrentChildren is concurrent for the models that answer from a process (fork) or a
// thread (thread) per connection: every connection is accepted first (those lines keep
// their order), then all send at once, and the children or threads write their recv_msg
// lines in whatever order the scheduler runs them: a race between processes, which C run
// twice shows (it differs from run to run), so those lines alone are compared sorted.
func concurrentChildren(name string, n int) engine.Scenario {
	names, msgs := ClientNames(n)
	return engine.Scenario{
		Name:         name,
		Models:       Only("fork", "thread"),
		UnorderedLog: true,
		Steps: func(string) []engine.Step {
			return engine.Seq(Each(names, engine.Connect), engine.AwaitStdoutLines(n), engine.LogOrderedSoFar(),
				SendEach(names, msgs), Each(names, engine.HalfClose), Each(names, engine.AwaitEnd))
		},
		Expect: Expects(append(ServedAll(names, msgs), WantStdoutLines(0, n), WantAcceptOrder(names))...),
	}
}

func Sequential(name string, n int) engine.Scenario {
	names, msgs := ClientNames(n)
	return engine.Scenario{
		Name: name,
		Steps: func(string) []engine.Step {
			var s []engine.Step
			for i, c := range names {
				s = append(s, engine.Client(c, msgs[i])...)
			}
			return s
		},
		Expect: Expects(append(ServedAll(names, msgs), WantStdoutLines(0, n))...),
		// A watchdog of 200 ms a client: fork/sequential-300 in process under -race took
		// 2-3 s a run on an idle machine and went past the default 20 s on a loaded one.
		Deadline: time.Duration(n) * 200 * time.Millisecond,
	}
}

// threadPerConnection: n connections open at once, each held by a thread of its own (the
// server's process then has more threads than connections), then each in turn sends and
// reads its echo to the end before the next one sends. The main thread accepts and logs in
// connection order, and the threads answer one at a time, so the whole log is compared as
// it is, in order: all n threads are still alive at once, which is what the scenario is
// about (answering them all at once would make their log lines a race between threads).
func threadPerConnection(name string, n int) engine.Scenario {
	names, msgs := ClientNames(n)
	return engine.Scenario{
		Name:   name,
		Models: Only("thread"),
		Steps: func(string) []engine.Step {
			// Each thread is started before the next accept and blocks waiting for its
			// connection's first byte: n lines, then more than n threads.
			s := engine.Seq(engine.RequireNofile(uint64(n+65)), Each(names, engine.ConnectQuiet),
				engine.AwaitStdoutLines(n), engine.AwaitThreads(n))
			for i, name := range names {
				s = append(s, engine.Send(name, msgs[i]), engine.AwaitEnd(name))
			}
			return s
		},
		Expect: Expects(append(ServedAll(names, msgs), WantStdoutLines(0, n), WantAcceptOrder(names), WantCleanStop())...),
	}
}

// roomNote is how the select scenario notes the server's free descriptors below FD_SETSIZE.
const roomNote = "server: %d descriptors free below FD_SETSIZE"

// selectBeyondFdSetSize: select's fd_set has FD_SETSIZE (1024) bits, so the select model
// refuses a connection whose descriptor is 1024 or more (a log line, then end of stream)
// and serves every other. n connections, more than the server has descriptors free below
// FD_SETSIZE ("room"), are open at once; the server holds more than 1024 descriptors while
// it accepts them. Which connection gets which descriptor is fixed: descriptors are given
// lowest free first; the clients' sockets are out of the way (connectHigh: in process they
// share the server's table); and a refused descriptor is closed before the next accept,
// so every refused connection got 1024. The first room connections are served, in order,
// each before the next sends; the rest only read their refusal. The room is noted, so the
// runs compare their descriptor tables too (standalone, both servers number their
// descriptors alike by contract: open_runtime_fds in csrc/common.c). The room is counted
// once a first connection, "ready", is accepted and held open: the model is running then;
// "ready" is served last.
func selectBeyondFdSetSize(name string, n int) engine.Scenario {
	names, msgs := ClientNames(n)
	ready := []byte("ready")
	return engine.Scenario{
		Name:   name,
		Models: Only("select"),
		Steps: func(string) []engine.Step {
			room := -1 // set by the first step, read by the last: one run's own state
			return []engine.Step{
				engine.RequireNofile(uint64(n + 65)),
				engine.ConnectHigh("ready"),
				engine.AwaitStdoutLines(1),
				{Desc: "count the server's descriptors free below FD_SETSIZE", Do: func(r *engine.Run) error {
					pid, err := r.ServerPid()
					if err != nil {
						return err
					}
					if room, err = procfs.FreeFdsBelow(pid, unix.FD_SETSIZE); err != nil {
						return err
					}
					r.Note(roomNote, room)
					if room >= n {
						return fmt.Errorf("%d connections do not pass FD_SETSIZE: the server has %d descriptors free below it", n, room)
					}
					return nil
				}},
				engine.ConnectHigh(names...),
				engine.AwaitStdoutLines(1 + n),
				{Desc: "each connection in order: one that fits sends and reads its echo, the others read their end", Do: func(r *engine.Run) error {
					for i, c := range names {
						steps := []engine.Step{engine.AwaitEnd(c)}
						if i < room {
							steps = []engine.Step{engine.Send(c, msgs[i]), engine.AwaitEnd(c)}
						}
						for _, st := range steps {
							if err := st.Do(r); err != nil {
								return fmt.Errorf("%s: %w", st.Desc, err)
							}
						}
					}
					return nil
				}},
				engine.Send("ready", ready),
				engine.AwaitEnd("ready"),
			}
		},
		Expect: func(model string, tr *engine.Transcript) error {
			room := -1
			for _, note := range tr.Notes {
				fmt.Sscanf(note, roomNote, &room)
			}
			if room < 0 || room >= n {
				return fmt.Errorf("no room noted below %d: notes %q", n, tr.Notes)
			}
			es := append(ServedAll(append([]string{"ready"}, names[:room]...), append([][]byte{ready}, msgs[:room]...)),
				WantAcceptOrder(append([]string{"ready"}, names...)), WantCleanStop())
			for _, c := range names[room:] {
				es = append(es, WantEcho(c, nil))
			}
			es = append(es, func(model string, tr *engine.Transcript) error {
				refusal := fmt.Sprintf("fd %d beyond FD_SETSIZE: close conn\n", unix.FD_SETSIZE)
				if got, want := strings.Count(tr.Stderr, refusal), n-room; got != want || strings.Count(tr.Stderr, "beyond") != want {
					return fmt.Errorf("stderr has %q %d times (%d lines name FD_SETSIZE), want %d, the connections beyond the room", refusal, got, strings.Count(tr.Stderr, "beyond"), want)
				}
				if got := strings.Count(tr.Stdout, "\n"); got != 1+n+room+1 {
					return fmt.Errorf("stdout has %d lines, want %d: every connection accepted, ready and those in the room served", got, 1+n+room+1)
				}
				return nil
			})
			return Expects(es...)(model, tr)
		},
	}
}

// slowReader streams n seeded bytes to epoll-et while the client reads nothing: the
// client's receive queue and the server's send buffer fill, so the server's send meets
// EAGAIN (the seed spun there). Only then does the client read everything.
func slowReader(name string, n int, seed uint64) engine.Scenario {
	data := engine.Payload(seed, n)
	return engine.Scenario{
		Name:   name,
		Models: StreamModel,
		Steps: func(string) []engine.Step {
			return []engine.Step{
				engine.ConnectQuiet("a"),
				engine.SendAsync("a", data),
				// The wait that proves EAGAIN: the queue is non-empty and has stopped growing
				// while the client still has bytes to send (a stream larger than every buffer
				// on the way cannot have been taken whole).
				engine.AwaitUnreadStable("a", 1),
				engine.StartReading("a"),
				engine.AwaitSent("a"),
				engine.HalfClose("a"),
				engine.AwaitEnd("a"),
			}
		},
		Expect: Expects(WantEcho("a", data), wantStderrContains("peer close conn...\n")),
	}
}

// Scenarios is the table, built afresh. The names are the second half of the suite's
// subtest names.
func Scenarios() []engine.Scenario {
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	nul := []byte("before\x00after the NUL")
	utf8msg := []byte("你好，世界 — échos ✓ 🙂")
	part1, part2 := []byte("first part, "), []byte("second part")
	whole := append(append([]byte(nil), part1...), part2...)

	s := []engine.Scenario{
		echoScenario("plain", []byte("hello, iomodels")),
		{
			// Connect and half-close without a byte: one recv returns 0, an empty echo.
			Name: "empty",
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.Connect("a"), engine.HalfClose("a"), engine.AwaitEnd("a")}
			},
			Expect: Expects(WantEcho("a", nil), wantServed("a", nil), WantStdoutLines(0, 1),
				func(model string, tr *engine.Transcript) error {
					if StreamModel(model) && !strings.HasSuffix(tr.Stderr, "peer close conn...\n"+lastLine(tr)) {
						return fmt.Errorf("stream: want peer close conn... before the signal line")
					}
					return nil
				}),
		},
		echoScenario("size-511", engine.Text(511, 511)),
		// CONTRACT.md § Departures from the seed (a): the seed wrote buf[512] = 0 for a full
		// buffer.
		echoScenario("size-512", engine.Text(512, 512)),
		// One write of 513 bytes arrives as one segment on loopback before the server
		// reads, so the one recv sees 512 of them: the one-shot answer is the first 512.
		echoScenario("size-513", engine.Text(513, 513)),
		echoScenario("size-4096", engine.Text(4096, 4096)),
		echoScenario("binary-256", bin),
		// The log line stops at the NUL, as C's %s does; the echo carries every byte.
		echoScenario("nul-inside", nul),
		echoScenario("utf8", utf8msg),
		{
			// Two writes under TCP_CORK leave as one segment: both parts are in the receive
			// queue before the server's one recv, whatever the scheduling.
			Name: "split-write-corked",
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.Connect("a"), engine.SendCorked("a", part1, part2), engine.HalfClose("a"), engine.AwaitEnd("a")}
			},
			Expect: Expects(WantEcho("a", whole), wantServed("a", whole)),
		},
		{
			// Two plain writes, made while the iterative server is busy with a stalled
			// connection s (its "new conn" line shows it is blocked on s), so both parts wait
			// in a's receive queue and the one recv, made after s is served, sees them both.
			Name:   "split-write-queued",
			Models: Only("iterative"),
			Steps: func(string) []engine.Step {
				return []engine.Step{
					engine.Connect("s"), engine.AwaitStdoutLines(1),
					engine.Connect("a"), engine.Send("a", part1), engine.Send("a", part2), engine.HalfClose("a"),
					engine.Send("s", []byte("unstall")), engine.HalfClose("s"),
					engine.AwaitEnd("s"), engine.AwaitEnd("a"),
				}
			},
			Expect: Expects(WantEcho("a", whole), WantEcho("s", []byte("unstall")),
				wantStdout("new conn(127.0.0.1:<s>)\nrecv_msg: unstall\nnew conn(127.0.0.1:<a>)\nrecv_msg: first part, second part\n")),
		},
		{
			// The stream server echoes each part; the second write waits for the first echo.
			Name:   "split-write-stream",
			Models: StreamModel,
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.Connect("a"), engine.Send("a", part1), engine.AwaitBytes("a", len(part1)),
					engine.Send("a", part2), engine.AwaitBytes("a", len(whole)), engine.HalfClose("a"), engine.AwaitEnd("a")}
			},
			Expect: Expects(WantEcho("a", whole)),
		},
		{
			// Many one-byte writes, no waiting: the stream server must echo every byte in order.
			Name:   "stream-many-small-writes",
			Models: StreamModel,
			Steps: func(string) []engine.Step {
				s := []engine.Step{engine.Connect("a")}
				for i := 0; i < 100; i++ {
					s = append(s, engine.Send("a", []byte{byte('A' + i%26)}))
				}
				return append(s, engine.HalfClose("a"), engine.AwaitEnd("a"))
			},
			Expect: func(model string, tr *engine.Transcript) error {
				c, _ := tr.Conn("a")
				if len(c.Data) != 100 || c.End != "EOF" {
					return fmt.Errorf("got %d bytes, %s; want 100, EOF", len(c.Data), c.End)
				}
				return nil
			},
		},
		{
			// A stream stays open between messages: after the echo, nothing more comes and
			// the connection is not closed until the client half-closes.
			Name:   "stream-stays-open",
			Models: StreamModel,
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.Connect("a"), engine.Send("a", []byte("ping")), engine.AwaitBytes("a", 4),
					engine.ExpectOpenFor("a", 100*time.Millisecond, 4), engine.Send("a", []byte("pong")), engine.AwaitBytes("a", 8),
					engine.HalfClose("a"), engine.AwaitEnd("a")}
			},
			Expect: Expects(WantEcho("a", []byte("pingpong")), WantNote("a: open and silent")),
		},
		{
			// One-shot: the reply comes and the server closes without waiting for the
			// client's end of stream.
			Name:   "no-half-close",
			Models: oneShot,
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.Connect("a"), engine.Send("a", []byte("no FIN")), engine.AwaitEnd("a")}
			},
			Expect: Expects(WantEcho("a", []byte("no FIN"))),
		},
		{
			// Half-close after the reply: harmless for one-shot (already closed); it ends a
			// stream.
			Name: "half-close-after-reply",
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.Connect("a"), engine.Send("a", []byte("hi")), engine.AwaitBytes("a", 2), engine.HalfClose("a"), engine.AwaitEnd("a")}
			},
			Expect: Expects(WantEcho("a", []byte("hi"))),
		},
		{
			// A plain close (FIN, no data) before sending: one-shot echoes nothing to a
			// closed peer, the stream logs peer close. The server's log is complete once its
			// descriptors are back (the runner waits for that).
			Name: "close-before-send",
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.Connect("a"), engine.AwaitStdoutLines(1), engine.Close("a")}
			},
			Expect: Expects(wantServed("a", nil)),
		},
		{
			// CONTRACT.md § Departures from the seed (a): a recv that fails (the seed then wrote
			// buf[-1]). The RST is sent before any data, so recv fails with ECONNRESET whether the
			// server accepted before or after it arrived; the server logs it and serves the next
			// client.
			Name: "reset-before-send",
			Steps: func(string) []engine.Step {
				return engine.Seq(engine.Connect("a"), engine.Reset("a"), engine.AwaitStderrLines(2), engine.Client("b", []byte("next")))
			},
			Expect: Expects(wantStderrContains("recv_connfd error: Connection reset by peer\n"), WantEcho("b", []byte("next"))),
		},
		{
			// CONTRACT.md § Departures from the seed (b): send to a reset peer. The iterative
			// server is held by a stalled connection s while a sends and resets, so the RST is in
			// a's socket before the server reads it: recv returns a's bytes, and send fails instead
			// of raising SIGPIPE. The server lives on and serves b.
			Name:   "reset-after-send-before-reply",
			Models: Only("iterative"),
			Steps: func(string) []engine.Step {
				return engine.Seq(engine.Connect("s"), engine.AwaitStdoutLines(1),
					engine.Connect("a"), engine.Send("a", []byte("gone")), engine.Reset("a"),
					engine.Send("s", []byte("unstall")), engine.HalfClose("s"), engine.AwaitEnd("s"),
					engine.AwaitStderrLines(2), engine.Client("b", []byte("still serving")))
			},
			// The RST queued an error on a's socket (ECONNRESET), which recv does not
			// report while bytes wait; send does.
			Expect: Expects(WantEcho("b", []byte("still serving")),
				wantStderrContains("listening on 0.0.0.0:PORT\nsend_connfd error: Connection reset by peer\n")),
		},
		{
			// The RST comes after the server accepted the connection (its "new conn" line is
			// out) and while it waits for the first byte: the wait reports it (sigio: the
			// armed socket's signal; uring: the recv's completion), recv fails with
			// ECONNRESET, the server logs it and serves the next client.
			Name: "reset-after-accept",
			Steps: func(string) []engine.Step {
				return engine.Seq(engine.Connect("a"), engine.AwaitStdoutLines(1), engine.Reset("a"), engine.AwaitStderrLines(2), engine.Client("b", []byte("next")))
			},
			Expect: Expects(wantStderrContains("recv_connfd error: Connection reset by peer\n"), WantEcho("b", []byte("next"))),
		},
		{
			// Reset after the reply: one-shot has closed already, nothing is logged; the
			// stream server's recv fails with ECONNRESET and it closes that one connection.
			Name: "reset-after-reply",
			Steps: func(model string) []engine.Step {
				// One-shot: the reply's end (EOF) is awaited, so the reset comes after it.
				s := []engine.Step{engine.Connect("a"), engine.Send("a", []byte("hi")), engine.AwaitEnd("a"), engine.Reset("a")}
				if StreamModel(model) {
					s = []engine.Step{engine.Connect("a"), engine.Send("a", []byte("hi")), engine.AwaitBytes("a", 2), engine.Reset("a"), engine.AwaitStderrLines(2)}
				}
				return append(s, engine.Client("b", []byte("next"))...)
			},
			Expect: Expects(WantEcho("b", []byte("next"))),
		},
		{
			// CONTRACT.md § Departures from the seed (c): a reset connection must be closed, not
			// spun on (level-triggered epoll reports EPOLLERR/EPOLLHUP on every call until the
			// descriptor is closed). After the error line the server must still serve the next
			// client, and its descriptors settle; its CPU meanwhile is TestResetNoSpin's, which
			// measures it standalone, against C's.
			Name: "reset-no-spin",
			Steps: func(string) []engine.Step {
				return engine.Seq(engine.Connect("a"), engine.Reset("a"), engine.AwaitStderrLines(2),
					engine.Client("b", []byte("after the reset")))
			},
			Expect: Expects(wantStderrContains("recv_connfd error: Connection reset by peer\n"), WantEcho("b", []byte("after the reset"))),
		},
		{
			// A stalled client beside a live one. The iterative server accepted s first and
			// blocks on it, so l stays unanswered until s speaks: service in accept order.
			// Every other model answers l at once. The watch on l returns as soon as l is
			// answered, so it costs its full time only where the model makes l wait.
			Name: "stalled-beside-live",
			Steps: func(string) []engine.Step {
				return []engine.Step{
					engine.Connect("s"), engine.AwaitStdoutLines(1),
					engine.Connect("l"), engine.Send("l", []byte("live")), engine.HalfClose("l"),
					engine.ExpectOpenFor("l", time.Second, 0),
					engine.Send("s", []byte("stalled")), engine.HalfClose("s"),
					engine.AwaitEnd("s"), engine.AwaitEnd("l"),
				}
			},
			Expect: Expects(WantEcho("s", []byte("stalled")), WantEcho("l", []byte("live")),
				func(model string, tr *engine.Transcript) error {
					want := "l: answered within 1s"
					if model == "iterative" {
						want = "l: open and silent for 1s"
					}
					return WantNote(want)(model, tr)
				},
				func(model string, tr *engine.Transcript) error {
					// The log shows the order of service of the one-shot models.
					first, second := "recv_msg: live\n", "recv_msg: stalled\n"
					if model == "iterative" {
						first, second = second, first
					}
					if i, j := strings.Index(tr.Stdout, first), strings.Index(tr.Stdout, second); oneShot(model) && (i < 0 || j < i) {
						return fmt.Errorf("stdout should log %q before %q: %q", first, second, tr.Stdout)
					}
					return nil
				}),
		},
		// Ten clients at once, the order compared as it is: the suite's form of the
		// concurrent-10 scenario file, which sorts (a file cannot hold the server).
		Concurrent("concurrent-10", 10, func(m string) bool { return m == "iterative" || Multiplexing(m) }),
		Concurrent("concurrent-40", 40, func(m string) bool { return m == "iterative" || Multiplexing(m) }),
		concurrentChildren("concurrent-40-children", 40),
		Concurrent("concurrent-200", 200, Multiplexing),
		orderHeld(),
		threadPerConnection("thread-500-at-once", 500),
		selectBeyondFdSetSize("select-beyond-fd-setsize", 1030),
		Sequential("sequential-300", 300),
		// CONTRACT.md § Departures from the seed (e): five clients, ten stdout lines (fork printed
		// pending lines twice).
		Sequential("sequential-5-lines", 5),
		slowReader("stream-1MiB-slow-reader", 1<<20, 1),
		slowReader("stream-4MiB-slow-reader", 4<<20, 4),
		streamBackpressure("stream-backpressure-certain", 2<<20, 12),
		{
			// Generated by TestGenerated and shrunk by rapid, against a Go port whose
			// one-shot buffer was 511 bytes (compare/testdata/generated keeps it too): a
			// 512-byte message in two corked writes after a one-byte one.
			Name:   "generated-epoll-lt-372cd4fb",
			Models: Only("epoll-lt"),
			Steps: genScript{
				{Op: "connect", Conn: "a"},
				{Op: "send", Conn: "a", Kind: "text", Size: 1, Parts: 1},
				{Op: "connect", Conn: "d"},
				{Op: "send", Conn: "d", Kind: "text", Size: 512, Seed: 1, Parts: 2},
			}.steps,
		},
		{
			// CONTRACT.md § Departures from the seed (d): one write far larger than the listener's
			// SO_RCVBUF (the server's buffer): the server must read until EAGAIN, not stop at a
			// full buffer.
			Name:   "stream-beyond-rcvbuf",
			Models: StreamModel,
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.Connect("a"), engine.SendAsync("a", engine.Payload(7, 3<<20)), engine.AwaitSent("a"), engine.HalfClose("a"), engine.AwaitEnd("a")}
			},
			Expect: Expects(WantEcho("a", engine.Payload(7, 3<<20))),
		},
		{
			// CONTRACT.md § Departures from the seed (d): data and FIN back to back, before the
			// server wakes: the bytes read in the same wake-up as end of stream are echoed before
			// the close.
			Name:   "stream-data-and-fin",
			Models: StreamModel,
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.ConnectQuiet("a"), engine.Send("a", engine.Text(9, 3000)), engine.HalfClose("a"), engine.StartReading("a"), engine.AwaitEnd("a")}
			},
			Expect: Expects(WantEcho("a", engine.Text(9, 3000)), wantStderrContains("peer close conn...\n")),
		},
		{
			// A stalled client when the server stops: it is closed (EOF), the server returns
			// its status and the stop takes no longer than the watchdog.
			Name:   "stop-with-stalled-client",
			Models: nil,
			Steps: func(string) []engine.Step {
				return []engine.Step{engine.Connect("s"), engine.AwaitStdoutLines(1), engine.StopServer(), engine.AwaitEnd("s")}
			},
			Expect: func(model string, tr *engine.Transcript) error {
				if c, _ := tr.Conn("s"); len(c.Data) != 0 || c.End != "EOF" {
					return fmt.Errorf("stalled client got %d bytes, %s; want 0, EOF", len(c.Data), c.End)
				}
				return nil
			},
		},
	}
	return s
}

// lastLine is the transcript's last stderr line (the signal line standalone, else "").
func lastLine(tr *engine.Transcript) string {
	s := strings.TrimSuffix(tr.Stderr, "\n")
	i := strings.LastIndexByte(s, '\n')
	if i < 0 || !strings.HasPrefix(s[i+1:], "signal: ") {
		return ""
	}
	return s[i+1:] + "\n"
}
