//go:build linux

package compare

// fdlimit_test.go - descriptors, C against Go on the standalone servers: what each holds
// (the same numbers, the same kinds), and what each does when it runs out (a lowered
// RLIMIT_NOFILE with more clients than fit): which clients are served, which closed
// unanswered, how many log lines, how much CPU at the limit, and recovery.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/compare/parity"
	"github.com/iomodels/iomodels/internal/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// settled: pid holds what a server of model holds with held clients: the listener and a
// socket per client, or (fork) the listener alone and a pidfd per client.
func settled(pid int, model string, held int) bool {
	table, err := procfs.FdTable(pid)
	if err != nil {
		return false
	}
	kinds := map[string]int{}
	for _, e := range table {
		kinds[e[strings.IndexByte(e, ' ')+1:]]++
	}
	if model == "fork" {
		return kinds["socket"] == 1 && kinds["anon_inode:[pidfd]"] == held
	}
	return kinds["socket"] == 1+held
}

// stdoutLines is how many lines p has written to stdout.
func stdoutLines(p *standalone.Process) int { return strings.Count(p.Stdout(), "\n") }

// TestDescriptorTables: after start, and with n clients connected and held, the C and the
// Go server list the same descriptors, number for number and kind for kind (the contract:
// 3 epoll and 4 eventfd, the Go runtime's poller and their C counterparts, 5 the stop
// eventfd, 6 the listener, then the model's own, the connections). No
// side is padded: a descriptor the Go runtime opened on its own, now or later, fails it.
func TestDescriptorTables(t *testing.T) {
	c, g := sides(t)
	const n = 5
	for _, model := range models(t) {
		t.Run(model, func(t *testing.T) {
			if reason := unavailable(model); reason != "" {
				t.Skipf("%s unavailable: %s", model, reason)
			}
			// iterative holds one connection at a time, the rest wait in the backlog.
			held := n
			if model == "iterative" {
				held = 1
			}
			var tables [2][]string
			for i, s := range []side{c, g} {
				p, err := standalone.StartServer(s.server, processTimeout, model, "0")
				require.NoError(t, err, "%s server", s.name)
				var clients []net.Conn
				func() {
					defer func() {
						for _, cl := range clients {
							cl.Close()
						}
						status, err := p.Signal(syscall.SIGTERM, processTimeout)
						assert.NoError(t, err, "%s: stopping", s.name)
						assert.Equal(t, "exited 0", status, "%s: exit status; stderr %q", s.name, p.Stderr())
					}()
					for j := 0; j < n; j++ {
						cl, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(p.Port))
						require.NoError(t, err, "%s: client %d", s.name, j)
						clients = append(clients, cl)
					}
					require.True(t, parity.WaitFor(time.Now().Add(processTimeout), func() bool { return stdoutLines(p) >= held }),
						"%s: %d new conn lines; stdout %q", s.name, held, p.Stdout())
					// The model's own descriptors are made before its first accept; a
					// fork child's pidfd right after its fork, and the parent closes its
					// copy of the connection (Go: and the exec's pipe) once the child runs.
					require.True(t, parity.WaitFor(time.Now().Add(processTimeout), func() bool {
						return settled(p.Pid(), model, held)
					}), "%s: %d connections held", s.name, held)
					tables[i], err = procfs.FdTable(p.Pid())
					require.NoError(t, err, "%s: descriptor table", s.name)
				}()
			}
			assert.Equal(t, tables[0], tables[1], "descriptor tables with %d clients, C then Go", n)
			t.Logf("%s: %q", model, tables[0])
		})
	}
}

// limitNofile is the lowered RLIMIT_NOFILE of TestDescriptorLimit: descriptors 0-6 (or
// 0-7 for a model with one of its own) are the server's, so 9 or 8 connections fit, and
// limitClients (the case: 24 clients at 16 descriptors) do not.
const (
	limitNofile  = 16
	limitClients = 24
)

// heldClient is one client of TestDescriptorLimit: its connection, and what it read until
// the end of its stream.
type heldClient struct {
	name string
	conn *net.TCPConn
	port int
	mu   sync.Mutex
	data []byte
	end  string // "" while open, then "EOF" or the error
}

