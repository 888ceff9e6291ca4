//go:build linux && amd64

// Package inject runs a program under a small ptrace tracer that makes the Nth call of
// one system call fail with a chosen errno, as `strace -f -e
// inject=SYSCALL:error=ERRNO:when=N` does, with one difference that matters here: strace
// counts the calls per tracee (per thread), this tracer counts them over the whole
// process tree. A Go program's goroutine moves between OS threads (measured: a gosrv
// epoll-lt loop made its accept4 and recvfrom calls from two threads within 40
// connections, even with GOMAXPROCS=1), and each new thread's "first accept4" would be
// injected again; counted over the tree, "the 2nd accept4" is the same event in C and Go.
//
// The fault is injected as strace does it: at the call's entry the system call number is
// replaced by -1 (the kernel runs nothing and answers ENOSYS), at its exit the result is
// replaced by -ERRNO. The call never happened: a connection stays in the backlog, bytes
// stay in the receive queue.
//
// x86_64 only (the registers); elsewhere the tests skip with that reason.
package inject

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"runtime"
	"slices"

	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"golang.org/x/sys/unix"
)

// Fault is SYSCALL:error=ERRNO:when=N. Nrs are the system call's numbers: more than one
// where C and Go make the same call under two names (epoll_wait and x/sys's epoll_pwait),
// counted together.
type Fault struct {
	Name  string // the system call's name, for messages
	Nrs   []uint64
	Errno syscall.Errno
	When  int // the Nth call, counted from 1 over every task of the traced process tree
	// Process: count only clone and clone3 calls that make a process (no CLONE_THREAD in
	// the flags): a C fork() and Go's fork are such a call, the threads of Go's runtime
	// and C's pthreads are not.
	Process bool
	// NonNullArg, if not 0, counts only calls whose argument of that number (from 1) is
	// not 0: rt_sigtimedwait with a timeout (3) is sigio's drain of stale signals, without
	// one its wait.
	NonNullArg int
	// NullArg, if not 0, counts only calls whose argument of that number (from 1) is 0:
	// rt_sigtimedwait without a timeout (3) is sigio's wait, not a drain.
	NullArg int
	// NotOnFds: calls whose first argument is one of these descriptors are not counted.
	// The Go runtime's poller waits in epoll_wait on its own epoll instance, fd 3 in both
	// servers by contract (csrc/common.c's open_runtime_fds; C never waits on it): the
	// model's waits are the ones counted.
	NotOnFds []uint64
}

func (f Fault) String() string {
	return fmt.Sprintf("%s:error=%s:when=%d", f.Name, unix.ErrnoName(f.Errno), f.When)
}

// Process is a traced server.
type Process struct {
	Pid  int
	Port int

	mu       sync.Mutex
	stdout   []byte
	stderr   []byte
	injected int           // how many calls were made to fail (0 or 1)
	status   string        // how the main process ended: "exited N" or "killed by SIGX"
	done     chan struct{} // closed when the tracer's loop ends: every traced task is gone
	err      error
	readers  sync.WaitGroup // the stdout and stderr copies: done at the pipes' end
}

// Start starts path with args under the tracer, with extra descriptors from 3 up, and
// waits until its first stderr line says "listening on" (or it exits, or timeout passes).
func Start(path string, extra []*os.File, fault Fault, timeout time.Duration, args ...string) (*Process, error) {
	p := &Process{done: make(chan struct{})}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	started := make(chan error, 1)
	go p.trace(path, args, extra, outW, errW, fault, started)
	if err := <-started; err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	p.readers.Add(2)
	go func() { defer p.readers.Done(); p.copy(outR, &p.stdout, nil) }()
	ready := make(chan int, 1)
	go func() { defer p.readers.Done(); p.copy(errR, &p.stderr, ready) }()
	select {
	case port := <-ready:
		if port < 0 {
			p.Kill()
			return nil, fmt.Errorf("%s %v under %v did not start: %q", path, args, fault, p.Stderr())
		}
		p.Port = port
		return p, nil
	case <-time.After(timeout):
		p.Kill()
		return nil, fmt.Errorf("%s %v under %v: no \"listening on\" line within %v", path, args, fault, timeout)
	}
}

// copy appends what r delivers to *dst; the first line goes to ready as the port (-1 if
// it is not a "listening on" line).
func (p *Process) copy(r *os.File, dst *[]byte, ready chan<- int) {
	defer r.Close()
	br := bufio.NewReader(r)
	first := ready != nil
	for {
		line, err := br.ReadString('\n')
		p.mu.Lock()
		*dst = append(*dst, line...)
		p.mu.Unlock()
		if first && (line != "" || err != nil) {
			first = false
			port, ok := standalone.ParseListening(line)
			if !ok || !strings.HasSuffix(line, "\n") {
				port = -1
			}
			ready <- port
		}
		if err != nil {
			return
		}
	}
}

// trace is the tracer: every ptrace request must come from the thread that started the
// tracee, so it runs on one locked thread from start to end.
func (p *Process) trace(path string, args []string, extra []*os.File, outW, errW *os.File, fault Fault, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(p.done)

	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL}
	err := cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		started <- err
		p.err = err
		return
	}
	pid := cmd.Process.Pid
	p.Pid = pid
	cmd.Process.Release()
	// The tracee stops with SIGTRAP after its execve.
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		unix.Kill(pid, unix.SIGKILL)
		started <- fmt.Errorf("tracee %d did not stop after exec: %v (%v)", pid, err, ws)
		p.err = err
		return
	}
	const opts = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEFORK |
		unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL
	if err := unix.PtraceSetOptions(pid, opts); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		started <- fmt.Errorf("PTRACE_SETOPTIONS: %w", err)
		p.err = err
		return
	}
	started <- nil
	p.status = standalone.WaitStatus(syscall.WaitStatus(p.loop(pid, fault)))
}

