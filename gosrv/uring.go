//go:build linux

package gosrv

// uring.go - asynchronous I/O with io_uring (seed: 异步IO).
//
// The epoll models ask the kernel "which descriptor is ready?" and then make the call
// themselves; here the server hands the kernel the calls themselves (accept, recv, send,
// shutdown, close) as requests in a shared ring, and later reads their results from a
// second ring: completions, not readiness. Both phases of I/O, waiting and copying, are the
// kernel's: when a recv completes, the bytes are already in the connection's buffer. The
// buffer must therefore stay put and untouched from submission to completion, so each
// connection owns a slot with its own buffer, and each connection has exactly one request
// in flight at any time, its next step: RECV -> SEND -> SHUTDOWN -> CLOSE. The slot's index
// travels in the request's user_data and comes back in the completion. One ACCEPT is in
// flight while a slot is free; with every slot busy, new connections wait in the listen
// backlog, and so they do at the descriptor limit (an ACCEPT that completes with -EMFILE):
// the next ACCEPT waits for a connection to close, or for a TIMEOUT request of
// acceptPauseMs. At a stop every
// request still in flight is cancelled, and the buffers are unmapped only after the last
// completion (stop). Where io_uring is missing or disabled (ENOSYS, EPERM), serveUring logs
// and returns -1. Go only: the buffers and accept's sockaddr live in mmapped memory,
// outside Go's heap, which the garbage collector could move or free behind the kernel's
// back; slice.yield is the scheduler's time slice (timeSlice in common.go). C twin:
// csrc/uring.c; the ring itself is in uring_ring.go.

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// While serving, at most uringSlots + 2 requests are in flight (one per connection, the
// ACCEPT, the stop's POLL_ADD), under the CQ's 512 entries. Only cancelEach's worst case
// (a cancel per request) could exceed it, and then the kernel (IORING_FEAT_NODROP, 5.5)
// keeps the extra completions aside and posts them as the CQ drains: none is lost.
const (
	uringEntries = 256 // SQ size; the kernel makes the CQ twice as large
	uringSlots   = 256 // connections in flight at once
)

// What a completion is for: user_data = op | slot << 8.
const (
	opStop = 1 + iota
	opCancel
	opCancelOne
	opAccept
	opRecv
	opSend
	opShutdown
	opClose
	opPause
)

type uconn struct {
	fd  int // -1: the slot is free
	op  int // the request in flight
	len int
	buf []byte // BufSize bytes of the mmapped region
}

// The mmapped region's layout: accept's sockaddr and socklen_t, the pause's timespec,
// then the buffers.
const (
	memPeerAddr = 0
	memPeerLen  = unsafe.Sizeof(unix.RawSockaddrInet4{})
	memPause    = 32
	memBufs     = 64
)

type userver struct {
	srv       *Server
	acc       acceptor
	ring      ring
	mem       []byte // mmapped: what the kernel writes into
	conns     []uconn
	inflight  int  // requests submitted whose completion has not been read
	accepting bool // an ACCEPT is in flight
	pausing   bool // the pause's TIMEOUT is in flight
	stopping  bool
}

// addr is the address the kernel gets for b, which lies in mmapped memory.
func addr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

// step: submit a request
// getSqe returns a free SQE for opcode, submitting what is queued first if the SQ is full.
func (us *userver) getSqe(opcode uint8, op, slot int) *ioUringSqe {
	sqe := us.ring.getSqe()
	for sqe == nil {
		us.ring.submitAndWait(0)
		sqe = us.ring.getSqe()
	}
	sqe.Opcode = opcode
	sqe.UserData = uint64(op) | uint64(slot)<<8
	us.inflight++
	return sqe
}

// submitAccept is accept4(listenfd, &peeraddr, &peerlen, SOCK_CLOEXEC), as a request. One
// ACCEPT is in flight while a slot is free; with every slot busy, new connections wait in
// the listen backlog.
func (us *userver) submitAccept() {
	peerLen := us.mem[memPeerLen : memPeerLen+4]
	*(*uint32)(unsafe.Pointer(&peerLen[0])) = uint32(unsafe.Sizeof(unix.RawSockaddrInet4{}))
	sqe := us.getSqe(ioringOpAccept, opAccept, 0)
	sqe.Fd = int32(us.srv.ListenFd)
	sqe.Addr = addr(us.mem[memPeerAddr:])
	sqe.Off = addr(peerLen) // addr2: the socklen_t
	sqe.OpFlags = unix.SOCK_CLOEXEC
	us.accepting = true
}

