//go:build linux

package compare

// cpu_test.go - the CPU a Go server may use, judged against its C twin (CONTRACT.md
// § Parity, "CPU"): both are standalone processes, so their CPU is their own (in process
// it would be the whole test's), and Go fails when it uses more than cpuFactor times what
// C used over the same window, or cpuFloor of the window when C used next to nothing.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/iomodels/iomodels/internal/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// cpuFactor: Go may use this many times C's CPU over the window (a polling loop, such
	// as nonblock's at the descriptor limit, varies with the scheduler from run to run).
	cpuFactor = 3
	// cpuFloorPercent of the window is what Go may always use: a server asleep in its
	// wait uses microseconds, the Go runtime's own threads (sysmon) a little more; a spin
	// uses the whole window, or its share of a core on a loaded machine.
	cpuFloorPercent = 5
)

// cpuAllowed is the most CPU Go may use over window when C used c.
func cpuAllowed(c, window time.Duration) time.Duration {
	return max(window*cpuFloorPercent/100, cpuFactor*c)
}

// assertCPUWithinC fails t when Go's CPU g exceeds cpuAllowed(c, window).
func assertCPUWithinC(t *testing.T, what string, c, g, window time.Duration) bool {
	t.Helper()
	t.Logf("%s: C %v, Go %v of CPU over %v (Go may use %v)", what, c, g, window, cpuAllowed(c, window))
	return assert.LessOrEqual(t, g, cpuAllowed(c, window),
		"%s: Go used %v of CPU over %v, more than max(%d%% of the window, %d x C's %v)", what, g, window, cpuFloorPercent, cpuFactor, c)
}

// cpuSample is the CPU a server used over a window of its own.
type cpuSample struct{ used, window time.Duration }

// scaled is the CPU the sample's rate comes to over window: two servers measured in
// windows of their own, one after the other, are judged over the same length.
func (c cpuSample) scaled(window time.Duration) time.Duration {
	if c.window <= 0 {
		return 0
	}
	return time.Duration(float64(c.used) * float64(window) / float64(c.window))
}

// serverCPU is the CPU pid and its live children have used so far (the fork model's
// connection processes among them), with the children it has reaped (10 ms ticks).
func serverCPU(pid int) (time.Duration, error) {
	c, err := procfs.ProcessCPU(pid)
	if err != nil {
		return 0, err
	}
	total := c.Total()
	kids, err := procfs.Children(pid)
	if err != nil {
		return 0, err
	}
	for _, k := range kids {
		if kc, err := procfs.ProcessCPU(k.Pid); err == nil { // a child that ended meanwhile is counted as reaped
			total += kc.Self
		}
	}
	return total, nil
}

// cpuOver measures the CPU each of pids uses over the same window, which starts now.
func cpuOver(window time.Duration, pids ...int) ([]time.Duration, time.Duration, error) {
	before := make([]time.Duration, len(pids))
	for i, pid := range pids {
		var err error
		if before[i], err = serverCPU(pid); err != nil {
			return nil, 0, err
		}
	}
	start := time.Now()
	engine.MeasureUntil(start.Add(window))
	used := make([]time.Duration, len(pids))
	for i, pid := range pids {
		after, err := serverCPU(pid)
		if err != nil {
			return nil, 0, err
		}
		used[i] = after - before[i]
	}
	return used, time.Since(start), nil
}

// resetConn connects to port, waits until the server logged the connection, and resets
// it (SO_LINGER 0, close: RST instead of FIN).
func resetConn(p *standalone.Process) error {
	conn, err := net.DialTimeout("tcp4", "127.0.0.1:"+strconv.Itoa(p.Port), processTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if !engine.WaitFor(time.Now().Add(processTimeout), func() bool { return stdoutLines(p) >= 1 }) {
		return fmt.Errorf("the connection was not logged; stdout %q", p.Stdout())
	}
	return conn.(*net.TCPConn).SetLinger(0)
}

// echoClient sends msg, half-closes and reads to the end.
func echoClient(port int, msg string) (string, error) {
	conn, err := net.DialTimeout("tcp4", "127.0.0.1:"+strconv.Itoa(port), processTimeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(processTimeout))
	if _, err := conn.Write([]byte(msg)); err != nil {
		return "", err
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			if errors.Is(err, io.EOF) {
				return b.String(), nil
			}
			return b.String(), err
		}
	}
}

// TestResetNoSpin: CONTRACT.md § Departures from the seed (c). A client connects, is
// logged, and resets its connection; the C and the Go server of every model then run side
// by side through one window, and Go's CPU over it is judged against C's (the seed, which
// skipped a level-triggered EPOLLERR/EPOLLHUP without closing, spun through all of it).
// Then each still serves the next client.
func TestResetNoSpin(t *testing.T) {
	c, g := sides(t)
	const window = 300 * time.Millisecond
	for _, model := range models(t) {
		t.Run(model, func(t *testing.T) {
			if reason := unavailable(model); reason != "" {
				ciskip.Skipf(t, ciskip.Uring, "%s unavailable: %s", model, reason)
			}
			var procs [2]*standalone.Process
			for i, s := range []side{c, g} {
				p, err := standalone.StartServer(s.server, processTimeout, model, "0")
				require.NoError(t, err, "%s server", s.name)
				t.Cleanup(p.Kill)
				procs[i] = p
				require.NoError(t, resetConn(p), "%s: the reset client", s.name)
			}
			used, elapsed, err := cpuOver(window, procs[0].Pid(), procs[1].Pid())
			require.NoError(t, err, "reading the servers' CPU")
			assertCPUWithinC(t, model+" after a reset", used[0], used[1], elapsed)
			for i, s := range []side{c, g} {
				p := procs[i]
				got, err := echoClient(p.Port, "after the reset")
				require.NoError(t, err, "%s: the next client", s.name)
				assert.Equal(t, "after the reset", got, "%s: the next client's echo", s.name)
				status, err := p.Signal(syscall.SIGTERM, processTimeout)
				require.NoError(t, err, "%s: stopping", s.name)
				assert.Equal(t, "exited 0", status, "%s: exit status; stderr %q", s.name, p.Stderr())
				assert.Contains(t, p.Stderr(), "recv_connfd error: Connection reset by peer\n", "%s: the reset is logged", s.name)
			}
		})
	}
}
