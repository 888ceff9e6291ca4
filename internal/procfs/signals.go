//go:build linux

package procfs

// signals.go - what the signal and log-stream tests (compare/signals_test.go) ask of a
// server process: its pending signals, its process group, its listening port, its stop
// eventfd, where its descriptors point and whether it waits for room on a log stream.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// SigPending reports whether sig is pending for pid: process-wide (ShdPnd) or on one of
// its threads (SigPnd).
func SigPending(pid int, sig unix.Signal) bool {
	bit := uint64(1) << (uint(sig) - 1)
	if m, ok := statusMask(fmt.Sprintf("/proc/%d/status", pid), "ShdPnd:"); ok && m&bit != 0 {
		return true
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, t := range tasks {
		if m, ok := statusMask(t, "SigPnd:"); ok && m&bit != 0 {
			return true
		}
	}
	return false
}

// statusMask reads a hexadecimal signal mask field of a /proc/…/status file.
func statusMask(path, field string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// GroupMembers lists the live processes (zombies aside) of process group pgid, its leader
// aside.
func GroupMembers(pgid int) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pgid {
			continue
		}
		if g, err := unix.Getpgid(pid); err != nil || g != pgid {
			continue
		}
		if f, err := statFields(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && len(f) > 0 && f[0] != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ListeningPort is the port of pid's listening TCP socket, -1 when it has none
// (listening.go: sock_diag, or pid's /proc tcp tables in another network namespace).
func ListeningPort(pid int) int {
	inodes := socketInodes(pid)
	if len(inodes) == 0 {
		return -1
	}
	for _, l := range listeners(pid) {
		if inodes[l.inode] {
			return l.port
		}
	}
	return -1
}

// InPipeWrite reports whether a thread of pid sleeps in a pipe write (its wchan is
// pipe_write): a blocking writer waiting for the reader to drain the pipe.
func InPipeWrite(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, t := range tasks {
		if b, err := os.ReadFile(t); err == nil && strings.Contains(string(b), "pipe_write") {
			return true
		}
	}
	return false
}

// InLogWait reports whether a thread of pid waits for room on its descriptor fd: it sleeps
// in poll(2) (or ppoll) on a set whose first entry is {fd, POLLOUT}, the servers' way to
// wait on a log stream nobody reads (and on their stop eventfd). The set is read from the
// process's memory (/proc/PID/mem, as its parent or root may).
func InLogWait(pid, fd int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 3 || (f[0] != strconv.Itoa(unix.SYS_POLL) && f[0] != strconv.Itoa(unix.SYS_PPOLL)) {
			continue
		}
		addr, err := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 64)
		if err != nil {
			continue
		}
		mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
		if err != nil {
			continue
		}
		var pfd [8]byte // struct pollfd: int fd; short events, revents
		_, err = mem.ReadAt(pfd[:], int64(addr))
		mem.Close()
		if err == nil && int32(uint32(pfd[0])|uint32(pfd[1])<<8|uint32(pfd[2])<<16|uint32(pfd[3])<<24) == int32(fd) &&
			uint16(pfd[4])|uint16(pfd[5])<<8 == unix.POLLOUT {
			return true
		}
	}
	return false
}

// FdTarget is where pid's descriptor fd (a number, as /proc names it) points:
// "/dev/null", "pipe:[…]", "socket:[…]"; "" when it is not open.
func FdTarget(pid int, fd string) string {
	link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd))
	return link
}

// Listening reports whether pid, or a process it started (a server behind a wrapper such
// as strace or a shell), holds a TCP socket listening on port: the server it stands for is
// ready, and no probe connection had to tell (listening.go). A socket that another process
// holds on the same port does not count: a port picked free a moment before may be taken
// meanwhile, and then the server is not the one that listens.
func Listening(pid, port int) bool {
	inodes := map[uint64]bool{}
	for _, l := range listeners(pid) {
		if l.port == port {
			inodes[l.inode] = true
		}
	}
	if len(inodes) == 0 {
		return false
	}
	seen := map[int]bool{}
	for queue := []int{pid}; len(queue) > 0 && len(seen) < maxDescendants; queue = queue[1:] {
		p := queue[0]
		if seen[p] {
			continue
		}
		seen[p] = true
		if holdsSocket(p, inodes) {
			return true
		}
		kids, _ := Children(p)
		for _, k := range kids {
			queue = append(queue, k.Pid)
		}
	}
	return false
}

// maxDescendants bounds Listening's walk of a process tree.
const maxDescendants = 64

// InSyscall reports whether a thread of pid sleeps in system call nr, with args, when
// given, as its first arguments as /proc/PID/task/TID/syscall shows them ("0x7" for
// descriptor 7); a running thread shows "running".
func InSyscall(pid, nr int, args ...string) bool {
	want := strings.Join(append([]string{strconv.Itoa(nr)}, args...), " ") + " "
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, t := range tasks {
		if b, err := os.ReadFile(t); err == nil && strings.HasPrefix(string(b), want) {
			return true
		}
	}
	return false
}