// submitConn submits the next step of connection slot: one request, whose completion
// comes to step.
func (us *userver) submitConn(op, slot int) {
	c := &us.conns[slot]
	var sqe *ioUringSqe
	c.op = op
	switch op {
	case opRecv:
		sqe = us.getSqe(ioringOpRecv, op, slot)
		sqe.Addr = addr(c.buf)
		sqe.Len = BufSize
	case opSend:
		sqe = us.getSqe(ioringOpSend, op, slot)
		sqe.Addr = addr(c.buf)
		sqe.Len = uint32(c.len)
		sqe.OpFlags = unix.MSG_NOSIGNAL // a reset peer gives -EPIPE, not SIGPIPE
	case opShutdown:
		sqe = us.getSqe(ioringOpShutdown, op, slot)
		sqe.Len = unix.SHUT_WR // shutdown's "how" travels in len
	default:
		sqe = us.getSqe(ioringOpClose, opClose, slot)
	}
	sqe.Fd = int32(c.fd)
}

func (us *userver) freeSlot() int {
	for i := range us.conns {
		if us.conns[i].fd < 0 {
			return i
		}
	}
	return -1
}

// step: a connection's next request
// step handles a connection's completed request (res): it submits the next one.
func (us *userver) step(op, slot int, res int32) {
	c := &us.conns[slot]
	if us.stopping {
		// Cancelled or not, this connection ends here, without a further request.
		if op != opClose || res == -int32(unix.ECANCELED) {
			unix.Close(c.fd)
		}
		c.fd = -1
		return
	}
	switch op {
	case opRecv:
		if res < 0 {
			logErrno(us.srv.ErrFd, "recv_connfd", unix.Errno(-res))
			us.submitConn(opClose, slot)
			return
		}
		c.len = int(res)
		LogMsg(us.srv.OutFd, "recv_msg: ", c.buf[:res])
		us.submitConn(opSend, slot)
	case opSend:
		if res < 0 {
			logErrno(us.srv.ErrFd, "send_connfd", unix.Errno(-res))
			us.submitConn(opClose, slot)
			return
		}
		us.submitConn(opShutdown, slot)
	case opShutdown:
		// Not logged, as in echoOnce: the close that follows ends the connection.
		us.submitConn(opClose, slot)
	case opClose:
		c.fd = -1
		// Every slot was busy, or the descriptor limit bound: accepting resumes.
		us.acc.paused = false
		if !us.accepting {
			us.submitAccept()
		}
	}
}

// step: accept
func (us *userver) accepted(res int32) {
	us.accepting = false
	if us.stopping {
		if res >= 0 {
			unix.Close(int(res))
		}
		return
	}
	// acceptConn's handling of what accept4 returned (no ACCEPT is in flight now).
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&us.mem[memPeerAddr]))
	port := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order
	peer := unix.SockaddrInet4{Addr: sa.Addr, Port: int(port[0])<<8 | int(port[1])}
	connFd := acceptResult(us.srv, &us.acc, int(res))
	if connFd == acceptPaused {
		// A closing connection resumes accepting (step), or the end of this pause.
		if !us.pausing {
			pause := (*unix.Timespec)(unsafe.Pointer(&us.mem[memPause]))
			*pause = unix.Timespec{Nsec: acceptPauseMs * 1000000}
			sqe := us.getSqe(ioringOpTimeout, opPause, 0)
			sqe.Addr = addr(us.mem[memPause:])
			sqe.Len = 1 // one timespec; off 0: a pure timeout, no completion count
			us.pausing = true
		}
		return
	}
	if connFd < 0 {
		// EINVAL, EBADF: the listener no longer listens; only a stop can follow.
		if connFd != acceptFailed || (res != -int32(unix.EINVAL) && res != -int32(unix.EBADF)) {
			us.submitAccept()
		}
		return
	}
	logNewConn(us.srv.OutFd, peer, false)
	slot := us.freeSlot() // there is one: ACCEPT is in flight only then
	us.conns[slot].fd = connFd
	us.submitConn(opRecv, slot)
	if us.freeSlot() >= 0 {
		us.submitAccept()
	}
}

// paused: the pause's TIMEOUT completed (-ETIME), or was cancelled by a stop.
func (us *userver) paused() {
	us.pausing = false
	us.acc.paused = false
	if !us.stopping && !us.accepting && us.freeSlot() >= 0 {
		us.submitAccept()
	}
}

