//go:build linux

package gosrv

// uring_ring.go - the smallest io_uring a server needs, on the raw system calls
// io_uring_setup(2) (425) and io_uring_enter(2) (426); x/sys/unix wraps neither and has
// none of the structures, so they are defined here from include/uapi/linux/io_uring.h.
// C twin: csrc/uring_ring.{c,h}.
//
// An io_uring is two ring buffers shared between the process and the kernel, in memory
// the process maps from the ring's descriptor:
//   - the submission queue (SQ): the process writes requests (SQEs, 64 bytes each) into
//     the SQE array and advances the SQ tail; the kernel consumes them at the SQ head;
//   - the completion queue (CQ): the kernel writes results (CQEs, 16 bytes) and advances
//     the CQ tail; the process reads them at the CQ head.
// Each side writes only one index of each ring, so no lock is needed, only memory
// ordering. Go's sync/atomic operations are sequentially consistent, which includes what
// the C twin asks for with __atomic acquire/release:
//   - SQ tail (ours): stored atomically after the SQE is filled, so the kernel, which
//     loads it with acquire, sees the SQE contents (release);
//   - SQ head (the kernel's): loaded atomically, so a slot is reused only after the
//     kernel has finished reading it (acquire);
//   - CQ tail (the kernel's, stored with release): loaded atomically, so the CQE read
//     next is the one the kernel wrote (acquire);
//   - CQ head (ours): stored atomically after the CQE is copied out, so the kernel
//     reuses the slot only after our reads (release).
//
// Memory the kernel writes later (a recv buffer, accept's sockaddr) must not be on Go's
// heap: the garbage collector may move or free it between submission and completion.
// The ring itself is mmapped, and the server keeps its buffers in mmapped memory too.

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Opcodes (enum io_uring_op) and flags used by the uring model.
const (
	ioringOpPollAdd     = 6
	ioringOpTimeout     = 11
	ioringOpAccept      = 13
	ioringOpAsyncCancel = 14
	ioringOpClose       = 19
	ioringOpSend        = 26
	ioringOpRecv        = 27
	ioringOpShutdown    = 34

	ioringAsyncCancelAll = 1 << 0 // cancel every request that matches, not only the first
	ioringAsyncCancelAny = 1 << 2 // match any request, whatever its user_data

	ioringEnterGetevents = 1 << 0 // io_uring_enter waits for min_complete completions

	// mmap offsets of the three regions of a ring descriptor.
	ioringOffSqRing = 0
	ioringOffCqRing = 0x8000000
	ioringOffSqes   = 0x10000000
)

// ioSqringOffsets and ioCqringOffsets say where each field lies in the mapped rings.
type ioSqringOffsets struct {
	Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1 uint32
	UserAddr                                                        uint64
}

type ioCqringOffsets struct {
	Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1 uint32
	UserAddr                                                        uint64
}

// ioUringParams is struct io_uring_params: io_uring_setup fills in the sizes and offsets.
type ioUringParams struct {
	SqEntries, CqEntries, Flags, SqThreadCPU, SqThreadIdle, Features, WqFd uint32
	Resv                                                                   [3]uint32
	SqOff                                                                  ioSqringOffsets
	CqOff                                                                  ioCqringOffsets
}

// ioUringSqe is struct io_uring_sqe (64 bytes), with the union members the model uses:
// Off is also addr2 (accept's addrlen pointer), OpFlags is msg_flags, accept_flags,
// poll32_events or cancel_flags depending on the opcode.
type ioUringSqe struct {
	Opcode      uint8
	Flags       uint8
	Ioprio      uint16
	Fd          int32
	Off         uint64
	Addr        uint64
	Len         uint32
	OpFlags     uint32
	UserData    uint64
	BufIndex    uint16
	Personality uint16
	SpliceFdIn  int32
	Addr3       uint64
	_           uint64
}

// ioUringCqe is struct io_uring_cqe: the request's user_data and its result (a count,
// a descriptor, or -errno).
type ioUringCqe struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// ring is one io_uring: its descriptor, the three mappings, and pointers into them.
type ring struct {
	fd                     int
	sqMap, cqMap, sqesMap  []byte
	sqHead, sqTail, sqMask *uint32
	sqEntries              uint32
	sqLocalTail            uint32 // SQEs filled but not yet published to the kernel
	sqes                   []ioUringSqe
	cqHead, cqTail, cqMask *uint32
	cqes                   []ioUringCqe
}

// u32At points at the uint32 at offset off of a mapping.
func u32At(m []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&m[off])) }

