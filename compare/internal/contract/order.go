//go:build linux

package contract

// order.go - the order of service, compared as it is, never sorted.
//
// When several connections are ready at the same wake-up, each model serves them in an
// order of its own: epoll in the order they became ready (its ready list is first in,
// first out), select by ascending descriptor number, poll by its array (a served slot
// takes the last one's place), nonblock in accept order, sigio in the order of its signal
// queue, uring in the order of its completions. C and Go must agree, and no log is sorted
// to hide a difference. To make "ready at the same wake-up" certain rather than likely,
// the scenario holds the server while the clients speak: its stdout pipe is held
// (logpipe.Pipe.Hold: the pipe's reader stops and the pipe is filled to the brim), in
// process and standalone alike, and a new connection h makes the server log "new conn",
// which cannot proceed. In process the server's stdout is a blocking pipe, and a thread
// of the server is seen blocked in write(2) on it (/proc/PID/task/TID/syscall); the
// standalone server writes through a non-blocking description of its own and, at EAGAIN,
// waits in poll(2) for room on descriptor 1 beside its stop eventfd (CONTRACT.md
// § Faults), and a thread of it is seen in that poll (procfs.InLogWait). Either way the
// server certainly stands still in the middle of accepting h while the clients send
// (holdServer says why not SIGSTOP).
//
// Each client's bytes are sent only once the previous client's are acknowledged by the
// server's kernel (the client's send queue, SIOCOUTQ, is empty), so they are in the
// server's sockets in the order of the script whatever the scheduling. Then the server is
// released. The one-shot models' order of service is the order of their recv_msg lines;
// the stream model logs no echo, so its order is read from the kernel's receive
// timestamps of each client's first reply segment (SO_TIMESTAMPNS): its one thread sends
// the replies one after the other, so their timestamps are strictly ordered.

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/internal/logpipe"
	"github.com/iomodels/iomodels/internal/procfs"
	"golang.org/x/sys/unix"
)

// stdoutHolder is an in-process server whose stdout pipe a test can hold.
type stdoutHolder interface {
	StdoutPipe() *logpipe.Pipe
}

// serveThread is an in-process server that tells which thread serves.
type serveThread interface {
	ServeTid() int
}

// inProcessAs finds the in-process server behind the target as a T.
func inProcessAs[T any](tg engine.Target) (T, bool) {
	var zero T
	ip, ok := tg.(InProcess)
	if !ok {
		return zero, false
	}
	v, ok := ip.Server.(T)
	return v, ok
}

// Hold is the state of a hold across the steps of one run: each run builds its steps
// afresh, so a hold belongs to one run.
type Hold struct {
	release func()
	pid, fd int // where the server waits: on its stdout, descriptor fd of process pid
}

// holdServer holds the server's stdout pipe (logpipe.Pipe.Hold), in process and
// standalone alike, so that the server's next stdout line blocks it; awaitHeld waits for
// that. The server must be idle (its last line awaited) when the hold begins.
//
// Why not SIGSTOP for the standalone server: it stops the server wherever it is, and
// where it is matters. Measured with SIGSTOP after the last "new conn" line: the C
// reference disagreed with itself for nonblock (stopped in the middle of a round of
// recvs, or in its sleep), uring (stopped before submitting the last connection's RECV)
// and sigio (stopped before arming the last connection for signals). A blocked log write
// stops it at one known point: in the middle of accepting h.
func HoldServer(h *Hold) engine.Step {
	return engine.Step{Desc: "hold the server's stdout", Do: func(r *engine.Run) error {
		var p *logpipe.Pipe
		if sh, ok := r.Target().(stdoutHolder); ok { // standalone: the server's descriptor 1
			p, h.fd = sh.StdoutPipe(), 1
		} else if sh, ok := inProcessAs[stdoutHolder](r.Target()); ok {
			p = sh.StdoutPipe()
			h.fd = p.W
		} else {
			return errors.New("target has no stdout pipe to hold")
		}
		pid, err := r.ServerPid()
		if err != nil {
			return err
		}
		release, err := p.Hold()
		if err != nil {
			return err
		}
		h.release, h.pid = release, pid
		return nil
	}}
}

// awaitHeld waits until a thread of the server waits for room on its held stdout: blocked
// in write(2) on it (a blocking description: in process), or in poll(2) for POLLOUT on it
// (the standalone server's non-blocking description of its own).
func AwaitHeld(h *Hold) engine.Step {
	return engine.Step{Desc: "await the server blocked on its held stdout", Do: func(r *engine.Run) error {
		if h.release == nil {
			return errors.New("the server is not held")
		}
		return r.WaitFor("a thread waiting for room on the server's stdout (write(2) or poll(2))", func() bool {
			return threadBlockedInWrite(h.pid, h.fd) || procfs.InLogWait(h.pid, h.fd)
		})
	}}
}

