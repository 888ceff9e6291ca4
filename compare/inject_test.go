//go:build linux && amd64

package compare

// inject_test.go - error paths that no traffic reaches, reached by fault injection: the
// standalone C and Go servers run under a ptrace tracer (internal/inject) that makes the
// Nth call of one system call fail with one errno, counted over the server's whole
// process tree (strace's `-e inject=SYSCALL:error=ERRNO:when=N` counts per thread, and a
// Go goroutine changes threads). The same fault, the same occurrence, the same clients:
// the transcripts (client bytes and endings, stdout, stderr, exit status) must be equal.
//
// What each fault exercises is listed in injections(); the comment of each row says what
// the servers do. A fault whose call the server never makes (it was not injected) fails
// the test: a row that tests nothing is a defect.

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/enginetest"
	"github.com/iomodels/iomodels/compare/internal/inject"
	"github.com/iomodels/iomodels/internal/ciskip"
	"golang.org/x/sys/unix"
)

// traced is a standalone server under the injecting tracer, as a scenario target.
type traced struct{ p *inject.Process }

func (t traced) Port() int      { return t.p.Port }
func (t traced) Stdout() []byte { return t.p.Stdout() }
func (t traced) Stderr() []byte { return t.p.Stderr() }
func (t traced) ServerPid() int { return t.p.Pid }
func (t traced) Stop() (string, error) {
	status, err := t.p.Signal(syscall.SIGTERM, processTimeout)
	return status, t.injectedOnce(err)
}

// Ended: the traced server ended within d (a fatal fault), with its status.
func (t traced) Ended(d time.Duration) (string, bool) {
	if !engine.WaitFor(time.Now().Add(d), t.p.Exited) {
		return "", false
	}
	status, _ := t.p.Wait(time.Second) // done already: returns at once
	return status, true
}

// injectedOnce fails a run whose fault was never injected: the server never made the
// call that often, and the row would test nothing.
func (t traced) injectedOnce(err error) error {
	if err == nil && t.p.Injected() != 1 {
		err = fmt.Errorf("the fault was injected %d times, want once: the server never made that call", t.p.Injected())
	}
	return err
}

// awaitExit waits for a traced server that ends by itself (a fatal fault) and records
// its exit status.
func awaitExit() engine.Step {
	return engine.Step{Desc: "await the server's exit", Do: func(r *engine.Run) error {
		t, ok := r.Target().(traced)
		if !ok {
			return fmt.Errorf("target is not a traced server")
		}
		status, err := t.p.Wait(time.Until(r.Deadline()))
		r.Ended(status)
		return t.injectedOnce(err)
	}}
}
func (t traced) Signal(sig syscall.Signal) (string, error) { return t.p.Signal(sig, processTimeout) }
func (t traced) Send(sig syscall.Signal) error             { return unix.Kill(t.p.Pid, sig) }

// tracedImpl starts s's server under fault.
func (s side) tracedImpl(f inject.Fault) engine.Impl {
	return engine.Impl{Name: s.name, Start: func(model string) (engine.Target, error) {
		p, err := inject.Start(s.server, nil, f, processTimeout, model, "0")
		if err != nil {
			return nil, err
		}
		return traced{p}, nil
	}}
}

// injection is one row: a fault, the models it applies to, and the clients.
type injection struct {
	fault  inject.Fault
	models func(string) bool
	// steps: the clients; nil means three sequential clients a, b, c.
	steps func(model string) []engine.Step
	// expect checks the C reference's transcript (may be nil).
	expect func(model string, tr *engine.Transcript) error
}

func fault(name string, nr uint64, errno syscall.Errno, when int) inject.Fault {
	return inject.Fault{Name: name, Nrs: []uint64{nr}, Errno: errno, When: when}
}

func (in injection) name() string {
	return fmt.Sprintf("%s:error=%s:when=%d", in.fault.Name, unix.ErrnoName(in.fault.Errno), in.fault.When)
}

// finClient sends msg and the end of stream in one segment (sendWithFin), then reads to
// the end: how many reads the server needs (the bytes, then the end) does not depend on
// when the FIN arrives, so the Nth recvfrom is the same event in every run.
func finClient(name string, msg []byte) []engine.Step {
	return []engine.Step{engine.Connect(name), sendWithFin(name, msg), engine.AwaitEnd(name)}
}

