//go:build linux

package load

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/internal/procfs"
)

// ErrNoStrace says why the system-call column is empty.
var ErrNoStrace = errors.New("strace not found: install it (apt-get install strace) for the syscalls column")

// Syscalls is what strace counted per connection: the server's system calls (all its
// threads and children, strace -f) under conns sequential connections, less those of a
// run with no connection (start-up, the stop), divided by conns.
type Syscalls struct {
	PerConn float64            // all system calls per connection
	ByName  map[string]float64 // per connection, by system call
}

// HousekeepingNames splits strace -c's counts, which carry no stacks, by name alone: the
// calls that are the Go runtime's own where Go makes them (threads, memory, its
// scheduler's sleeps and wake-ups, signal plumbing) and libc's where C makes them
// (pthread_create: clone3, mmap, mprotect, madvise, rseq, set_robust_list,
// rt_sigprocmask). The report counts them apart from the protocol's calls. It is a
// coarse split for a cost table; which call is the model's is decided call by call, by
// the stack that made it, in systrace.Housekeeping (TestSyscallSequence).
var HousekeepingNames = map[string]bool{
	"futex": true, "nanosleep": true, "sched_yield": true, "mmap": true, "munmap": true,
	"madvise": true, "mprotect": true, "rt_sigaction": true, "rt_sigprocmask": true,
	"rt_sigreturn": true, "sigaltstack": true, "clone": true, "clone3": true, "gettid": true,
	"getpid": true, "tgkill": true, "exit": true, "set_robust_list": true, "rseq": true,
	"arch_prctl": true, "prctl": true, "sched_getaffinity": true, "brk": true,
	"getrandom": true, "restart_syscall": true,
	// Go 1.25+ reads its cgroup CPU quota again now and then (GOMAXPROCS follows it).
	"pread64": true,
}

// Split is the difference per connection from ref to s (s less ref): in the protocol's
// calls (all but HousekeepingNames) and in housekeeping, with the housekeeping calls whose
// count differs by at least 0.05, largest difference first.
func (s Syscalls) Split(ref Syscalls) (protocol, housekeeping float64, by []NameCount) {
	names := map[string]bool{}
	for n := range s.ByName {
		names[n] = true
	}
	for n := range ref.ByName {
		names[n] = true
	}
	for n := range names {
		d := s.ByName[n] - ref.ByName[n]
		if !HousekeepingNames[n] {
			protocol += d
			continue
		}
		housekeeping += d
		if d >= 0.05 || d <= -0.05 {
			by = append(by, NameCount{n, d})
		}
	}
	sort.Slice(by, func(i, j int) bool {
		ai, aj := max(by[i].Count, -by[i].Count), max(by[j].Count, -by[j].Count)
		if ai != aj {
			return ai > aj
		}
		return by[i].Name < by[j].Name
	})
	return protocol, housekeeping, by
}

// Top lists the n system calls most made per connection, most first.
func (s Syscalls) Top(n int) []NameCount {
	var all []NameCount
	for name, c := range s.ByName {
		if c >= 0.005 {
			all = append(all, NameCount{name, c})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Count != all[j].Count {
			return all[i].Count > all[j].Count
		}
		return all[i].Name < all[j].Name
	})
	if len(all) > n {
		all = all[:n]
	}
	return all
}

// NameCount is one system call and its count per connection.
type NameCount struct {
	Name  string
	Count float64
}

// CountSyscalls runs argv under `strace -f -c` twice, with conns connections and with
// none, one at a time (a single client, so batching in epoll_wait or accept does not
// depend on timing), and returns the difference per connection.
func CountSyscalls(dir string, argv []string, conns int, msg []byte) (Syscalls, error) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return Syscalls{}, ErrNoStrace
	}
	idle, err := straceRun(strace, filepath.Join(dir, "strace-idle.txt"), argv, 0, msg)
	if err != nil {
		return Syscalls{}, err
	}
	busy, err := straceRun(strace, filepath.Join(dir, "strace-busy.txt"), argv, conns, msg)
	if err != nil {
		return Syscalls{}, err
	}
	s := Syscalls{ByName: map[string]float64{}}
	for name, c := range busy {
		d := float64(c-idle[name]) / float64(conns)
		if d > 0 {
			s.ByName[name] = d
			s.PerConn += d
		}
	}
	return s, nil
}

// straceTimeout bounds the start and the stop of a server under strace, which slows both.
const straceTimeout = 20 * time.Second

// straceRun counts the system calls of one server run that serves conns connections.
func straceRun(strace, out string, argv []string, conns int, msg []byte) (map[string]int, error) {
	p, err := start(serverWithin("strace "+argv[0], append([]string{strace, "-f", "-c", "-o", out, "--"}, argv...), straceTimeout))
	if err != nil {
		return nil, err
	}
	// The server is strace's child.
	pid, err := procfs.FirstChild(p.ServerPid())
	if err != nil {
		p.Proc.Kill()
		return nil, err
	}
	srv := traced{p, pid}
	if conns > 0 {
		r, err := OneShot{Port: srv.Port(), Workers: 1, Conns: conns, Msg: msg}.Run()
		if err == nil && r.Errors > 0 {
			err = fmt.Errorf("%d connections failed: %v", r.Errors, r.FirstErr)
		}
		if err != nil {
			srv.Stop()
			return nil, err
		}
	}
	if _, err := srv.Stop(); err != nil {
		return nil, err
	}
	return parseStraceSummary(out)
}

// traced is a server behind strace, whose process is strace's: Stop sends SIGTERM to the
// server, strace's child (strace itself would detach from it on SIGTERM and leave it
// running), and waits for strace to write its summary and exit with it.
type traced struct {
	engine.Process
	server int
}

func (t traced) Stop() (string, error) {
	syscall.Kill(t.server, syscall.SIGTERM)
	return t.Proc.Wait(straceTimeout)
}

// parseStraceSummary reads strace -c's table: "% time seconds usecs/call calls [errors]
// syscall" rows between dashed lines, then a total row.
func parseStraceSummary(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || strings.HasPrefix(fields[0], "%") || strings.HasPrefix(fields[0], "-") {
			continue
		}
		name := fields[len(fields)-1]
		if name == "total" {
			continue
		}
		calls, err := strconv.Atoi(fields[3])
		if err != nil {
			continue
		}
		counts[name] += calls
	}
	if len(counts) == 0 {
		return nil, fmt.Errorf("%s: no strace summary", path)
	}
	return counts, sc.Err()
}