// threadBlockedInWrite: some thread of pid sleeps in write(2) on fd.
// /proc/PID/task/TID/syscall shows a blocked thread's system call number and arguments
// ("1 0x7 ..." for write on descriptor 7), "running" for a running one.
func threadBlockedInWrite(pid, fd int) bool {
	return procfs.InSyscall(pid, unix.SYS_WRITE, fmt.Sprintf("0x%x", fd))
}

// releaseServer lets a held server go on: SIGCONT, or the stdout pipe drains again.
func ReleaseServer(h *Hold) engine.Step {
	return engine.Step{Desc: "release the server", Do: func(r *engine.Run) error {
		if h.release == nil {
			return errors.New("the server is not held")
		}
		h.release()
		h.release = nil
		return nil
	}}
}

// sendAcked writes p in one write and waits until the server's kernel has acknowledged
// every byte (the client's send queue is empty): the bytes are then in the server's
// socket, whatever the scheduling, before the next step.
func SendAcked(name string, p []byte) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("send %d bytes on %s, acknowledged", len(p), name), Do: func(r *engine.Run) error {
		if err := engine.Send(name, p).Do(r); err != nil {
			return err
		}
		c, err := r.Conn(name)
		if err != nil {
			return err
		}
		var ioctlErr error
		if err := r.WaitFor("the server's acknowledgement of "+name+"'s bytes", func() bool {
			var n int
			ioctlErr = engine.Control(c.Sock(), func(fd int) (err error) { n, err = unix.IoctlGetInt(fd, unix.SIOCOUTQ); return err })
			return ioctlErr != nil || n == 0
		}); err != nil {
			return err
		}
		return os.NewSyscallError("ioctl SIOCOUTQ", ioctlErr)
	}}
}

// rxTimestampsOn keeps the kernel's receive timestamping on for the whole test binary:
// the kernel turns it on for the first socket that asks (SO_TIMESTAMPNS) through deferred
// work, and off again when the last such socket closes, so a socket made just before its
// replies arrive may find their segments unstamped. A socket that holds the option from
// the start keeps it on; it is opened before TestMain, so every descriptor baseline has it.
var rxTimestampsOn = func() int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}
	return fd
}()

// timestamps asks the kernel to timestamp what each connection receives (SO_TIMESTAMPNS),
// before anything arrives.
func timestamps(names ...string) engine.Step {
	return engine.Step{Desc: "timestamp what " + strings.Join(names, ", ") + " receive", Do: func(r *engine.Run) error {
		for _, name := range names {
			c, err := r.Conn(name)
			if err != nil {
				return err
			}
			if err := engine.Control(c.Sock(), func(fd int) error {
				return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
			}); err != nil {
				return os.NewSyscallError("setsockopt SO_TIMESTAMPNS", err)
			}
		}
		return nil
	}}
}

// noteServiceOrder reads the first byte each quiet connection received, with its receive
// timestamp, and notes the connections in the order the server answered them: "order of
// service: c1 c3 c2". The byte is kept in the connection's data; a reader started later
// reads the rest.
func noteServiceOrder(names ...string) engine.Step {
	return engine.Step{Desc: "note the order of service of " + strings.Join(names, ", "), Do: func(r *engine.Run) error {
		type answer struct {
			name string
			at   int64
		}
		var answers []answer
		for _, name := range names {
			c, err := r.Conn(name)
			if err != nil {
				return err
			}
			if c.Reading() {
				return fmt.Errorf("%s is read already: its first byte's timestamp is gone", name)
			}
			var at int64
			got := false
			var rerr error
			if err := r.WaitFor("a reply on "+name, func() bool {
				engine.Control(c.Sock(), func(fd int) error {
					at, got, rerr = recvFirstByte(fd, c)
					return nil
				})
				return got || rerr != nil
			}); err != nil {
				return err
			}
			if rerr != nil {
				return fmt.Errorf("%s: %w", name, rerr)
			}
			answers = append(answers, answer{name, at})
		}
		sort.SliceStable(answers, func(i, j int) bool { return answers[i].at < answers[j].at })
		order := make([]string, len(answers))
		for i, a := range answers {
			order[i] = a.name
		}
		r.Note("order of service: %s", strings.Join(order, " "))
		return nil
	}}
}

// recvFirstByte reads one byte from the non-blocking socket fd with its receive timestamp
// and appends it to c's data; got is false while nothing has arrived.
func recvFirstByte(fd int, c *engine.Conn) (at int64, got bool, err error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(16))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_DONTWAIT)
	if err == unix.EAGAIN || err == unix.EINTR {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, os.NewSyscallError("recvmsg", err)
	}
	if n == 0 {
		return 0, false, errors.New("end of stream before any reply")
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return 0, false, err
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			at = ts.Nano()
		}
	}
	if at == 0 {
		return 0, false, errors.New("no receive timestamp (SO_TIMESTAMPNS) on the reply")
	}
	c.Received(buf[:n])
	return at, true, nil
}

