//go:build linux

package gosrv

// nonblock.go - non-blocking I/O, polled by hand (seed: 非阻塞IO 轮询, named without code).
//
// Every descriptor is O_NONBLOCK, so accept and recv never sleep in the kernel: when
// nothing is there they fail at once with EAGAIN, "not yet". One thread goes round and
// round: accept whatever is pending, then try a recv on every connection in accept order.
// Nothing tells it when something arrives, which is the model's cost: a loop that only
// retries burns a whole core. So an idle loop backs off: it spins spinRounds empty rounds
// (a reply on loopback arrives within microseconds, cheaper to catch by retrying than by
// sleeping), then sleeps, doubling the sleep from backoffMinNs up to a cap; any progress
// (a new connection, a recv that returned anything but EAGAIN) starts over with spinning.
// And every round costs a recv per open connection: the seed credits this model with one
// system call per answer (recv) against multiplexing's two (select, recv), but the
// polling makes that call again and again, so the cap grows with the number of
// connections polled, n: it is the larger of backoffMaxNs (2 ms) and n * backoffPerConnNs
// (50 µs), which keeps an idle round's work (~1 µs a connection, measured) near 2% of the
// time whatever n is. With a fixed 2 ms cap, 5000 idle connections kept 67% of a core
// busy in C, 76% in Go.
//
// The schedule, the same in C: 50 spinning rounds, then sleeps of 50, 100, 200, ... µs,
// doubling up to max(2 ms, n * 50 µs): 2 ms up to 40 connections, 50 ms with 1000, 250 ms
// with 5000. The price is latency: a client that speaks after an idle spell waits up to
// that cap (plus one round), and with more connections longer. Go only: a stop signal
// lands on another thread than the sleeping one, so the stop, too, may wait for the sleep
// to end (C's handler interrupts the sleep).
// C twin: csrc/nonblock.c, on the same schedule.
//
// The sleep is clock_nanosleep(CLOCK_REALTIME), the system call glibc's nanosleep makes,
// so that both servers make the same calls; time.Sleep would park the goroutine on a
// runtime timer instead, a different mechanism with its own wake-ups. It is made as a
// raw system call (backoffSleep), which the runtime does not see, for a reason measured
// here: through unix.ClockNanosleep the runtime marks the thread as in a system call,
// its monitor (sysmon) takes the processor (P) from the sleeping thread after 20 µs and
// wakes another thread to look for work that does not exist, which spins and parks
// again; at ~450 sleeps a second that cost ~100 µs of CPU per sleep: an idle server used
// 4.6% of a core, against 2.2% with the raw call and 1.9% for C (10 s, 2-core VM). Kept
// by the raw call, the P waits at most backoffCap for the thread, which only delays a
// garbage collection's stop-the-world by as much, and sysmon still preempts this
// goroutine every 10 ms so that others (the signal handler's) run even with
// GOMAXPROCS=1; the preemption signal ends a sleep early with EINTR, harmless.
// (runtime.Gosched before each sleep would avoid those preemptions, but it wakes another
// thread every time: measured, it costs more than the SIGURG every 10 ms.)

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The schedule, as in C (see there for why these numbers).
const (
	spinRounds   = 50
	backoffMinNs = 50000   // 50 µs: the kernel's default timer slack
	backoffMaxNs = 2000000 // 2 ms: ~450 idle wake-ups a second, ~2% of a core (measured)
	// the cap with n connections: at least n * 50 µs
	backoffPerConnNs = 50000
)

// backoffCap is the longest sleep with n connections polled: max(backoffMaxNs, n *
// backoffPerConnNs).
func backoffCap(n int) int64 {
	return max(backoffMaxNs, int64(n)*backoffPerConnNs)
}

// backoffSleep is clock_nanosleep(CLOCK_REALTIME, 0, ns, NULL) as a raw system call, one
// that the runtime does not account as blocking (see the top of the file for why). Its
// only error is EINTR, which ends the sleep early: fine, the next round looks at the stop.
//
// A sleep of 10 ms or more (many connections) is made through the runtime instead
// (Syscall6: entersyscall): sysmon preempts a goroutine that has run 10 ms without a
// scheduling point, and to a raw call that looks like running, so its SIGURG cut every
// long sleep to ~10 ms (measured: 5000 idle connections at 20% of a core instead of
// ~2%). Seen as blocked, the thread keeps sleeping while sysmon hands its P on, once per
// sleep: at most ~100 such sleeps a second, where that hand-off costs little.
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
	// accept on an empty queue must return EAGAIN instead of sleeping.
	if err := unix.SetNonblock(srv.ListenFd, true); err != nil {
		logErrno(srv.ErrFd, "fcntl_listenfd", err)
		return -1
	}

	var acc acceptor
	acc.open(unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	var conns []int
	idleRounds := 0
	backoffNs := int64(backoffMinNs)

	var slice timeSlice
	// The stop eventfd is looked at once per round with a zero-timeout poll: one cheap
	// system call, and the eventfd is never read, so it stays readable for everyone.
	for !stopRequested(srv.StopFd) {
		slice.yield() // Go only: see timeSlice

		// New connections first, so that one accepted now is tried in this round.
		var accepted, served int
		conns, accepted = acceptPending(srv, &acc, conns)
		conns, served = tryConns(srv, conns)

		if accepted+served > 0 {
			idleRounds = 0
			backoffNs = backoffMinNs
			continue
		}
		idleRounds++
		if idleRounds <= spinRounds {
			continue
		}
		// A signal cuts the sleep short (EINTR): fine, the next round looks at the stop.
		backoffSleep(backoffNs)
		backoffNs *= 2
		if backoffNs > backoffCap(len(conns)) {
			backoffNs = backoffCap(len(conns))
		}
	}

	for _, connFd := range conns {
		unix.Close(connFd)
	}
	return 0
}
