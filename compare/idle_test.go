//go:build linux

package compare

// idle_test.go - the nonblock model must back off when idle: a loop that only retries
// accept and recv would burn a whole core while nobody talks to it.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clockTicksPerSecond is sysconf(_SC_CLK_TCK), the unit of utime and stime in
// /proc/PID/stat. It is USER_HZ, which Linux fixes at 100 on every architecture the
// project runs on, whatever the kernel's internal tick rate (CONFIG_HZ).
const clockTicksPerSecond = 100

// cpuTicks reads utime+stime (fields 14 and 15 of /proc/PID/stat) in clock ticks.
func cpuTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Field 2, the command name, is in parentheses and may hold spaces: count the fields
	// after the last ')', where field 3 (state) is the first.
	s := string(data)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')' in %q", pid, s)
	}
	fields := strings.Fields(s[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(fields))
	}
	utime, err := strconv.ParseInt(fields[14-3], 10, 64)
	if err != nil {
		return 0, err
	}
	stime, err := strconv.ParseInt(fields[15-3], 10, 64)
	if err != nil {
		return 0, err
	}
	return utime + stime, nil
}

func TestNonblockIdleCPU(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bins, err := standalone.Build(ctx, t.TempDir())
	require.NoError(t, err, "building the standalone binaries")

	// Both servers idle at the same time: the window is the point of this test, so the
	// two measurements share it instead of taking twice as long.
	const window = 2 * time.Second
	type sample struct {
		proc  *standalone.Process
		ticks int64
	}
	samples := map[standalone.Impl]*sample{}
	for _, impl := range []standalone.Impl{standalone.C, standalone.Go} {
		p, err := standalone.StartServer(bins.Server(impl), 10*time.Second, "nonblock", "0")
		require.NoError(t, err, "%s: starting the nonblock server", impl)
		t.Cleanup(p.Kill)
		samples[impl] = &sample{proc: p}
	}
	start := time.Now()
	for impl, s := range samples {
		s.ticks, err = cpuTicks(s.proc.Pid())
		require.NoError(t, err, "%s: reading CPU time", impl)
	}
	time.Sleep(window) // measuring over a time window, not waiting for a server
	elapsed := time.Since(start).Seconds()

	for _, impl := range []standalone.Impl{standalone.C, standalone.Go} {
		s := samples[impl]
		ticks, err := cpuTicks(s.proc.Pid())
		require.NoError(t, err, "%s: reading CPU time", impl)
		frac := float64(ticks-s.ticks) / clockTicksPerSecond / elapsed
		t.Logf("%s nonblock idle: %d ticks in %.2f s = %.2f%% of a core", impl, ticks-s.ticks, elapsed, 100*frac)
		assert.Less(t, frac, 0.05, "%s: an idle nonblock server uses %.1f%% of a core (want < 5%%)", impl, 100*frac)

		code, err := s.proc.Signal(syscall.SIGTERM, 5*time.Second)
		require.NoError(t, err, "%s: stopping with SIGTERM", impl)
		assert.Equal(t, 0, code, "%s: exit status after SIGTERM; stderr:\n%s", impl, s.proc.Stderr())
		assert.True(t, strings.HasSuffix(s.proc.Stderr(), "signal: SIGTERM(15)   close server ... done\n"),
			"%s: last stderr line after SIGTERM; stderr:\n%s", impl, s.proc.Stderr())
		assert.Empty(t, s.proc.Stdout(), "%s: nobody connected, yet stdout has lines", impl)
	}
}
