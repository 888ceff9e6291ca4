//go:build linux

package gosrv

// nonblock.go - non-blocking I/O, polled by hand (seed: 非阻塞IO 轮询, named without code).
//
// Every descriptor is O_NONBLOCK, so accept and recv never sleep in the kernel: when
// nothing is there they fail at once with EAGAIN, "not yet". One thread goes round and
// round: accept whatever is pending, then try a recv on every connection in accept order.
// Nothing tells it when something arrives, which is the model's cost: a loop that only
// retries burns a whole core, and every round costs a recv per open connection (the seed
// credits this model with one system call per answer against multiplexing's two, but the
// polling makes that call again and again). So an idle loop backs off: it spins spinRounds
// empty rounds, then sleeps, doubling the sleep from backoffMinNs up to a cap that grows
// with the number of connections polled (backoffCap); any progress (a new connection, a
// recv that returned anything but EAGAIN) starts over with spinning. The price is latency:
// a client that speaks after an idle spell waits up to that cap. Go only: the sleep is a
// raw clock_nanosleep (backoffSleep says why), and a stop signal lands on another thread
// than the sleeping one, so the stop, too, may wait for the sleep to end (C's handler
// interrupts it); raw.* are the calls that cannot wait (rawcalls.go), slice.yield the
// scheduler's time slice (timeSlice in common.go). C twin: csrc/nonblock.c, on the same
// schedule.
//
// Go only: the standalone server runs this model on one P (Model.OneP, GOMAXPROCS=1).
// The loop never gives its P back to the runtime: its calls are raw and so are its short
// sleeps. With a second, idle P, each time slice's Gosched wakes another thread (wakep)
// to take that P, and that thread often takes the goroutine too: the spinning loop moves
// to another thread, and to the other CPU, every 5 ms, where C's stays on one thread.
// With one P there is nobody to wake, and the loop stays on its thread. What it changed:
// compare/cmd/benchreport/README.md, "nonblock on one P".

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The schedule, as in C (see there for what it is, and compare/cmd/benchreport/README.md,
// "nonblock's back-off", for why these numbers).
const (
	spinRounds   = 50
	backoffMinNs = 50000   // 50 µs: the kernel's default timer slack
	backoffMaxNs = 2000000 // 2 ms: the cap with few connections
	// the cap with n connections: at least n * 50 µs
	backoffPerConnNs = 50000
	spinConns        = 40    // beyond it, fewer spinning rounds
	firstPerConnNs   = 20000 // the first sleep with n connections: at least n * 20 µs
)

// spinRoundsFor is the spinning rounds with n connections polled: spinRounds up to
// spinConns, then fewer.
func spinRoundsFor(n int) int {
	if n <= spinConns {
		return spinRounds
	}
	return spinRounds * spinConns / n
}

// backoffFirst is the first sleep with n connections polled: max(backoffMinNs, n *
// firstPerConnNs).
func backoffFirst(n int) int64 {
	return max(backoffMinNs, int64(n)*firstPerConnNs)
}

// backoffCap is the longest sleep with n connections polled: max(backoffMaxNs, n *
// backoffPerConnNs).
func backoffCap(n int) int64 {
	return max(backoffMaxNs, int64(n)*backoffPerConnNs)
}

// backoffSleep is clock_nanosleep(CLOCK_REALTIME, 0, ns, NULL), the system call glibc's
// nanosleep makes, so that both servers make the same calls (time.Sleep would park the
// goroutine on a runtime timer instead, a different mechanism with its own wake-ups). Its
// only error is EINTR, which ends the sleep early: fine, the next round looks at the stop.
//
// A short sleep is a raw system call, which the runtime does not account as blocking:
// through unix.Syscall the runtime marks the thread as in a system call, and its monitor
// (sysmon) takes the processor (P) from the sleeping thread after 20 µs and wakes another
// thread to look for work that does not exist, which spins and parks again, on every
// sleep. Kept by the raw call, the P waits at most backoffCap for the thread, which only
// delays a garbage collection's stop-the-world by as much; sysmon still preempts this
// goroutine every 10 ms so that others (the signal handler's) run even with GOMAXPROCS=1,
// and the preemption signal ends a sleep early with EINTR, harmless.
//
// A sleep of 10 ms or more (many connections) goes through the runtime instead
// (Syscall6: entersyscall): sysmon preempts a goroutine that has run 10 ms without a
// scheduling point, and to a raw call that looks like running, so its SIGURG would cut
// every long sleep short. Seen as blocked, the thread keeps sleeping while sysmon hands
// its P on, once per sleep, and long sleeps are few. What each choice cost, measured:
// compare/cmd/benchreport/README.md, "nonblock's back-off".
func backoffSleep(ns int64) {
	ts := unix.NsecToTimespec(ns)
	if ns < longSleepNs {
		rawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_REALTIME, 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		return
	}
	unix.Syscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_REALTIME, 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
}

// longSleepNs is sysmon's forcePreemptNS (runtime/proc.go): see backoffSleep.
const longSleepNs = 10e6

// step: accept
// acceptPending accepts every pending connection onto conns (accept order); it returns
// the list and how many joined it. At the descriptor limit (acceptPaused) the rest stay
// queued, and the next round tries again: polling is this model's way of waiting, for a
// descriptor as for anything else.
func acceptPending(srv *Server, acc *acceptor, conns []int) ([]int, int) {
	accepted := 0
	for {
		connFd := acceptQueued(srv, acc)
		if connFd < 0 {
			return conns, accepted // acceptEmpty: not yet; acceptPaused, acceptFailed: logged
		}
		conns = append(conns, connFd)
		accepted++
	}
}

// step: serve
// tryConns makes one recv on every connection, in accept order. EAGAIN keeps the
// connection for the next round; anything else (bytes, end of stream, an error) is the
// one-shot answer. It returns the kept connections, still in order, and how many were
// answered.
func tryConns(srv *Server, conns []int) ([]int, int) {
	var buf [BufSize]byte
	kept, served := 0, 0
	for _, connFd := range conns {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = raw.Recv(connFd, buf[:], 0); return err })
		if err == unix.EAGAIN {
			conns[kept] = connFd // not yet
			kept++
			continue
		}
		echoReply(srv, connFd, buf[:], n, err, nonblocking)
		served++
	}
	return conns[:kept], served
}