// step: the stop
// stop: the stop eventfd became readable (its POLL_ADD completed; it does not read the
// counter); cancel every request in flight, start none. The server then waits for all
// their completions before it unmaps the buffers and the ring: the kernel may write into
// them until it has completed.
func (us *userver) stop() {
	us.stopping = true
	sqe := us.getSqe(ioringOpAsyncCancel, opCancel, 0)
	// ANY: whatever its user_data; ALL: every match, not only the first.
	sqe.OpFlags = ioringAsyncCancelAny | ioringAsyncCancelAll
	sqe.Fd = -1
}

// cancelEach: before Linux 5.19 ASYNC_CANCEL knows no flags and fails with -EINVAL, so
// each request in flight is cancelled by its user_data (one that completed meanwhile
// gives -ENOENT).
func (us *userver) cancelEach() {
	if us.accepting {
		us.getSqe(ioringOpAsyncCancel, opCancelOne, 0).Addr = opAccept
	}
	if us.pausing {
		us.getSqe(ioringOpAsyncCancel, opCancelOne, 0).Addr = opPause
	}
	for i := range us.conns {
		if us.conns[i].fd >= 0 {
			us.getSqe(ioringOpAsyncCancel, opCancelOne, 0).Addr = uint64(us.conns[i].op) | uint64(i)<<8
		}
	}
}

func serveUring(srv *Server) int {
	// step: create the ring
	// Completions that need more work (a recv that waited for data) are finished by
	// task_work queued to the thread that submitted the request; with the goroutine
	// locked, that is the thread waiting in io_uring_enter, not one parked elsewhere.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	us := &userver{srv: srv}
	if err := ringSetup(&us.ring, uringEntries); err != nil {
		logErrno(srv.ErrFd, "io_uring_setup", err)
		return -1
	}
	// step: set up
	mem, err := unix.Mmap(-1, 0, memBufs+uringSlots*BufSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		// C's label (its malloc of the slots): a label is output, the same in both
		// (CONTRACT.md § Errors); an anonymous mmap fails with ENOMEM as malloc does.
		logErrno(srv.ErrFd, "malloc_conns", err)
		us.ring.close()
		return -1
	}
	us.mem = mem
	us.conns = make([]uconn, uringSlots)
	for i := range us.conns {
		off := memBufs + i*BufSize
		us.conns[i] = uconn{fd: -1, buf: mem[off : off+BufSize : off+BufSize]}
	}

	// step: submit the stop and the accept
	// A one-shot poll: it completes once, when the eventfd's counter is non-zero.
	sqe := us.getSqe(ioringOpPollAdd, opStop, 0)
	sqe.Fd = int32(srv.StopFd)
	sqe.OpFlags = unix.POLLIN
	us.acc.open(unix.SOCK_CLOEXEC)
	us.submitAccept()

	status := 0
	// step: wait
	var slice timeSlice
	for us.inflight > 0 {
		slice.yield() // Go only: see timeSlice
		if err := us.ring.submitAndWait(1); err != nil {
			logErrno(srv.ErrFd, "io_uring_enter", err)
			status = -1
			break
		}
		for cqe := us.ring.peekCqe(); cqe != nil; cqe = us.ring.peekCqe() {
			ud, res := cqe.UserData, cqe.Res
			us.ring.cqeSeen() // copied out: the kernel may reuse the slot
			us.inflight--
			op, slot := int(ud&0xff), int(ud>>8)
			switch op {
			case opStop:
				us.stop()
			case opAccept:
				us.accepted(res)
			case opPause:
				slice.rested() // Go only: see timeSlice
				us.paused()
			case opCancel:
				if res == -int32(unix.EINVAL) {
					us.cancelEach()
				}
			case opCancelOne:
			default:
				us.step(op, slot, res)
			}
		}
	}

	// step: clean up
	// Every request has completed: nothing writes the buffers now. If io_uring_enter
	// failed instead, closing the ring cancels what is left, but asynchronously, in a
	// kernel worker: the buffers are then left mapped (a leak, on a path that should
	// never run) rather than reused while a request might still write into them.
	us.ring.close()
	for i := range us.conns {
		if us.conns[i].fd >= 0 {
			unix.Close(us.conns[i].fd)
		}
	}
	if status == 0 {
		unix.Munmap(mem)
	}
	return status
}
