//go:build linux

package compare

// limits_test.go - the constants and limits of the servers, pinned by what a client (or
// strace) can see, C against Go, the standalone servers:
//
//   - listen backlog (MAX_CONN 1024): with the server held (SIGSTOP), 1030 connections are
//     tried; the kernel completes backlog+1 = 1025 handshakes and drops the rest's SYNs;
//     after SIGCONT exactly those 1025 are accepted, in order (listen-backlog);
//   - the one-shot buffer (BUF_SIZE 512): size-511/512/513/4096 in the table, and recvfrom's
//     size in TestSyscallSequence;
//   - the epoll batch (MAX_EVENT 1024): 1100 connections ready at once, more than one
//     epoll_wait returns, all served in the order they became ready (epoll-batch); the
//     batch itself is epoll_wait's argument in TestSyscallSequence;
//   - uring's slots (URING_SLOTS 256, uring.c): three silent connections beside a live one
//     (the live one answered at once), and 256 silent ones: a 257th waits in the backlog
//     until a slot frees (uring-slots-*);
//   - the default port 8080: both servers and both clients without a port, inside a private
//     network namespace (never the host's port 8080) (TestDefaultPort);
//   - SO_REUSEADDR: a server restarted on the port of the first run while that run's
//     connections are in TIME_WAIT binds again (TestReuseAddr);
//   - nonblock's backoff: the sleeps strace records over an idle spell (TestNonblockBackoff).
//
// Not pinned: the thread model's thread limit. C's pthread_create fails politely (EAGAIN)
// where Go's runtime aborts the process (it cannot create an OS thread); Go's thread
// model stands in for that with maxConnThreads (9000 live connections), and reaching
// either would take thousands of threads on a 2-core machine shared with other tests.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/enginetest"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// uringSlots is URING_SLOTS in csrc/uring.c (uringSlots in gosrv/uring.go).
const uringSlots = 256

// listenBacklog is MAX_CONN in csrc/echo.h (MaxConn in gosrv/common.go).
const listenBacklog = 1024

// connectWhileHeld tries each connection with a short deadline while the server is held:
// a handshake the kernel completes in the listen queue returns at once, one whose SYN the
// kernel dropped (the queue is full) does not. After five in a row that did not complete
// the queue is full, and the rest are not tried (a smaller backlog would otherwise cost
// 300 ms a connection). It notes how many completed; the others are not kept.
func connectWhileHeld(names []string, patience time.Duration) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("try %d connections while the server is held", len(names)), Do: func(r *engine.Run) error {
		done, refused := 0, 0
		for _, name := range names {
			if refused == 5 {
				break
			}
			d := net.Dialer{Timeout: patience}
			nc, err := d.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Target().Port())))
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					refused++
					continue
				}
				return err
			}
			refused = 0
			tc := nc.(*net.TCPConn)
			if _, err := r.AddConn(name, tc, tc.LocalAddr().(*net.TCPAddr).Port, false); err != nil {
				tc.Close()
				return err
			}
			done++
		}
		r.Note("connections completed while held: %d, then %d in a row not completed within %v", done, refused, patience)
		return nil
	}}
}

