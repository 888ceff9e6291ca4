//go:build linux

package compare

// engine_procfs_test.go - what the steps read about the server's process, by the names the
// engine has always used for them; internal/procfs reads /proc for the whole repository.

import (
	"time"

	"github.com/iomodels/iomodels/internal/procfs"
)

// freeFdsBelow counts the descriptor numbers below limit that pid has free: the numbers its
// next accepts get, lowest first.
func freeFdsBelow(pid, limit int) (int, error) { return procfs.FreeFdsBelow(pid, limit) }

// threadCount is the number of threads of pid.
func threadCount(pid int) int { return procfs.Threads(pid) }

// cpuTime is utime+stime of pid from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) { return procfs.CPUTime(pid) }

// connFdCount counts pid's sockets and pidfds: what a server holds per client (a
// connection, or a fork model's pidfd for the child serving it). Other descriptors (epoll,
// eventfds, pipes) belong to the server's life, and may be opened just after Start.
func connFdCount(pid int) int { return procfs.ConnFds(pid) }

// fdCount is how many descriptors pid has open.
func fdCount(pid int) int { return procfs.Fds(pid) }
