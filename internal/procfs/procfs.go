//go:build linux

// Package procfs reads what the tests, the benchmarks and the report need to know about a
// process from /proc: its descriptors, threads, children, state and CPU time. Every reader
// takes a pid (os.Getpid() for this process) and holds no descriptor when it returns.
package procfs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ClockTick is one tick of /proc/PID/stat's times: sysconf(_SC_CLK_TCK) is 100 on Linux
// (USER_HZ, fixed by the kernel's ABI whatever CONFIG_HZ is).
const ClockTick = 10 * time.Millisecond

// statFields reads a /proc/…/stat file and returns its fields from the third (the state)
// on: the second, the command name, is in parentheses and may hold spaces and parentheses,
// so the fields are counted after its last ')'. Field n of proc(5) is fields[n-3].
func statFields(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("%s: no command field in %q", path, s)
	}
	return strings.Fields(s[i+1:]), nil
}

// Fds is how many descriptors pid has open (-1 when /proc cannot tell). For this process
// the directory read holds one descriptor itself, the same on every call, so two counts
// compare exactly.
func Fds(pid int) int { return entries(fmt.Sprintf("/proc/%d/fd", pid)) }

// ConnFds counts pid's sockets and pidfds: what a server holds per client (a connection,
// or a fork model's pidfd for the child serving it). Other descriptors (epoll, eventfds,
// pipes) belong to the server's life.
func ConnFds(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		link, err := os.Readlink(dir + "/" + e.Name())
		if err == nil && (strings.HasPrefix(link, "socket:") || link == "anon_inode:[pidfd]") {
			n++
		}
	}
	return n
}

// FreeFdsBelow counts the descriptor numbers below limit that pid has free: the numbers its
// next accepts get, lowest first. Listing /proc/self/fd opens a descriptor for the listing,
// which is not counted as taken.
func FreeFdsBelow(pid, limit int) (int, error) {
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	listing := -1
	if pid == os.Getpid() {
		listing = int(d.Fd())
	}
	taken := 0
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd < limit && fd != listing {
			taken++
		}
	}
	return limit - taken, nil
}

// FdTable is pid's descriptor table: "FD KIND" lines in descriptor order, where KIND is
// the link's target with inode numbers dropped (socket, pipe, anon_inode:[eventfd],
// /dev/null, ...).
func FdTable(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type entry struct {
		fd   int
		kind string
	}
	var es []entry
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if i := strings.Index(link, ":["); i > 0 && !strings.HasPrefix(link, "anon_inode:") {
			link = link[:i] // socket:[123] -> socket, pipe:[456] -> pipe
		}
		es = append(es, entry{fd, link})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].fd < es[j].fd })
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%d %s", e.fd, e.kind)
	}
	return out, nil
}

// ThreadChildren lists the children of pid made by any of its threads
// (/proc/PID/task/*/children).
func ThreadChildren(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// HoldsSocket says whether process pid has a descriptor on socket inode.
func HoldsSocket(pid int, inode uint64) bool {
	return holdsSocket(pid, map[uint64]bool{inode: true})
}

// holdsSocket says whether process pid has a descriptor on one of the sockets inodes.
func holdsSocket(pid int, inodes map[uint64]bool) bool {
	for inode := range socketInodes(pid) {
		if inodes[inode] {
			return true
		}
	}
	return false
}

// socketInodes are the inodes of the sockets pid has descriptors on ("socket:[INODE]").
func socketInodes(pid int) map[uint64]bool {
	inodes := map[uint64]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if rest, ok := strings.CutPrefix(FdTarget(pid, fd.Name()), "socket:["); ok {
			if inode, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64); err == nil {
				inodes[inode] = true
			}
		}
	}
	return inodes
}

// FdList describes pid's open descriptors below 1024 ("3=socket:[123] 4=pipe:[456] "), for
// a failure message.
func FdList(pid int) string {
	var b strings.Builder
	for fd := 0; fd < 1024; fd++ {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); err == nil {
			fmt.Fprintf(&b, "%d=%s ", fd, target)
		}
	}
	return b.String()
}