func (c *heldClient) read() {
	buf := make([]byte, 1024)
	for {
		n, err := c.conn.Read(buf)
		c.mu.Lock()
		c.data = append(c.data, buf[:n]...)
		if err != nil {
			c.end = "EOF"
			if !errors.Is(err, io.EOF) {
				c.end = err.Error()
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

func (c *heldClient) ended() (string, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end, append([]byte(nil), c.data...)
}

// limitRun is one server of TestDescriptorLimit, start to stop, as a transcript: with
// RLIMIT_NOFILE at limitNofile and the server stopped (SIGSTOP, so that the kernel queues
// every connection and the order of the queue alone decides), limitClients connect,
// silent; the server resumes and accepts in queue order what fits, then pauses (the rest
// wait in the backlog). The transcript says how many it holds; then, while the held
// clients keep it at its limit, its CPU over a window; then each client in queue order
// sends and is answered, and after each answer the next waiting client is accepted (a
// descriptor came free); then a last client after them (recovery); stdout and stderr
// with ports named; the exit status.
func limitRun(s side, model string, window time.Duration) (tr *parity.Transcript, cpu float64, err error) {
	p, err := standalone.StartServer(s.server, processTimeout, model, "0")
	if err != nil {
		return nil, 0, err
	}
	defer p.Kill()
	lim := unix.Rlimit{Cur: limitNofile, Max: limitNofile}
	if err := unix.Prlimit(p.Pid(), unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		return nil, 0, os.NewSyscallError("prlimit", err)
	}
	deadline := time.Now().Add(processTimeout)
	if err := p.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return nil, 0, err
	}
	if !parity.WaitFor(deadline, func() bool { return allStopped(p.Pid()) }) {
		return nil, 0, fmt.Errorf("the server did not stop")
	}
	clients := make([]*heldClient, limitClients)
	ports := map[int][]string{}
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	for i := range clients {
		conn, err := net.DialTimeout("tcp4", "127.0.0.1:"+strconv.Itoa(p.Port), processTimeout)
		if err != nil {
			p.Cmd.Process.Signal(syscall.SIGCONT)
			return nil, 0, err
		}
		c := &heldClient{name: fmt.Sprintf("c%02d", i), conn: conn.(*net.TCPConn), port: conn.LocalAddr().(*net.TCPAddr).Port}
		clients[i] = c
		ports[c.port] = []string{c.name}
		go c.read()
	}
	if err := p.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return nil, 0, err
	}
	// At the limit: the descriptor table full, the limit logged, and a "new conn" line for
	// every connection the server holds (fork: a child's pidfd each, and the one accepted
	// whose child's pidfd did not fit). iterative holds one and leaves the rest queued.
	atLimit := func() bool {
		if model == "iterative" {
			return stdoutLines(p) == 1
		}
		table, err := procfs.FdTable(p.Pid())
		if err != nil || !strings.Contains(p.Stderr(), "Too many open files") {
			return false
		}
		// Every number under the limit taken (one above it, inherited, does not count).
		taken, held := 0, -1 // held: the sockets but the listener, and the pidfds
		for _, e := range table {
			if n, err := strconv.Atoi(e[:strings.IndexByte(e, ' ')]); err != nil || n >= limitNofile {
				continue
			}
			taken++
			if strings.HasSuffix(e, " socket") || strings.HasSuffix(e, " anon_inode:[pidfd]") {
				held++
			}
		}
		return taken == limitNofile && stdoutLines(p) == held
	}
	if !parity.WaitFor(deadline, atLimit) {
		var turnedAway []string
		for _, c := range clients {
			if end, data := c.ended(); end != "" {
				turnedAway = append(turnedAway, fmt.Sprintf("%s (%d bytes, %s)", c.name, len(data), end))
			}
		}
		table, _ := procfs.FdTable(p.Pid())
		return nil, 0, fmt.Errorf("the server did not pause at its limit; clients ended unanswered: %v; stdout %q, stderr %q, descriptors %q",
			turnedAway, p.Stdout(), p.Stderr(), table)
	}
	held := stdoutLines(p)
	tr = &parity.Transcript{}
	tr.Notes = append(tr.Notes, fmt.Sprintf("at the limit: %d held, %d waiting", held, limitClients-held))
	for _, c := range clients {
		if end, data := c.ended(); end != "" {
			tr.Notes = append(tr.Notes, fmt.Sprintf("at the limit: %s ended (%d bytes, %s)", c.name, len(data), end))
		}
	}
	tr.Notes = append(tr.Notes, "at the limit: stderr "+parity.NamePorts(p.Stderr(), ports))

	// At the limit, held there by the silent clients: the server's CPU over the window.
	before, err := procfs.ProcessCPU(p.Pid())
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	parity.MeasureUntil(start.Add(window))
	after, err := procfs.ProcessCPU(p.Pid())
	if err != nil {
		return nil, 0, err
	}
	cpu = float64(after.Self-before.Self) / float64(time.Since(start))

	// Each client in turn: it speaks and is answered; its descriptor frees, and the next
	// waiting client is accepted before the next one speaks (so the order of the log does
	// not depend on timing).
	for i, c := range clients {
		msg := []byte("from " + c.name)
		if _, err := c.conn.Write(msg); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", c.name, err)
		}
		if model == "epoll-et" && !parity.WaitFor(deadline, func() bool { _, d := c.ended(); return len(d) >= len(msg) }) {
			return nil, 0, fmt.Errorf("%s: no echo: stdout %q, stderr %q", c.name, p.Stdout(), p.Stderr())
		}
		c.conn.CloseWrite()
		if !parity.WaitFor(deadline, func() bool { end, _ := c.ended(); return end != "" }) {
			return nil, 0, fmt.Errorf("%s: not served: stdout %q, stderr %q", c.name, p.Stdout(), p.Stderr())
		}
		accepted := min(limitClients, held+i+1)
		if !parity.WaitFor(deadline, func() bool { return strings.Count(p.Stdout(), "new conn") >= accepted }) {
			return nil, 0, fmt.Errorf("after %s: %d accepted, want %d: stdout %q, stderr %q", c.name, strings.Count(p.Stdout(), "new conn"), accepted, p.Stdout(), p.Stderr())
		}
	}
	last, err := net.DialTimeout("tcp4", "127.0.0.1:"+strconv.Itoa(p.Port), processTimeout)
	if err != nil {
		return nil, 0, err
	}
	lc := &heldClient{name: "after", conn: last.(*net.TCPConn), port: last.LocalAddr().(*net.TCPAddr).Port}
	clients = append(clients, lc)
	ports[lc.port] = []string{lc.name}
	go lc.read()
	lc.conn.Write([]byte("after the limit"))
	lc.conn.CloseWrite()
	if !parity.WaitFor(deadline, func() bool { end, _ := lc.ended(); return end != "" }) {
		return nil, 0, fmt.Errorf("the client after the limit was not served: stdout %q, stderr %q", p.Stdout(), p.Stderr())
	}
	for _, c := range clients {
		end, data := c.ended()
		tr.Notes = append(tr.Notes, fmt.Sprintf("%s: %q, %s", c.name, data, end))
	}
	status, err := p.Signal(syscall.SIGTERM, processTimeout)
	if err != nil {
		return nil, 0, err
	}
	tr.Status = status
	tr.Stdout = parity.NamePorts(p.Stdout(), ports)
	tr.Stderr = parity.NamePorts(p.Stderr(), ports)
	return tr, cpu, nil
}

// TestDescriptorLimit: every model, C against Go, with RLIMIT_NOFILE at 16 and 24 clients
// waiting at once (limitRun): at the limit the server pauses instead of turning clients
// away, so every client gets its echo and a normal end of stream, none a bare one; one
// line for the episode ("accept_listenfd error: Too many open files"; fork: "fork error:
// Too many open files", where the child's pidfd is what does not fit); no spin while the
// limit holds (C under 10% of a core over the window, where the seed's spin took 40-100%,
// and Go within C's CPU, twice it plus 2% of a core at most); then a client after them
// (recovery); the same stdout, stderr and exit status.
func TestDescriptorLimit(t *testing.T) {
	c, g := sides(t)
	const window = 300 * time.Millisecond
	for _, model := range models(t) {
		t.Run(model, func(t *testing.T) {
			if reason := unavailable(model); reason != "" {
				t.Skipf("%s unavailable: %s", model, reason)
			}
			var trs [2]*parity.Transcript
			var cpus [2]float64
			for i, s := range []side{c, g} {
				tr, cpu, err := limitRun(s, model, window)
				require.NoError(t, err, "%s", s.name)
				t.Logf("%s %s at the limit: %.2f%% of a core", s.name, model, 100*cpu)
				trs[i], cpus[i] = tr, cpu
			}
			assert.Less(t, cpus[0], 0.10, "C: CPU at the limit (a spin?)")
			assert.LessOrEqual(t, cpus[1], 2*cpus[0]+0.02, "Go: CPU at the limit against C's %.2f%% (a spin?)", 100*cpus[0])
			ref := trs[0]
			for _, cl := range ref.Notes {
				if strings.HasPrefix(cl, "c") || strings.HasPrefix(cl, "after:") {
					name := cl[:strings.IndexByte(cl, ':')]
					want := fmt.Sprintf("%s: %q, EOF", name, "from "+name)
					if name == "after" {
						want = `after: "after the limit", EOF`
					}
					assert.Equal(t, want, cl, "C: every client answered, none turned away")
				}
			}
			if model != "iterative" {
				line := "accept_listenfd error: Too many open files\n"
				if model == "fork" {
					line = "fork error: Too many open files\n"
				}
				assert.Equal(t, 1, strings.Count(ref.Stderr, "Too many open files"), "C: one line for the episode; stderr %q", ref.Stderr)
				assert.Contains(t, ref.Stderr, line, "C: the episode's line")
			}
			assert.Equal(t, "exited 0", ref.Status, "C: exit status")
			if d := parity.Diff(ref, trs[1], "C", "Go"); d != "" {
				t.Errorf("not at parity at the descriptor limit:\n%s", d)
			}
		})
	}
}

// fdlimitChecks are TestDescriptorLimit's runs for the mutants (mutants_test.go): a run
// whose server spins at the limit notes it, so that the spin differs from the reference.
func fdlimitChecks(t *testing.T) []check {
	var cs []check
	for _, model := range models(t) {
		if unavailable(model) != "" {
			continue
		}
		cs = append(cs, check{"fdlimit/" + model, func(s side) (*parity.Transcript, error) {
			tr, cpu, err := limitRun(s, model, 300*time.Millisecond)
			if tr != nil && cpu >= 0.10 {
				tr.Notes = append(tr.Notes, "spins at the limit")
			}
			return tr, err
		}})
	}
	return cs
}

// requireTestNofile skips unless this test process may hold n more descriptors.
func requireTestNofile(t *testing.T, n uint64) {
	var lim unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	if lim.Cur < n {
		t.Skipf("RLIMIT_NOFILE is %d, want %d", lim.Cur, n)
	}
}

// dialMany connects n clients to port, quiet.
func dialMany(port, n int) ([]*heldClient, map[int][]string, error) {
	clients := make([]*heldClient, 0, n)
	ports := map[int][]string{}
	for i := 0; i < n; i++ {
		conn, err := net.DialTimeout("tcp4", "127.0.0.1:"+strconv.Itoa(port), processTimeout)
		if err != nil {
			return clients, ports, fmt.Errorf("client %d: %w", i, err)
		}
		c := &heldClient{name: fmt.Sprintf("c%04d", i), conn: conn.(*net.TCPConn), port: conn.LocalAddr().(*net.TCPAddr).Port}
		clients = append(clients, c)
		ports[c.port] = []string{c.name}
	}
	return clients, ports, nil
}

// TestThousandsOfConnections: poll and epoll-lt with 3000 clients connected at once (C
// against Go): every one accepted in connection order, the same descriptor tables (3000
// connections, the same numbers), then all served, in the same order: the same transcript.
func TestThousandsOfConnections(t *testing.T) {
	c, g := sides(t)
	const n = 3000
	requireTestNofile(t, n+100)
	for _, model := range []string{"poll", "epoll-lt"} {
		t.Run(model, func(t *testing.T) {
			var outs [2]string
			var tables [2][]string
			for i, s := range []side{c, g} {
				p, err := standalone.StartServer(s.server, processTimeout, model, "0")
				require.NoError(t, err, "%s", s.name)
				func() {
					defer p.Kill()
					clients, ports, err := dialMany(p.Port, n)
					defer func() {
						for _, c := range clients {
							c.conn.Close()
						}
					}()
					require.NoError(t, err, "%s", s.name)
					deadline := time.Now().Add(processTimeout)
					require.True(t, parity.WaitFor(deadline, func() bool { return stdoutLines(p) >= n && settled(p.Pid(), model, n) }),
						"%s: %d clients accepted; %d lines", s.name, n, stdoutLines(p))
					tables[i], err = procfs.FdTable(p.Pid())
					require.NoError(t, err)
					// Every client speaks while the server is stopped, so that all are ready
					// at once when it resumes: the order of service is then the model's own
					// (CONTRACT.md § Parity), not the timing's.
					require.NoError(t, p.Cmd.Process.Signal(syscall.SIGSTOP))
					require.True(t, parity.WaitFor(deadline, func() bool { return allStopped(p.Pid()) }), "%s: stopped", s.name)
					for _, c := range clients {
						go c.read()
						c.conn.Write([]byte(c.name))
						c.conn.CloseWrite()
					}
					require.NoError(t, p.Cmd.Process.Signal(syscall.SIGCONT))
					for _, c := range clients {
						require.True(t, parity.WaitFor(deadline.Add(time.Minute), func() bool { end, _ := c.ended(); return end != "" }), "%s: %s not served", s.name, c.name)
						if end, data := c.ended(); end != "EOF" || string(data) != c.name {
							t.Fatalf("%s: %s got %q, %s", s.name, c.name, data, end)
						}
					}
					status, err := p.Signal(syscall.SIGTERM, processTimeout)
					require.NoError(t, err)
					outs[i] = fmt.Sprintf("status %s\nstdout:\n%s\nstderr:\n%s", status, parity.NamePorts(p.Stdout(), ports), parity.NamePorts(p.Stderr(), ports))
				}()
			}
			assert.Equal(t, tables[0], tables[1], "descriptor tables with %d connections, C then Go", n)
			assert.Equal(t, outs[0], outs[1], "transcripts with %d connections, C then Go", n)
		})
	}
}

// TestNonblockIdleThousands: nonblock's backoff grows with the connections it polls
// (max(2 ms, n * 50 µs)), so 5000 idle connections cost under 5% of a core, in C and in Go
// alike (measured with the cap fixed at 2 ms: 67% and 76%), and a client that speaks after
// the idle spell is still answered within the cap (250 ms) and a round.
func TestNonblockIdleThousands(t *testing.T) {
	c, g := sides(t)
	const n = 5000
	requireTestNofile(t, 2*n+100)
	type server struct {
		side    side
		p       *standalone.Process
		clients []*heldClient
	}
	var servers []*server
	defer func() {
		for _, sv := range servers {
			for _, c := range sv.clients {
				c.conn.Close()
			}
			sv.p.Kill()
		}
	}()
	for _, s := range []side{c, g} {
		p, err := standalone.StartServer(s.server, processTimeout, "nonblock", "0")
		require.NoError(t, err, "%s", s.name)
		sv := &server{side: s, p: p}
		servers = append(servers, sv)
		sv.clients, _, err = dialMany(p.Port, n)
		require.NoError(t, err, "%s", s.name)
		require.True(t, parity.WaitFor(time.Now().Add(processTimeout), func() bool { return stdoutLines(p) >= n }), "%s: accepted", s.name)
	}
	// The backoff reaches its cap (250 ms) after ~0.5 s of sleeps: the window starts after.
	parity.MeasureUntil(time.Now().Add(time.Second))
	const window = 2 * time.Second
	var before [2]time.Duration
	for i, sv := range servers {
		var err error
		before[i], err = procfs.CPUTime(sv.p.Pid())
		require.NoError(t, err)
	}
	start := time.Now()
	parity.MeasureUntil(start.Add(window))
	elapsed := time.Since(start)
	for i, sv := range servers {
		after, err := procfs.CPUTime(sv.p.Pid())
		require.NoError(t, err)
		frac := float64(after-before[i]) / float64(elapsed)
		t.Logf("%s nonblock, %d idle connections: %.1f%% of a core", sv.side.name, n, 100*frac)
		assert.Less(t, frac, 0.05, "%s: %d idle connections", sv.side.name, n)
	}
	for _, sv := range servers {
		cl := sv.clients[n/2]
		go cl.read()
		t0 := time.Now()
		cl.conn.Write([]byte("after the idle spell"))
		require.True(t, parity.WaitFor(t0.Add(processTimeout), func() bool { _, d := cl.ended(); return len(d) > 0 }), "%s: no answer", sv.side.name)
		lat := time.Since(t0)
		t.Logf("%s: answered %v after the idle spell", sv.side.name, lat)
		assert.Less(t, lat, time.Second, "%s: latency after the idle spell (cap 250 ms)", sv.side.name)
		status, err := sv.p.Signal(syscall.SIGTERM, processTimeout)
		require.NoError(t, err)
		assert.Equal(t, "exited 0", status, "%s", sv.side.name)
	}
}