func threeClients(string) []engine.Step {
	return engine.Seq(finClient("a", []byte("first")), finClient("b", []byte("second")), finClient("c", []byte("third")))
}

// silentFirst: a connects and sends nothing, then b and c are ordinary clients. For the
// models that try a recv before any readiness (nonblock's rounds, sigio's look right after
// accept), the first recvfrom is a's whether or not bytes had come, so it is a's that fails.
func silentFirst(string) []engine.Step {
	return engine.Seq(engine.Connect("a"), engine.AwaitEnd("a"), finClient("b", []byte("second")), finClient("c", []byte("third")))
}

// Expectations on the C reference's transcript, so that a row pins what the fault does.
var (
	// allServed: the fault was retried or survived: every client got its echo.
	allServed = expects(wantEcho("a", []byte("first")), wantEcho("b", []byte("second")), wantEcho("c", []byte("third")))
	// bRefused: b's connection was closed without an answer (the error logged), a and c served.
	bRefused = expects(wantEcho("a", []byte("first")), wantNoReply("b"), wantEcho("c", []byte("third")))
	// aRefused: the silent a's connection was closed (end of stream, no bytes), b and c served.
	aRefused = expects(wantNoReply("a"), wantEcho("b", []byte("second")), wantEcho("c", []byte("third")))
	// fatal: the model ended with exit status 1 and an error line.
	fatal = expects(func(model string, tr *engine.Transcript) error {
		if tr.Status != "exited 1" || !strings.Contains(tr.Stderr, " error: ") {
			return fmt.Errorf("want exit 1 and an error line, got %s, stderr %q", tr.Status, tr.Stderr)
		}
		return nil
	})
)

// servedBy: allServed for the models named, bRefused for the others.
func servedBy(names ...string) func(string, *engine.Transcript) error {
	return func(model string, tr *engine.Transcript) error {
		if only(names...)(model) {
			return allServed(model, tr)
		}
		return bRefused(model, tr)
	}
}

func wantNoReply(name string) expectation {
	return func(model string, tr *engine.Transcript) error {
		if c, ok := tr.Conn(name); !ok || len(c.Data) != 0 || c.End == "open" {
			return fmt.Errorf("%s: want no bytes and an ending, got %+v", name, c)
		}
		return nil
	}
}

func (in injection) scenario() engine.Scenario {
	steps := in.steps
	if steps == nil {
		steps = threeClients
	}
	return engine.Scenario{Name: in.name(), Models: in.models, Steps: steps, Expect: in.expect, Process: true}
}

// waitCall is the call a model waits in (its readiness or completion call), under both
// names where x/sys makes the newer one (epoll_pwait for epoll_wait, ppoll for poll,
// pselect6 for select): counted together, the Nth is the same wait in C and Go.
func waitCall(model string) (string, []uint64) {
	switch model {
	case "epoll-lt", "epoll-et":
		return "epoll_wait", []uint64{unix.SYS_EPOLL_WAIT, unix.SYS_EPOLL_PWAIT}
	case "select":
		return "select", []uint64{unix.SYS_SELECT, unix.SYS_PSELECT6}
	case "uring":
		return "io_uring_enter", []uint64{unix.SYS_IO_URING_ENTER}
	case "sigio":
		return "rt_sigtimedwait", []uint64{unix.SYS_RT_SIGTIMEDWAIT}
	}
	return "poll", []uint64{unix.SYS_POLL, unix.SYS_PPOLL}
}