func limitScenarios() []engine.Scenario {
	backlog, _ := clientNames(listenBacklog + 6)
	held := backlog[:listenBacklog+1]
	batch, batchMsgs := clientNames(1100)
	silent3, _ := clientNames(3)
	silentAll, _ := clientNames(uringSlots)
	return []engine.Scenario{
		{
			// The listen backlog: the server held, 1030 connections tried, one after the
			// other. The kernel queues backlog+1 completed handshakes; later SYNs are dropped
			// (the client would retry in a second; the try gives up after 300 ms). Resumed,
			// the server accepts exactly the queued ones, in the order they completed.
			Name:    "listen-backlog",
			Models:  only("poll"),
			Process: true,
			Steps: func(string) []engine.Step {
				return engine.Seq(pauseServer(), connectWhileHeld(backlog, 300*time.Millisecond), resumeServer(),
					engine.AwaitStdoutLines(len(held)))
			},
			Expect: expects(wantNote(fmt.Sprintf("connections completed while held: %d, then 5 in a row not completed within 300ms", listenBacklog+1)),
				// Each then served the empty recv of its client's close.
				wantAcceptOrder(held), wantStdoutLines(0, len(held))),
		},
		{
			// More connections ready at once than one epoll_wait returns (MAX_EVENT): 1100
			// accepted, then the server held while every client sends and half-closes, then
			// resumed. Each becomes ready in turn, in the order of the sends, and epoll
			// reports them in that order over two calls: stdout is compared unsorted.
			Name:    "epoll-batch",
			Models:  only("epoll-lt", "epoll-et"),
			Process: true,
			Steps: func(string) []engine.Step {
				return engine.Seq(each(batch, engine.ConnectQuiet), engine.AwaitStdoutLines(len(batch)), pauseServer(),
					sendEach(batch, batchMsgs), each(batch, engine.HalfClose), resumeServer(), each(batch, engine.AwaitEnd))
			},
			Expect: expects(append(servedAll(batch, batchMsgs), wantAcceptOrder(batch))...),
		},
		{
			// Three silent connections hold three of uring's slots; a live one beside them
			// is answered at once.
			Name:    "uring-slots-three-silent",
			Models:  only("uring"),
			Process: true,
			Steps: func(string) []engine.Step {
				return engine.Seq(each(silent3, engine.ConnectQuiet), engine.AwaitStdoutLines(3), engine.Connect("l"),
					engine.Send("l", []byte("live")), engine.HalfClose("l"), engine.ExpectOpenFor("l", 2*time.Second, 0), engine.AwaitEnd("l"))
			},
			Expect: expects(wantEcho("l", []byte("live")), wantNote("l: answered within 2s")),
		},
		{
			// Every slot held by a silent connection: the next connection waits in the
			// backlog, unanswered, until one silent client closes and its slot frees.
			Name:    "uring-slots-all-silent",
			Models:  only("uring"),
			Process: true,
			Steps: func(string) []engine.Step {
				return engine.Seq(each(silentAll, engine.ConnectQuiet), engine.AwaitStdoutLines(uringSlots), engine.Connect("l"),
					engine.Send("l", []byte("live")), engine.HalfClose("l"), engine.ExpectOpenFor("l", 300*time.Millisecond, 0),
					engine.Close(silentAll[0]), engine.AwaitEnd("l"))
			},
			// Every silent one is served its empty recv when the clients close at the end.
			Expect: expects(wantEcho("l", []byte("live")), wantNote("l: open and silent for 300ms"),
				wantStdoutLines(0, uringSlots+1)),
		},
	}
}

// TestLimits runs the limit scenarios against the standalone servers, C twice and Go.
func TestLimits(t *testing.T) {
	c, g := sides(t)
	for _, sc := range limitScenarios() {
		for _, model := range models(t) {
			if !sc.AppliesTo(model) {
				continue
			}
			t.Run(model+"/"+sc.Name, func(t *testing.T) {
				if reason := unavailable(model); reason != "" {
					ciskip.Skipf(t, ciskip.Uring, "%s unavailable: %s", model, reason)
				}
				base := takeBaseline()
				enginetest.Compare(t, sc, model, c.impl(), g.impl())
				base.check(t)
			})
		}
	}
}

// ---- SO_REUSEADDR ----

// reuseAddr serves a client on a fresh server (port 0), stops it, and starts a second
// server on the same port while the first run's connection is in TIME_WAIT on the
// server's side (the one-shot server closes first): with SO_REUSEADDR the bind succeeds.
func reuseAddr(s side) (*engine.Transcript, error) {
	im := s.impl()
	first, err := im.Start("iterative")
	if err != nil {
		return nil, err
	}
	port := first.Port()
	// No half-close: the server closes first, so the TIME_WAIT is on its side, its port.
	tr1, err := engine.Execute(engine.Scenario{Name: "first-run", Steps: func(string) []engine.Step {
		return engine.Seq(engine.Connect("a"), engine.Send("a", []byte("first run")), engine.AwaitEnd("a"))
	}}, "iterative", first, engine.Options{Deadline: processTimeout})
	if err != nil {
		return nil, err
	}
	tw := timeWaitOn(port)
	tr1.Notes = append(tr1.Notes, fmt.Sprintf("connections in TIME_WAIT on the port after the stop: %v", tw > 0))
	out, errs, code := "", "", ""
	second, err := standalone.StartServer(s.server, processTimeout, "iterative", strconv.Itoa(port))
	if err != nil {
		if second == nil {
			return nil, err
		}
		// It did not start: its stderr and exit status are the outcome.
		code, _ = second.Wait(processTimeout)
		errs = second.Stderr()
	} else {
		tr2, err := engine.Execute(engine.Scenario{Name: "second-run", Steps: func(string) []engine.Step { return engine.Client("b", []byte("second run")) }},
			"iterative", engine.Process{Proc: second}, engine.Options{Deadline: processTimeout})
		if err != nil {
			return nil, err
		}
		tr1.Conns = append(tr1.Conns, tr2.Conns...)
		out, errs, code = tr2.Stdout, tr2.Stderr, tr2.Status
	}
	tr1.Stdout += "--- the second server on the same port\n" + out
	tr1.Stderr += "--- the second server on the same port\n" + strings.ReplaceAll(errs, ":"+strconv.Itoa(port)+"\n", ":PORT\n")
	tr1.Status = tr1.Status + ", then " + code
	return tr1, nil
}

