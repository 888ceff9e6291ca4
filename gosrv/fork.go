//go:build linux

package gosrv

// fork.go - blocking I/O, one process per connection (seed: 多进程 + 阻塞IO).
//
// The parent accepts and starts a process for each connection; the process serves that one
// connection with blocking calls and exits, so a stalled client holds only its own process.
//
// How it maps to csrc/fork.c: the same loop (a pidfd per child in the poll set, each child
// reaped by its pid as it exits: no SIGCHLD handler, no zombie; at stop the shared eventfd
// ends every child) and the same fork, one clone3(2) call with CLONE_CLEAR_SIGHAND (every
// handled signal back to its default in the child, so a signal to one child ends that
// child only) and CLONE_PIDFD. Where C's child is ordinary C code, Go's runs beside a
// multithreaded runtime and so is written apart, on raw system calls: fork_child.go.
//
// On amd64 the clone adds CLONE_VM: the child is a process of its own (its pid, its copy
// of the descriptor table, its signal dispositions, killed and reaped alone) that shares
// the parent's memory instead of copying it, and runs on a stack of its own (a childSlot,
// mapped apart from Go's heap). Measured with a plain fork (perf, 2000 connections, the
// parent's samples): the Go server has 7 times C's anonymous memory to copy (the runtime's
// heap, stacks and data: 692 kB against 100 kB), and dup_mmap took 1.8 times C's time,
// page faults 3.5 times (after each fork every page the parent writes while a child lives
// is copied), TLB-shootdown IPIs 53 samples against 1 (the server is multithreaded, so
// write-protecting its memory interrupts the CPUs its other threads run on): Go's server
// CPU per connection was 1.2 to 1.3 times C's. The child needs none of that memory. What the child may write is its own slot only; it reads the
// error texts (errTexts) and nothing else of the parent's. Other architectures fork
// without CLONE_VM (fork_clone_other.go).

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// children is the parent's poll set: [0] listener, [1] stop, then one pidfd per live child.
type children struct {
	pfds  []unix.PollFd
	pids  []int        // pids[i] belongs to pfds[i]; the first two are unused
	slots []*childSlot // slots[i] is the memory child i runs in (Go only)
	spare []*childSlot // the slots of reaped children, for the next ones
}

// reap waits for child i (it has exited, or is told to by the stop eventfd) and drops it.
func (ch *children) reap(i int) {
	var ws unix.WaitStatus
	ignoringEINTR(func() (err error) { _, err = unix.Wait4(ch.pids[i], &ws, 0, nil); return err })
	if ch.pfds[i].Fd >= 0 {
		unix.Close(int(ch.pfds[i].Fd))
	}
	ch.spare = append(ch.spare, ch.slots[i]) // the child is gone: its slot is free
	last := len(ch.pfds) - 1
	ch.pfds[i], ch.pids[i], ch.slots[i] = ch.pfds[last], ch.pids[last], ch.slots[last]
	ch.pfds, ch.pids, ch.slots = ch.pfds[:last], ch.pids[:last], ch.slots[:last]
}

// slot is a free slot for the next child: a spare one, or a new one.
func (ch *children) slot() (*childSlot, error) {
	if n := len(ch.spare); n > 0 {
		s := ch.spare[n-1]
		ch.spare = ch.spare[:n-1]
		return s, nil
	}
	return newChildSlot()
}

// childSlot is the memory one child runs in, mapped apart from Go's heap (the garbage
// collector neither scans nor moves it, and the race detector does not watch it): a guard
// page, the child's stack, and its forkChild. The parent writes a slot only while no
// child runs in it: before the clone, and after the child is reaped; then it is reused.
type childSlot struct {
	mem   []byte
	stack []byte
	c     *forkChild
}

const slotStackSize = 16 << 10 // the child's nosplit frames need under 1 kB

func newChildSlot() (*childSlot, error) {
	page := unix.Getpagesize()
	size := page + slotStackSize + int(unsafe.Sizeof(forkChild{}))
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	if err := unix.Mprotect(mem[:page], unix.PROT_NONE); err != nil { // the guard page
		unix.Munmap(mem)
		return nil, err
	}
	return &childSlot{
		mem:   mem,
		stack: mem[page : page+slotStackSize],
		c:     (*forkChild)(unsafe.Pointer(&mem[page+slotStackSize])),
	}, nil
}