// injections lists the faults per model; each runs with three sequential clients a, b, c
// unless it says otherwise. The occurrence is the 2nd call for the connection calls (the
// one for b: a was served normally), the 3rd wait for a retried error, the 1st wait for a
// fatal one (before any client: the Nth wait of a model with threads or processes is a
// race between them, the first is not).
func injections() []injection {
	var out []injection
	// accept4, through the shared accept step (accept_conn in csrc/common.c): EINTR,
	// ECONNABORTED (the peer reset before the accept) and EAGAIN are retried (at once, or
	// at the next readiness) without a line; EMFILE pauses accepting, with its line, and
	// accepting resumes when a connection closes or the pause ends (the limit did not
	// really bind), and the connection is served; ENOMEM is logged ("accept_listenfd error:
	// ...") and retried at the next readiness by the models that wait on a level (the
	// listener stays readable): every client is served. The connection was never taken
	// from the backlog (the call did not run).
	for _, e := range []syscall.Errno{unix.EINTR, unix.ECONNABORTED, unix.EMFILE, unix.ENOMEM, unix.EAGAIN} {
		models := notUring
		if e == unix.ENOMEM || e == unix.EAGAIN {
			// sigio stops draining on these (an error, or "empty"), and the connection left
			// in the backlog raises no second signal: it waits for the next connection.
			models = func(m string) bool { return notUring(m) && m != "sigio" }
		}
		if e == unix.EMFILE {
			// The episode's line says whether a connection waited, and which accept4 is the
			// 2nd is timing for two models: sigio's is a's or its start-up drain's (by
			// whether a connected before that drain); nonblock's is a's or an idle round's,
			// before or after b connected (its loop never waits). TestDescriptorLimit
			// compares both at a real limit, with the clients queued first.
			models = func(m string) bool { return notUring(m) && m != "sigio" && m != "nonblock" }
		}
		out = append(out, injection{fault: fault("accept4", unix.SYS_ACCEPT4, e, 2), models: models, expect: allServed})
	}
	// epoll-et's first accept4 is a's, in the drain its edge starts (the 2nd is the drain's
	// EAGAIN): ECONNABORTED there is retried within the drain, or a waits for an edge that
	// only the next client brings.
	out = append(out, injection{fault: fault("accept4", unix.SYS_ACCEPT4, unix.ECONNABORTED, 1), models: only("epoll-et"), expect: allServed})
	// recvfrom: EINTR is retried (and nonblock's EAGAIN: not yet); the others are logged
	// ("recv_connfd error: ...") and the connection closed: b gets no echo, c is served.
	for _, e := range []syscall.Errno{unix.EINTR, unix.EAGAIN, unix.ECONNRESET, unix.ENOMEM} {
		models := notUring
		if e == unix.EAGAIN {
			// nonblock tries again on its next round. The edge-triggered models (epoll-et,
			// sigio) take a spurious EAGAIN as "drained" and wait for the next edge, which
			// never comes for a client that has sent everything: the kernel never answers
			// EAGAIN with bytes queued, so that hang is no defect, and not a row.
			models = func(m string) bool { return notUring(m) && m != "epoll-et" && m != "sigio" }
		}
		// epoll-et: the 2nd recvfrom is a's second one, which would have seen the end of
		// stream: a was answered, its error is logged and it is closed.
		in := injection{fault: fault("recvfrom", unix.SYS_RECVFROM, e, 2), models: models, expect: servedBy("epoll-et")}
		switch e {
		case unix.EINTR:
			in.expect = allServed
		case unix.EAGAIN:
			in.expect = servedBy("nonblock") // tries again on its next round
		default:
			// nonblock and sigio may try a recv before the bytes came (EAGAIN, a call that
			// counts): which call is the 2nd is timing. Their row fails the 1st, a silent
			// client's.
			in.models = func(m string) bool { return models(m) && m != "nonblock" && m != "sigio" }
			out = append(out, injection{fault: fault("recvfrom", unix.SYS_RECVFROM, e, 1), models: only("nonblock", "sigio"),
				steps: silentFirst, expect: aRefused})
		}
		out = append(out, in)
	}
	// sendto: EINTR is retried; EPIPE, EAGAIN, ENOMEM are logged ("send_connfd error: ...")
	// and the connection closed, but for epoll-et's EAGAIN: the stream model keeps the
	// rest and waits for EPOLLOUT.
	for _, e := range []syscall.Errno{unix.EINTR, unix.EPIPE, unix.EAGAIN, unix.ENOMEM} {
		in := injection{fault: fault("sendto", unix.SYS_SENDTO, e, 2), models: notUring, expect: bRefused}
		switch e {
		case unix.EINTR:
			in.expect = allServed
		case unix.EAGAIN:
			in.expect = servedBy("epoll-et") // keeps the rest and waits for EPOLLOUT
		}
		out = append(out, in)
	}
	// The wait calls: EINTR (the 3rd) is retried, every client served; ENOMEM (the 1st)
	// ends the model with an error line and exit 1 before any client, except nonblock,
	// whose poll only looks at the stop eventfd: a failed look is "no stop yet".
	for _, model := range []string{"iterative", "fork", "epoll-lt", "epoll-et", "thread", "nonblock", "select", "poll", "sigio", "uring"} {
		name, nrs := waitCall(model)
		// Not the Go runtime's own epoll_wait, on its poller's epoll instance (fd 3).
		notOn := []uint64{3}
		out = append(out, injection{fault: inject.Fault{Name: name, Nrs: nrs, Errno: unix.EINTR, When: 3, NotOnFds: notOn}, models: only(model), expect: allServed})
		in := injection{fault: inject.Fault{Name: name, Nrs: nrs, Errno: unix.ENOMEM, When: 1, NotOnFds: notOn}, models: only(model),
			steps: func(string) []engine.Step { return engine.Seq(awaitExit()) }, expect: fatal}
		if model == "nonblock" {
			in.steps, in.expect = nil, allServed
		}
		out = append(out, in)
	}
	// sigio's first wait (rt_sigtimedwait without a timeout, before any client: which
	// call is its 3rd wait is timing, since a client that connects while the one before
	// is served is accepted in the same drain): EINTR is retried, every client served.
	out = append(out, injection{fault: inject.Fault{Name: "rt_sigtimedwait", Nrs: []uint64{unix.SYS_RT_SIGTIMEDWAIT},
		Errno: unix.EINTR, When: 1, NullArg: 3}, models: only("sigio"), expect: allServed})
	// sigio's drain at the stop (rt_sigtimedwait with a zero timeout): EINTR is retried,
	// not taken for "no signal left" (an early end left stale readiness signals pending,
	// and unblocking them killed the C server: real-time signals terminate by default).
	out = append(out, injection{fault: inject.Fault{Name: "rt_sigtimedwait(drain)", Nrs: []uint64{unix.SYS_RT_SIGTIMEDWAIT},
		Errno: unix.EINTR, When: 1, NonNullArg: 3}, models: only("sigio"), expect: allServed})
	// io_uring_enter: EBUSY (the CQ overflowed) is an error like any other: logged, exit 1.
	out = append(out, injection{fault: fault("io_uring_enter", unix.SYS_IO_URING_ENTER, unix.EBUSY, 1), models: only("uring"),
		steps: func(string) []engine.Step { return engine.Seq(awaitExit()) }, expect: fatal})
	// clone (or clone3), counted only where it makes a process (fork's, not the runtime's
	// threads):
	// the 2nd process creation (b's) fails with EAGAIN or ENOMEM: logged, b's connection
	// closed unanswered, c served.
	for _, e := range []syscall.Errno{unix.EAGAIN, unix.ENOMEM} {
		f := inject.Fault{Name: "clone", Nrs: []uint64{unix.SYS_CLONE, unix.SYS_CLONE3}, Errno: e, When: 2, Process: true}
		// b sends nothing: the parent closes its connection at once, and what b sees must
		// not depend on whether its bytes arrived before that close (a reset) or not (EOF).
		out = append(out, injection{fault: f, models: only("fork"), expect: bRefused, steps: func(string) []engine.Step {
			return engine.Seq(finClient("a", []byte("first")), engine.Connect("b"), engine.AwaitEnd("b"), finClient("c", []byte("third")))
		}})
	}
	return out
}