// timeWaitOn counts the IPv4 TCP sockets in TIME_WAIT whose local port is port, in this
// thread's network namespace.
func timeWaitOn(port int) int {
	f, err := os.Open("/proc/thread-self/net/tcp")
	if err != nil {
		return -1
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	want := fmt.Sprintf(":%04X", port)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st ...: st 06 is TIME_WAIT.
		if len(fields) > 3 && strings.HasSuffix(fields[1], want) && fields[3] == "06" {
			n++
		}
	}
	return n
}

// TestReuseAddr runs reuseAddr in a private network namespace: the host's may hold so
// many TIME_WAIT sockets (other tests') that it reaches tcp_max_tw_buckets, and then the
// kernel drops a closing connection instead of keeping it in TIME_WAIT; a namespace
// starts with none.
func TestReuseAddr(t *testing.T) {
	c, g := sides(t)
	ref, err := inNetns(func() (*engine.Transcript, error) { return reuseAddr(c) })
	var skip errSkip
	if errors.As(err, &skip) {
		ciskip.Skipf(t, ciskip.Because, "no private network namespace: %s", skip.reason)
	}
	require.NoError(t, err, "C")
	require.Contains(t, ref.Notes, "connections in TIME_WAIT on the port after the stop: true", "the C run left no TIME_WAIT: the test tests nothing")
	require.Equal(t, "exited 0, then exited 0", ref.Status, "C: both runs exit 0; stderr:\n%s", ref.Stderr)
	got, err := inNetns(func() (*engine.Transcript, error) { return reuseAddr(g) })
	require.NoError(t, err, "Go")
	enginetest.RequireParity(t, t.Name(), ref, got, "C", "Go")
}

// ---- the default port, in a private network namespace ----

// defaultPort runs s's server and client with no port, in a new network namespace made
// for this check on a locked thread (children inherit the thread's namespace): the
// host's port 8080 is never touched. The transcript holds the server's first line, the
// client's output and the server's log.
func defaultPort(s side) (*engine.Transcript, error) {
	return inNetns(func() (*engine.Transcript, error) {
		srv, err := standalone.StartServer(s.server, processTimeout, "iterative")
		if err != nil {
			return nil, err
		}
		cl, err := runClient(srv, s.client, []string{"to the default port"})
		status, serr := srv.Signal(syscall.SIGTERM, processTimeout)
		if err == nil {
			err = serr
		}
		if cl == nil {
			return nil, err
		}
		tr := &engine.Transcript{Stdout: engine.NamePorts(srv.Stdout(), cl.ports),
			Stderr: srv.Stderr(), Status: status,
			Notes: []string{fmt.Sprintf("client: stdout %q stderr %q %s", cl.Stdout, cl.Stderr, cl.Status)}}
		return tr, err
	})
}

// inNetns runs f on a thread of its own moved to a new network namespace with loopback
// up: the processes it starts inherit the thread's namespace, and the sockets it makes
// are made there. errSkip where a namespace cannot be made (not root).
func inNetns(f func() (*engine.Transcript, error)) (*engine.Transcript, error) {
	type result struct {
		tr  *engine.Transcript
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// No UnlockOSThread: the thread, moved to another namespace, ends with this goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, errSkip{fmt.Sprintf("unshare(CLONE_NEWNET): %v (needs root or CAP_SYS_ADMIN)", err)}}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			ch <- result{nil, errSkip{fmt.Sprintf("ip link set lo up: %v %s", err, out)}}
			return
		}
		tr, err := f()
		ch <- result{tr, err}
	}()
	r := <-ch
	return r.tr, r.err
}

type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

func TestDefaultPort(t *testing.T) {
	c, g := sides(t)
	ref, err := defaultPort(c)
	var skip errSkip
	if errors.As(err, &skip) {
		ciskip.Skipf(t, ciskip.Because, "no private network namespace, and the host's port 8080 is not ours to bind: %s", skip.reason)
	}
	require.NoError(t, err, "C")
	require.True(t, strings.HasPrefix(ref.Stderr, "listening on 0.0.0.0:8080\n"), "C server without a port: %q", ref.Stderr)
	require.Equal(t, `client: stdout "echo_msg: to the default port\n" stderr "" exited 0`, ref.Notes[0], "C client without a port")
	require.Contains(t, ref.Stdout, "127.0.0.1:<client>)\n", "C server's log names the client's real port")
	got, err := defaultPort(g)
	require.NoError(t, err, "Go")
	enginetest.RequireParity(t, t.Name(), ref, got, "C", "Go")
}

// ---- nonblock's backoff, as strace sees it ----

var acceptResult = regexp.MustCompile(`\)\s+= (.*)$`)

var sleepNs = regexp.MustCompile(`clock_nanosleep\(CLOCK_REALTIME, 0, \{tv_sec=(\d+), tv_nsec=(\d+)\}`)