// startChild is C's fork_child(&pidfd) and serve_child: it fills the slot's forkChild and
// clones; the child serves connFd and exits. It returns the child's pid and pidfd.
func startChild(slot *childSlot, srv *Server, connFd int) (pid, pidFd int, err error) {
	c := slot.c
	c.connFd, c.stopFd, c.outFd, c.errFd = connFd, srv.StopFd, srv.OutFd, srv.ErrFd
	c.pidFd = -1
	c.args = cloneArgs{
		flags:      unix.CLONE_PIDFD | unix.CLONE_CLEAR_SIGHAND,
		pidfd:      uint64(uintptr(unsafe.Pointer(&c.pidFd))),
		exitSignal: uint64(unix.SIGCHLD),
	}
	pid, errno := slot.clone()
	if errno != 0 {
		return -1, -1, errno
	}
	return pid, int(c.pidFd), nil
}

func serveFork(srv *Server) int {
	ch := &children{
		pfds: []unix.PollFd{
			{Fd: int32(srv.ListenFd), Events: unix.POLLIN},
			{Fd: int32(srv.StopFd), Events: unix.POLLIN},
		},
		pids:  []int{0, 0},
		slots: []*childSlot{nil, nil},
	}
	var acc acceptor
	acc.open(unix.SOCK_CLOEXEC)
	var slice timeSlice
	status := 0
	// A connection takes a descriptor until its child is forked, and the child's pidfd one
	// more: at the descriptor limit the fork can fail with EMFILE after the accept worked.
	// The connection is then held, accepting paused, and forked again once a child's exit
	// frees its pidfd (or the pause ends). The acceptor's episode: "fork error: Too many
	// open files" once, unless the accept's line began it.
	held := -1

	for {
		slice.yield() // Go only: see timeSlice

		// Paused at the descriptor limit: the listener's slot is ignored (a negative fd).
		ch.pfds[0].Fd = int32(srv.ListenFd)
		timeout := -1
		if acc.paused {
			ch.pfds[0].Fd, timeout = -1, acceptPauseMs
		}
		var nready int
		if err := ignoringEINTR(func() (err error) { nready, err = poll(ch.pfds, timeout); return err }); err != nil {
			logErrno(srv.ErrFd, "poll_listenfd", err)
			status = -1
			break
		}
		if ch.pfds[1].Revents != 0 {
			break
		}
		// A pidfd turns readable when its process exits: reap it now, no zombie stays.
		for i := len(ch.pfds) - 1; i >= 2; i-- {
			if ch.pfds[i].Revents != 0 {
				ch.reap(i)
				acc.paused = false // its pidfd is free for the next connection
			}
		}
		if nready == 0 {
			slice.rested()     // Go only: see timeSlice
			acc.paused = false // the pause is over
		}
		connFd, exhausted := held, acc.exhausted
		if held >= 0 {
			if acc.paused {
				continue
			}
			held = -1
		} else {
			if ch.pfds[0].Revents == 0 {
				continue
			}
			var peer unix.SockaddrInet4
			if connFd, peer = acceptConn(srv, &acc); connFd < 0 {
				continue
			}
			logNewConn(srv.OutFd, peer, true)
		}

		slot, err := ch.slot()
		if err == nil {
			var pid, pidFd int
			if pid, pidFd, err = startChild(slot, srv, connFd); err == nil {
				raw.Close(connFd) // the child has its own copy
				ch.pfds = append(ch.pfds, unix.PollFd{Fd: int32(pidFd), Events: unix.POLLIN})
				ch.pids = append(ch.pids, pid)
				ch.slots = append(ch.slots, slot)
				continue
			}
			ch.spare = append(ch.spare, slot)
		}
		if err == unix.EMFILE || err == unix.ENFILE {
			if !exhausted && !acc.exhausted {
				logErrno(srv.ErrFd, "fork", err)
			}
			acc.exhausted = true
			held = connFd
			acc.paused = true
			continue
		}
		logErrno(srv.ErrFd, "fork", err)
		unix.Close(connFd)
	}

	if held >= 0 {
		unix.Close(held)
	}
	// The stop eventfd is shared with the children: each leaves its wait and exits.
	for len(ch.pfds) > 2 {
		ch.reap(len(ch.pfds) - 1)
	}
	for _, s := range ch.spare { // no child runs in any slot now
		unix.Munmap(s.mem)
	}
	return status
}