// loop follows every task until the last one is gone and returns the main process's wait
// status.
func (p *Process) loop(pid int, fault Fault) unix.WaitStatus {
	type task struct {
		inSyscall bool
		inject    bool
	}
	tasks := map[int]*task{pid: {}}
	count := 0
	var status unix.WaitStatus
	resume := func(tid int, sig unix.Signal) {
		// ESRCH: the task was killed meanwhile; its exit is reported by wait.
		unix.PtraceSyscall(tid, int(sig))
	}
	resume(pid, 0)
	for len(tasks) > 0 {
		var ws unix.WaitStatus
		// __WNOTHREAD: only this thread's tracees and children, never another test's.
		tid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOTHREAD, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break // ECHILD: nothing is left
		}
		t := tasks[tid]
		switch {
		case ws.Exited() || ws.Signaled():
			if tid == pid {
				status = ws
			}
			delete(tasks, tid)
			continue
		case !ws.Stopped():
			continue
		}
		if t == nil {
			// A new task (thread or child process) is attached with a SIGSTOP.
			t = &task{}
			tasks[tid] = t
			if ws.StopSignal() == unix.SIGSTOP {
				resume(tid, 0)
				continue
			}
		}
		sig := ws.StopSignal()
		switch {
		case sig == unix.SIGTRAP|0x80: // a system call's entry or exit
			var regs unix.PtraceRegs
			if err := unix.PtraceGetRegs(tid, &regs); err != nil {
				resume(tid, 0)
				continue
			}
			if !t.inSyscall {
				t.inSyscall = true
				if slices.Contains(fault.Nrs, regs.Orig_rax) && !(fault.Process && makesThread(tid, &regs)) &&
					argOK(fault, &regs) && !slices.Contains(fault.NotOnFds, regs.Rdi) {
					count++
					if count == fault.When {
						regs.Orig_rax = ^uint64(0)
						if unix.PtraceSetRegs(tid, &regs) == nil {
							t.inject = true
						}
					}
				}
			} else {
				t.inSyscall = false
				if t.inject {
					t.inject = false
					regs.Rax = uint64(-int64(fault.Errno))
					if unix.PtraceSetRegs(tid, &regs) == nil {
						p.mu.Lock()
						p.injected++
						p.mu.Unlock()
					}
				}
			}
			resume(tid, 0)
		case sig == unix.SIGTRAP && ws.TrapCause() > 0: // clone, fork, vfork, exec events
			if ws.TrapCause() == unix.PTRACE_EVENT_EXEC {
				// execve replaced the process image; its exit stop follows.
				t.inSyscall = true
			}
			resume(tid, 0)
		default:
			// A signal for the task: deliver it.
			resume(tid, sig)
		}
	}
	return status
}

// argOK: the call's argument NonNullArg is not 0, and its argument NullArg is (x86-64:
// rdi, rsi, rdx, r10, r8, r9).
func argOK(f Fault, regs *unix.PtraceRegs) bool {
	args := [...]uint64{regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9}
	nonNull := f.NonNullArg == 0 || (f.NonNullArg <= len(args) && args[f.NonNullArg-1] != 0)
	null := f.NullArg == 0 || (f.NullArg <= len(args) && args[f.NullArg-1] == 0)
	return nonNull && null
}

// makesThread: the clone or clone3 call at its entry stop creates a thread (CLONE_THREAD).
// clone takes the flags in its first argument, clone3 in the first field of the struct
// clone_args its first argument points to.
func makesThread(tid int, regs *unix.PtraceRegs) bool {
	flags := regs.Rdi
	if regs.Orig_rax == unix.SYS_CLONE3 {
		var b [8]byte
		if n, err := unix.PtracePeekData(tid, uintptr(regs.Rdi), b[:]); err != nil || n != 8 {
			return false
		}
		flags = binary.LittleEndian.Uint64(b[:])
	}
	return flags&unix.CLONE_THREAD != 0
}

// Stdout is what the server printed on stdout so far.
func (p *Process) Stdout() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.stdout...)
}

// Stderr is what the server printed on stderr so far.
func (p *Process) Stderr() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.stderr...)
}

// Injected is how many calls were made to fail so far.
func (p *Process) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// Signal sends sig and waits up to timeout for the process to end; it returns how it
// ended ("exited N", "killed by SIGX").
func (p *Process) Signal(sig syscall.Signal, timeout time.Duration) (string, error) {
	if err := unix.Kill(p.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return "", err
	}
	return p.Wait(timeout)
}

// Wait waits up to timeout for the traced tree to end.
func (p *Process) Wait(timeout time.Duration) (string, error) {
	select {
	case <-p.done:
		// Every task is gone, so every write end of the pipes is closed: the copies end.
		p.readers.Wait()
		return p.status, p.err
	case <-time.After(timeout):
		p.Kill()
		return "", fmt.Errorf("traced server %d did not exit within %v", p.Pid, timeout)
	}
}

// Kill ends the process with SIGKILL and waits for the tracer to finish.
func (p *Process) Kill() {
	if p.Pid > 0 {
		unix.Kill(p.Pid, unix.SIGKILL)
	}
	<-p.done
	p.readers.Wait()
}

// Exited reports whether the traced tree has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