// backoffSleeps runs s's nonblock server under strace, opens conns silent connections and
// waits until they are accepted, and returns the first n sleeps it asks for after its
// last accept (progress starts the schedule over), in nanoseconds.
func backoffSleeps(s side, conns, n int) ([]int64, error) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return nil, errSkip{"strace not found: install it (apt-get install strace; .ci/run does)"}
	}
	dir, err := os.MkdirTemp("", "iomodels-backoff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := dir + "/trace.txt"
	p, err := standalone.StartServer(strace, processTimeout, "-f", "-qq", "-e", "trace=clock_nanosleep,accept4", "-o", out, "--", s.server, "nonblock", "0")
	if err != nil {
		return nil, err
	}
	defer p.Kill()
	pid, err := tracedChild(p.Pid())
	if err != nil {
		return nil, err
	}
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)), processTimeout)
		if err != nil {
			return nil, err
		}
		defer c.Close()
	}
	if !engine.WaitFor(time.Now().Add(processTimeout), func() bool { return engine.CountLines([]byte(p.Stdout())) >= conns }) {
		return nil, fmt.Errorf("%s: %d connections not accepted", s.name, conns)
	}
	var sleeps []int64
	read := func() bool {
		b, _ := os.ReadFile(out)
		sleeps = sleeps[:0]
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "accept4(") {
				if r := acceptResult.FindStringSubmatch(line); r != nil && !strings.HasPrefix(r[1], "-1") && !strings.HasPrefix(r[1], "?") {
					sleeps = sleeps[:0] // a connection: the schedule starts over
				}
				continue
			}
			if m := sleepNs.FindStringSubmatch(line); m != nil {
				sec, _ := strconv.ParseInt(m[1], 10, 64)
				ns, _ := strconv.ParseInt(m[2], 10, 64)
				sleeps = append(sleeps, sec*1e9+ns)
			}
		}
		return len(sleeps) >= n
	}
	// The idle spell lasts until n sleeps are recorded.
	if !engine.WaitFor(time.Now().Add(processTimeout), read) {
		return nil, fmt.Errorf("%s: only %d sleeps recorded in %v", s.name, len(sleeps), engine.Options{Deadline: processTimeout})
	}
	syscall.Kill(pid, syscall.SIGTERM)
	if _, err := p.Wait(processTimeout); err != nil {
		return nil, err
	}
	return sleeps[:n], nil
}

// TestNonblockBackoff: an idle nonblock server sleeps 50 µs, then twice as long each
// time, up to 2 ms, and stays there: the same schedule in C and Go, and this one. With
// 100 silent connections polled, the schedule after the last accept is C's in Go too.
func TestNonblockBackoff(t *testing.T) {
	c, g := sides(t)
	const n = 12
	ref, err := backoffSleeps(c, 0, n)
	var skip errSkip
	if errors.As(err, &skip) {
		ciskip.Skipf(t, ciskip.Because, "%s", skip.reason)
	}
	require.NoError(t, err, "C")
	want := []int64{50e3, 100e3, 200e3, 400e3, 800e3, 1600e3, 2e6, 2e6, 2e6, 2e6, 2e6, 2e6}
	require.Equal(t, want, ref, "C's idle schedule (ns)")
	got, err := backoffSleeps(g, 0, n)
	require.NoError(t, err, "Go")
	require.Equal(t, ref, got, "Go's idle schedule against C's (ns)")

	ref, err = backoffSleeps(c, 100, n)
	require.NoError(t, err, "C, 100 connections")
	got, err = backoffSleeps(g, 100, n)
	require.NoError(t, err, "Go, 100 connections")
	t.Logf("with 100 connections polled: %v", ref)
	require.Equal(t, ref, got, "Go's schedule with 100 connections against C's (ns)")
}

// limitChecks are the checks above for the mutants (mutants_test.go).
func limitChecks(t *testing.T) []check {
	var cs []check
	for _, sc := range limitScenarios() {
		for _, model := range availableModels(t) {
			if !sc.AppliesTo(model) {
				continue
			}
			cs = append(cs, check{"limits/" + model + "/" + sc.Name, func(s side) (*engine.Transcript, error) {
				im := s.impl()
				im.Deadline = mutantDeadline
				return engine.RunOnce(sc, model, im)
			}})
		}
	}
	return append(cs,
		check{"limits/reuseaddr", func(s side) (*engine.Transcript, error) {
			return inNetns(func() (*engine.Transcript, error) { return reuseAddr(s) })
		}},
		check{"limits/default-port", defaultPort},
		check{"limits/nonblock-backoff", func(s side) (*engine.Transcript, error) {
			sleeps, err := backoffSleeps(s, 0, 12)
			if err != nil {
				return nil, err
			}
			return &engine.Transcript{Notes: []string{fmt.Sprint(sleeps)}}, nil
		}},
	)
}