// orderNames are the held scenario's connections, and the order in which they send: not
// the order of connection, so that arrival order and descriptor order differ.
var (
	orderNames = []string{"c1", "c2", "c3", "c4", "c5"}
	orderSends = []int{2, 0, 4, 1, 3} // c3 c1 c5 c2 c4
)

// wantOrder is the order each model serves the held connections in, as the C reference
// does it (CONTRACT.md § Parity, order of service). In process and standalone alike, the
// connection h that made the hold is accepted before the others are served.
var wantOrder = map[string]string{
	"epoll-lt": "c3 c1 c5 c2 c4", // the ready list: order of arrival
	"epoll-et": "c3 c1 c5 c2 c4",
	"sigio":    "c3 c1 c5 c2 c4", // the real-time signal queue
	"uring":    "c3 c1 c5 c2 c4", // the completion queue
	"select":   "c1 c2 c3 c4 c5", // ascending descriptor number
	"nonblock": "c1 c2 c3 c4 c5", // accept order
	"poll":     "c1 c2 c5 c4 c3", // the array; a served slot takes the last one's place
}

// orderHeld: five connections accepted and silent; the server is held (a sixth, h,
// connects and blocks it in its "new conn" line in process); the five send in the order
// c3 c1 c5 c2 c4, each acknowledged before the next; the server is released and serves
// all five from one wake-up. The order of service is noted from the replies' timestamps
// and, for the one-shot models, is the order of the recv_msg lines.
func orderHeld() engine.Scenario {
	msgs := make([][]byte, len(orderNames))
	for i, name := range orderNames {
		msgs[i] = []byte("order " + name + " " + strconv.Itoa(i))
	}
	return engine.Scenario{
		Name:   "order-held-5",
		Models: Multiplexing,
		Steps: func(model string) []engine.Step {
			h := &Hold{}
			s := engine.Seq(engine.ConnectHigh(orderNames...), timestamps(orderNames...), engine.AwaitStdoutLines(len(orderNames)),
				HoldServer(h), engine.ConnectHigh("h"), AwaitHeld(h))
			for _, i := range orderSends {
				s = append(s, SendAcked(orderNames[i], msgs[i]))
			}
			s = append(s, ReleaseServer(h))
			if StreamModel(model) {
				// The echo is not logged: the replies' timestamps show the order. (Not for
				// uring, whose sends the kernel may carry out in another order than it
				// was asked: its order of service is its recv completions', in the log.)
				s = append(s, noteServiceOrder(orderNames...))
			}
			for _, name := range orderNames {
				if StreamModel(model) {
					s = append(s, engine.HalfClose(name))
				}
				s = append(s, engine.AwaitEnd(name))
			}
			return s
		},
		Expect: func(model string, tr *engine.Transcript) error {
			var es []Expectation
			for i, name := range orderNames {
				es = append(es, WantEcho(name, msgs[i]))
			}
			want, ok := wantOrder[model]
			if !ok {
				return fmt.Errorf("no order of service stated for %s", model)
			}
			if StreamModel(model) {
				es = append(es, WantNote("order of service: "+want))
			}
			es = append(es, func(model string, tr *engine.Transcript) error {
				if StreamModel(model) {
					return nil
				}
				var got []string
				for _, line := range strings.Split(tr.Stdout, "\n") {
					if m, ok := strings.CutPrefix(line, "recv_msg: order "); ok && len(m) >= 2 {
						got = append(got, m[:2])
					}
				}
				if strings.Join(got, " ") != want {
					return fmt.Errorf("recv_msg lines in the order %q, want %q", got, want)
				}
				return nil
			})
			return Expects(es...)(model, tr)
		},
	}
}

// concurrentHeld is concurrent's script for the Multiplexing models, with the order of
// service fixed: every connection is accepted first (their lines in connection order),
// the server is held while each sends and half-closes (acknowledged in turn), and serves
// them all from one wake-up once released. Nothing is sorted.
func concurrentHeld(names []string, msgs [][]byte) []engine.Step {
	h := &Hold{}
	s := engine.Seq(engine.ConnectHigh(names...), engine.AwaitStdoutLines(len(names)), HoldServer(h), engine.ConnectHigh("h"), AwaitHeld(h))
	for i, name := range names {
		s = append(s, SendAcked(name, msgs[i]), engine.HalfClose(name))
	}
	return append(append(s, ReleaseServer(h)), Each(names, engine.AwaitEnd)...)
}