func notUring(model string) bool { return model != "uring" }

// TestInject runs every injection against C (twice) and Go.
func TestInject(t *testing.T) {
	c, g := sides(t)
	for _, model := range models(t) {
		t.Run(model, func(t *testing.T) {
			if reason := unavailable(model); reason != "" {
				ciskip.Skipf(t, ciskip.Uring, "%s unavailable: %s", model, reason)
			}
			for _, in := range injections() {
				if !in.models(model) {
					continue
				}
				t.Run(in.name(), func(t *testing.T) {
					base := takeBaseline()
					enginetest.Compare(t, in.scenario(), model, c.tracedImpl(in.fault), g.tracedImpl(in.fault))
					base.check(t)
				})
			}
		})
	}
}

// injectChecks are the rows above for the mutants (mutants_test.go).
func injectChecks(t *testing.T) []check {
	var cs []check
	for _, model := range availableModels(t) {
		for _, in := range injections() {
			if !in.models(model) {
				continue
			}
			cs = append(cs, check{"inject/" + model + "/" + in.name(), func(s side) (*engine.Transcript, error) {
				im := s.tracedImpl(in.fault)
				im.Deadline = mutantDeadline
				return engine.RunOnce(in.scenario(), model, im)
			}})
		}
	}
	return cs
}
