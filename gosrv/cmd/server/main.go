//go:build linux

// Command server is the standalone Go server: `server MODEL [PORT]`, the twin of
// csrc/server_main.c. It listens, reports the port (so that PORT 0 can be used), and runs
// the model until SIGINT, SIGTERM or SIGHUP, which write the model's stop eventfd.
//
// Signals (CONTRACT.md § Faults): the lowest-numbered of SIGHUP, SIGINT, SIGTERM received
// before the server finished stopping names the final line;
// SIGPIPE kills it with its connections aborted first (dieOfSigpipe); every other signal
// does what its default disposition does to the C server (which keeps them all): see
// defaultSignals.
//
// containermaxprocs=0: the runtime would otherwise keep the cgroup CPU-quota files open
// for its whole life (cgroup v1: cpu.cfs_quota_us and cpu.cfs_period_us, fds 3 and 4),
// to follow the quota in GOMAXPROCS; the C server holds nothing like them, and the
// descriptors must be numbered alike (gosrv.OpenRuntimeFds). With it the runtime reads
// them once at start and closes them; GOMAXPROCS is then the number of CPUs this process
// may run on, as before Go 1.25.
//
//go:debug containermaxprocs=0
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/iomodels/iomodels/gosrv"
	"golang.org/x/sys/unix"
)

func usage() int {
	names := []string{"models:"}
	for _, m := range gosrv.Models() {
		names = append(names, m.Name)
	}
	gosrv.LogLine(2, "usage: server MODEL [PORT]")
	gosrv.LogLine(2, strings.Join(names, " "))
	return 1
}

var signalNames = map[os.Signal]string{syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}

// quote cuts an argument as C's "%.64s" does.
func quote(arg string) string {
	if len(arg) > 64 {
		arg = arg[:64]
	}
	return `"` + arg + `"`
}

// faultSignals are raised by the hardware for a fault in the program itself, and the
// runtime needs its handler for them (a nil dereference is a panic; SIGILL and SIGTRAP end
// in a stack trace). Sent by kill they reach os/signal, and the server then dies of them as
// the C server does at once: a moment later (dieOfFault).
var faultSignals = []os.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP}

// defaultSignals gives back the default disposition of every signal whose default
// terminates the process and that the runtime does not need, so that the kernel kills the
// Go server by it as it kills the C server (same wait status, no goroutine dump, no exit 2,
// even while the server blocks in a log write): QUIT, ABRT, USR1, USR2, ALRM, STKFLT,
// XCPU, XFSZ, VTALRM, PROF (the server never profiles), IO, PWR, SYS and the real-time
// signals 34-64; also CONT, TSTP, TTIN, TTOU and 32, which the runtime leaves as inherited
// (so that one ignored by the parent, `trap "" TSTP`, gets its default, as the C server's
// reset_signals gives every signal). Left to the runtime: HUP, INT, TERM (the stop), the
// fault signals, PIPE (dieOfSigpipe), URG (preemption; ignored by default), CHLD, WINCH (ignored by the runtime
// as by default), 33 (the runtime's own signal for all-thread system calls, ignored when
// kill sends it; the C server ignores it too), and the signals a model waits for itself
// (sigio's SIGIO and SIGRTMIN+6, gosrv.SigioReady), which its serving thread blocks and
// the runtime drops elsewhere, as the C server takes them with sigwaitinfo.
func defaultSignals(model string) {
	left := map[syscall.Signal]bool{
		syscall.SIGHUP: true, syscall.SIGINT: true, syscall.SIGTERM: true,
		syscall.SIGKILL: true, syscall.SIGSTOP: true,
		syscall.SIGURG: true, syscall.SIGCHLD: true, syscall.SIGWINCH: true,
		syscall.SIGPIPE: true,
		33:              true,
	}
	for _, sig := range faultSignals {
		left[sig.(syscall.Signal)] = true
	}
	if model == "sigio" {
		left[syscall.SIGIO], left[gosrv.SigioReady] = true, true
	}
	for sig := syscall.Signal(1); sig <= 64; sig++ {
		if !left[sig] {
			gosrv.SetDefaultSignal(sig)
		}
	}
}

// dieOfSigpipe: SIGPIPE, raised by the kernel when a log line meets a pipe whose reader is
// gone, or sent by kill, ends the server by SIGPIPE with its connections aborted first, so
// that every client sees a reset whatever its timing (CONTRACT.md § Faults). The runtime
// hands it here; the log writer that met EPIPE does the same itself (gosrv's emit), and
// whichever comes first has aborted the connections before it dies. C: handle_sigpipe.
func dieOfSigpipe(pipes <-chan os.Signal) {
	<-pipes
	gosrv.DieOfSigpipe()
}