func serveNonblock(srv *Server) int {
	// step: prepare the listener
	// accept on an empty queue must return EAGAIN instead of sleeping.
	if err := unix.SetNonblock(srv.ListenFd, true); err != nil {
		logErrno(srv.ErrFd, "fcntl_listenfd", err)
		return -1
	}

	// step: set up
	var acc acceptor
	acc.open(unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	var conns []int
	idleRounds := 0
	backoffNs := int64(backoffMinNs)

	var slice timeSlice
	// step: the stop
	// The stop eventfd is looked at once per round with a zero-timeout poll: one cheap
	// system call, and the eventfd is never read, so it stays readable for everyone.
	for !stopRequested(srv.StopFd) {
		slice.yield() // Go only: see timeSlice

		// step: poll by hand
		// New connections first, so that one accepted now is tried in this round.
		var accepted, served int
		conns, accepted = acceptPending(srv, &acc, conns)
		conns, served = tryConns(srv, conns)

		// step: back off
		if accepted+served > 0 {
			idleRounds = 0
			backoffNs = backoffFirst(len(conns))
			continue
		}
		idleRounds++
		if idleRounds <= spinRoundsFor(len(conns)) {
			continue
		}
		// A signal cuts the sleep short (EINTR): fine, the next round looks at the stop.
		backoffSleep(backoffNs)
		backoffNs *= 2
		if backoffNs > backoffCap(len(conns)) {
			backoffNs = backoffCap(len(conns))
		}
	}

	// step: clean up
	for _, connFd := range conns {
		unix.Close(connFd)
	}
	return 0
}