// ringSetup creates a ring of at least entries SQEs and maps it. Its error is the
// system call's (ENOSYS or EPERM where io_uring is unavailable or disabled).
func ringSetup(r *ring, entries uint32) error {
	var p ioUringParams
	// The kernel sizes the rings (CQ twice the SQ) and says where each field lies.
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return errno
	}
	r.fd = int(fd)

	// The three regions, each at its fixed offset of the ring descriptor.
	mmap := func(off int64, size int) ([]byte, error) {
		return unix.Mmap(r.fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	}
	var err error
	if r.sqMap, err = mmap(ioringOffSqRing, int(p.SqOff.Array+p.SqEntries*4)); err == nil {
		if r.cqMap, err = mmap(ioringOffCqRing, int(p.CqOff.Cqes+p.CqEntries*uint32(unsafe.Sizeof(ioUringCqe{})))); err == nil {
			r.sqesMap, err = mmap(ioringOffSqes, int(p.SqEntries)*int(unsafe.Sizeof(ioUringSqe{})))
		}
	}
	if err != nil {
		for _, m := range [][]byte{r.sqMap, r.cqMap} {
			if m != nil {
				unix.Munmap(m)
			}
		}
		unix.Close(r.fd)
		return err
	}
	r.sqHead, r.sqTail, r.sqMask = u32At(r.sqMap, p.SqOff.Head), u32At(r.sqMap, p.SqOff.Tail), u32At(r.sqMap, p.SqOff.RingMask)
	r.sqEntries = p.SqEntries
	r.sqes = unsafe.Slice((*ioUringSqe)(unsafe.Pointer(&r.sqesMap[0])), p.SqEntries)
	r.cqHead, r.cqTail, r.cqMask = u32At(r.cqMap, p.CqOff.Head), u32At(r.cqMap, p.CqOff.Tail), u32At(r.cqMap, p.CqOff.RingMask)
	r.cqes = unsafe.Slice((*ioUringCqe)(unsafe.Pointer(&r.cqMap[p.CqOff.Cqes])), p.CqEntries)
	// The SQ ring holds indices into the SQE array, not SQEs: slot i always names SQE i
	// here, so the array is filled once and the tail alone says what is new.
	array := unsafe.Slice(u32At(r.sqMap, p.SqOff.Array), p.SqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqLocalTail = atomic.LoadUint32(r.sqTail)
	return nil
}

// getSqe returns a zeroed SQE to fill, or nil when the SQ is full (submit first).
func (r *ring) getSqe() *ioUringSqe {
	if r.sqLocalTail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		return nil
	}
	sqe := &r.sqes[r.sqLocalTail&*r.sqMask]
	r.sqLocalTail++
	*sqe = ioUringSqe{}
	return sqe
}

// submitAndWait publishes the filled SQEs and waits for at least waitNr completions.
func (r *ring) submitAndWait(waitNr uint32) error {
	atomic.StoreUint32(r.sqTail, r.sqLocalTail)
	flags := uintptr(0)
	if waitNr > 0 {
		flags = ioringEnterGetevents
	}
	// A signal may interrupt the wait (in Go, often the scheduler's preemption signal)
	// after the SQEs were consumed: the retry submits what the kernel has not consumed
	// yet (possibly nothing) and waits again.
	return ignoringEINTR(func() error {
		toSubmit := r.sqLocalTail - atomic.LoadUint32(r.sqHead)
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(waitNr), flags, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
}

// peekCqe returns the oldest unseen completion, or nil.
func (r *ring) peekCqe() *ioUringCqe {
	head := *r.cqHead
	if head == atomic.LoadUint32(r.cqTail) {
		return nil
	}
	return &r.cqes[head&*r.cqMask]
}

// cqeSeen hands the oldest completion's slot back to the kernel.
func (r *ring) cqeSeen() { atomic.StoreUint32(r.cqHead, *r.cqHead+1) }

// close unmaps and closes. Only once no request is in flight: the kernel may still write.
func (r *ring) close() {
	unix.Munmap(r.sqesMap)
	unix.Munmap(r.cqMap)
	unix.Munmap(r.sqMap)
	unix.Close(r.fd)
}

// UringUnavailable says why io_uring cannot be used in this process ("" when it can): the
// kernel may be too old (ENOSYS) or forbid it (EPERM: sysctl kernel.io_uring_disabled,
// seccomp). The uring model then logs the same reason and returns -1; tests skip with it.
func UringUnavailable() string {
	var r ring
	if err := ringSetup(&r, 4); err != nil {
		return "io_uring_setup error: " + Strerror(err)
	}
	r.close()
	return ""
}