// Threads is the number of threads (tasks) of pid, -1 when /proc cannot tell.
func Threads(pid int) int { return entries(fmt.Sprintf("/proc/%d/task", pid)) }

// entries counts the entries of a /proc directory, -1 when it cannot be read.
func entries(dir string) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	return len(ents)
}

// AllStopped reports whether every thread of pid is in state T (stopped by a signal).
func AllStopped(pid int) bool { return allInState(pid, "T") }

// allInState reports whether pid has threads and every one is in the state letter given.
func allInState(pid int, state string) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		f, err := statFields(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil || len(f) == 0 || f[0] != state {
			return false
		}
	}
	return true
}

// Proc is a process seen in /proc: its pid and state letter (R, S, Z for a zombie, ...).
type Proc struct {
	Pid   int
	State string
}

// Children lists the processes whose parent is pid, zombies included, by reading every
// /proc/PID/stat: unlike /proc/PID/task/*/children it needs no kernel option.
func Children(pid int) ([]Proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var kids []Proc
	for _, e := range ents {
		kid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := statFields("/proc/" + e.Name() + "/stat")
		if err != nil || len(f) < 2 {
			continue // the process ended between the two reads
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			kids = append(kids, Proc{Pid: kid, State: f[0]})
		}
	}
	return kids, nil
}

// FirstChild is the first child of pid's main thread (/proc/PID/task/PID/children): the
// program a wrapper such as strace started.
func FirstChild(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, fmt.Errorf("process %d has no child", pid)
	}
	return strconv.Atoi(f[0])
}

// CPU is a process's CPU time so far, from its own accounting.
type CPU struct {
	// Self is the process's threads, live and exited, in nanoseconds: the kernel's
	// sum_exec_runtime read through the process CPU clock of pid (clock_gettime with
	// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)), the precise form of utime+stime.
	Self time.Duration
	// StatSelf is utime+stime from /proc/PID/stat, in 10 ms ticks: a cross-check.
	StatSelf time.Duration
	// Children is cutime+cstime from /proc/PID/stat: the children the process has reaped
	// (the fork model's connection processes), in 10 ms ticks.
	Children time.Duration
}

// Total is the process's CPU with its reaped children's.
func (c CPU) Total() time.Duration { return c.Self + c.Children }

// ProcessCPU reads pid's CPU accounting.
func ProcessCPU(pid int) (CPU, error) {
	var c CPU
	path := fmt.Sprintf("/proc/%d/stat", pid)
	f, err := statFields(path)
	if err != nil {
		return c, err
	}
	if len(f) < 15 {
		return c, fmt.Errorf("%s: %d fields", path, len(f)+2)
	}
	ticks := func(field int) (time.Duration, error) {
		v, err := strconv.ParseInt(f[field-3], 10, 64)
		return time.Duration(v) * ClockTick, err
	}
	var times [4]time.Duration
	for i := range times {
		if times[i], err = ticks(14 + i); err != nil { // utime, stime, cutime, cstime
			return c, fmt.Errorf("%s: field %d: %w", path, 14+i, err)
		}
	}
	c.StatSelf = times[0] + times[1]
	c.Children = times[2] + times[3]
	var ts unix.Timespec
	clock := int32((^pid)<<3 | 2) // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
	if err := unix.ClockGettime(clock, &ts); err != nil {
		c.Self = c.StatSelf // an old kernel: fall back to ticks
	} else {
		c.Self = time.Duration(ts.Nano())
	}
	return c, nil
}

// AllAsleep reports whether every thread of pid is in state S (asleep in the kernel until
// an event, such as a select, a read or a futex): none is running, runnable (R) or in an
// uninterruptible wait (D), so none is between two steps of its own.
func AllAsleep(pid int) bool { return allInState(pid, "S") }