// dieOfFault: a fault signal sent by kill ends the server by that signal.
func dieOfFault(faults <-chan os.Signal) {
	sig := <-faults
	gosrv.DieOfSignal(sig.(syscall.Signal))
}

// lowestStop is the stop signal the final line names: the lowest-numbered of first and
// those received since, as C's handler keeps it (csrc/server_main.c says why). A signal
// the kernel queued that no thread has taken yet is taken here (TakePending, on this
// thread); Stop waits until every signal the runtime's threads have taken is in sigs;
// late, registered first, keeps the three signals handled (a SIGTERM from here on must
// not kill the server).
func lowestStop(first os.Signal, sigs chan os.Signal) os.Signal {
	runtime.LockOSThread() // for TakePending's mask; main's thread to the end
	if s := gosrv.TakePending(unix.SIGHUP, unix.SIGINT, unix.SIGTERM); s != 0 && s < first.(syscall.Signal) {
		first = s
	}
	late := make(chan os.Signal, 1)
	signal.Notify(late, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	signal.Stop(sigs)
	for {
		select {
		case s := <-sigs:
			if s.(syscall.Signal) < first.(syscall.Signal) {
				first = s
			}
		default:
			return first
		}
	}
}

func run(args []string) int {
	if len(args) < 2 || len(args) > 3 {
		return usage()
	}
	m, ok := gosrv.FindModel(args[1])
	if !ok {
		gosrv.LogLine(2, "server: unknown model "+quote(args[1]))
		return usage()
	}
	if m.OneP {
		runtime.GOMAXPROCS(1) // as C's one thread (gosrv/nonblock.go says why)
	}
	port := gosrv.DefaultPort
	if len(args) == 3 {
		if port = gosrv.ParsePort(args[2]); port < 0 {
			gosrv.LogLine(2, "server: bad port "+quote(args[2])+": want a number from 0 to 65535")
			return usage()
		}
	}

	// Go's runtime holds two descriptors; so does the C server (see OpenRuntimeFds).
	gosrv.OpenRuntimeFds()
	stopFd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		gosrv.LogLine(2, "create_stopfd error: "+gosrv.Strerror(err))
		return 1
	}
	gosrv.LogStopOn(stopFd)
	gosrv.LogNonblocking(1)
	gosrv.LogNonblocking(2)
	defaultSignals(m.Name)
	faults := make(chan os.Signal, 1)
	signal.Notify(faults, faultSignals...)
	go dieOfFault(faults)
	// SIGPIPE to dieOfSigpipe. The runtime forwards a SIGPIPE that lands on a thread
	// running no goroutine (kill's, on an idle thread) to the disposition the process
	// started with, which it noted before main: inherited ignored (`trap "" PIPE`), the
	// signal would be dropped. Ignore gives the signal up, SetDefaultSignal makes its
	// disposition the default, and Notify takes it again, noting the default as the one to
	// forward to: never, the runtime then handles it.
	signal.Ignore(syscall.SIGPIPE)
	gosrv.SetDefaultSignal(unix.SIGPIPE)
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	go dieOfSigpipe(pipes)
	// The handler's part: take the first signal and write the stop eventfd; later ones wait
	// in the channel (room for a few of each) until the model has returned.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	got := make(chan os.Signal, 1)
	go func() {
		sig := <-sigs
		got <- sig
		unix.Write(stopFd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}()

	listenFd := gosrv.OpenListener(port, 2)
	if listenFd < 0 {
		return 1
	}
	gosrv.LogLine(2, fmt.Sprintf("listening on 0.0.0.0:%d", gosrv.ListenerPort(listenFd)))

	srv := &gosrv.Server{ListenFd: listenFd, StopFd: stopFd, OutFd: 1, ErrFd: 2}
	if m.Serve(srv) < 0 {
		return 1
	}

	sig := lowestStop(<-got, sigs)
	// What a stalled log stream could not take, said once if stderr can take it (with the
	// stop eventfd readable, a line that does not fit at once is dropped).
	if n := gosrv.LogLost(); n > 0 {
		gosrv.LogLine(2, fmt.Sprintf("log: lines not written: %d", n))
	}
	gosrv.LogLine(2, fmt.Sprintf("signal: %s(%d)   close server ... done", signalNames[sig], sig.(syscall.Signal)))
	unix.Close(listenFd)
	unix.Close(stopFd)
	return 0
}

func main() {
	os.Exit(run(os.Args))
}
