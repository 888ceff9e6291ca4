//go:build linux

package load

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ClockTick is one tick of /proc/PID/stat's times: sysconf(_SC_CLK_TCK) is 100 on Linux
// (USER_HZ, fixed by the kernel's ABI whatever CONFIG_HZ is).
const ClockTick = 10 * time.Millisecond

// CPU is a server's CPU time so far, from its own accounting.
type CPU struct {
	// Self is the process's threads, live and exited, in nanoseconds: the kernel's
	// sum_exec_runtime read through the process CPU clock of pid (clock_gettime with
	// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)), the precise form of utime+stime.
	Self time.Duration
	// StatSelf is utime+stime from /proc/PID/stat, in 10 ms ticks: a cross-check.
	StatSelf time.Duration
	// Children is cutime+cstime from /proc/PID/stat: the children the server has reaped
	// (the fork model's connection processes), in 10 ms ticks.
	Children time.Duration
}

// Total is the server's CPU with its reaped children's.
func (c CPU) Total() time.Duration { return c.Self + c.Children }

// Sub is the CPU spent between two readings.
func (c CPU) Sub(old CPU) CPU {
	return CPU{Self: c.Self - old.Self, StatSelf: c.StatSelf - old.StatSelf, Children: c.Children - old.Children}
}

// ProcessCPU reads pid's CPU accounting.
func ProcessCPU(pid int) (CPU, error) {
	var c CPU
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return c, err
	}
	// The command name (field 2) may hold spaces and parentheses: split after its last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return c, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return c, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ticks := func(field int) time.Duration {
		v, _ := strconv.ParseInt(f[field-3], 10, 64)
		return time.Duration(v) * ClockTick
	}
	c.StatSelf = ticks(14) + ticks(15)
	c.Children = ticks(16) + ticks(17)
	var ts unix.Timespec
	clock := int32((^pid)<<3 | 2) // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
	if err := unix.ClockGettime(clock, &ts); err != nil {
		c.Self = c.StatSelf // an old kernel: fall back to ticks
	} else {
		c.Self = time.Duration(ts.Nano())
	}
	return c, nil
}
