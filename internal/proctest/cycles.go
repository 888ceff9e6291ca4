//go:build linux

package proctest

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/parity"
	"github.com/iomodels/iomodels/internal/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Server is what native.Start and gosrv.Start return: a server in this process, as
// compare/parity defines it (the one definition of an in-process server).
type Server = parity.Server

// ThreadSlack is how many threads more than the baseline a run may end with. The runtime
// keeps every idle thread (M) it ever made for reuse and destroys only the locked ones our
// serve goroutines exit on; how many idle ones exist depends on how many threads were in
// system calls or cgo calls at once when sysmon handed their Ps to new threads. With
// GOMAXPROCS 2 a cycle has at most the test goroutine, the serve thread and the client in
// such calls, so a run can end with a few more idle threads than the warm-up left, but never
// with one per cycle: a leak of one thread in 100 cycles still fails.
const ThreadSlack = 2

// Cycles starts and stops model cycles times in this process and requires that nothing
// leaks: every descriptor closed, every thread and goroutine of the run gone, no child
// left. One cycle in every connEvery (1: every cycle) makes one connection and checks its
// echo and log lines. A warm-up of a few cycles first lets the runtime make its poller and
// idle threads, which are the baseline.
func Cycles(t *testing.T, start func(model string) (Server, error), model string, cycles, connEvery int) {
	t.Helper()
	const settle = 5 * time.Second
	cycle := func(i int) {
		s, err := start(model)
		require.NoError(t, err, "cycle %d: Start", i)
		var ex Exchange
		connected := i%connEvery == 0
		if connected {
			msg := fmt.Sprintf("cycle %d of %s", i, model)
			ex, err = Echo(s.Port(), msg, Stream(model), 5*time.Second)
			assert.NoError(t, err, "cycle %d: echo exchange", i)
			assert.Equal(t, msg, ex.Reply, "cycle %d: echo reply", i)
		}
		status, err := s.Stop()
		require.NoError(t, err, "cycle %d: Stop", i)
		require.Equal(t, 0, status, "cycle %d: serve status; stderr %q", i, s.Stderr())
		listening := fmt.Sprintf("listening on 0.0.0.0:%d\n", s.Port())
		if !connected {
			require.Equal(t, "", string(s.Stdout()), "cycle %d: stdout without a connection", i)
			require.Equal(t, listening, string(s.Stderr()), "cycle %d: stderr without a connection", i)
			return
		}
		out := NewConnLine(model, ex.Local)
		errOut := listening
		if Stream(model) {
			errOut += "peer close conn...\n" // logged before the close the client waited for
		} else {
			out += "recv_msg: " + ex.Reply + "\n"
		}
		require.Equal(t, out, string(s.Stdout()), "cycle %d: stdout", i)
		require.Equal(t, errOut, string(s.Stderr()), "cycle %d: stderr", i)
	}

	for i := 0; i < 10; i++ {
		cycle(i * connEvery) // the warm-up connects every time
	}
	goroutines := Settle(runtime.NumGoroutine, 0, 100*time.Millisecond)
	threads := Settle(Threads, 0, 100*time.Millisecond) // the last warm-up thread may still be exiting
	fds := Fds()

	began := time.Now()
	for i := 0; i < cycles; i++ {
		cycle(i)
	}
	took := time.Since(began)

	gotFds := Settle(Fds, fds, settle)
	gotThreads := Settle(Threads, threads, 500*time.Millisecond)
	gotThreads = Settle(Threads, threads+ThreadSlack, settle)
	gotGoroutines := Settle(runtime.NumGoroutine, goroutines, settle)
	kids, err := Children()
	require.NoError(t, err, "list child processes")
	t.Logf("%s: %d cycles (%d connected) in %v; fds %d -> %d, threads %d -> %d, goroutines %d -> %d, children %d",
		model, cycles, (cycles+connEvery-1)/connEvery, took.Round(time.Millisecond), fds, gotFds,
		threads, gotThreads, goroutines, gotGoroutines, len(kids))
	assert.Equal(t, fds, gotFds, "open descriptors after %d cycles: %s", cycles, fdList())
	assert.LessOrEqual(t, gotThreads, threads+ThreadSlack, "threads after %d cycles (baseline %d)", cycles, threads)
	assert.LessOrEqual(t, gotGoroutines, goroutines, "goroutines after %d cycles", cycles)
	assert.Empty(t, kids, "child processes after %d cycles", cycles)
}

// fdList describes this process's open descriptors, for a failure message.
func fdList() string { return procfs.FdList(os.Getpid()) }

// ThreadEnds requires that the thread which ran a model is gone once Stop has returned: the
// serving goroutine exits still locked to it, so the runtime destroys the thread instead of
// handing it, with whatever state the model left (a signal mask), to other goroutines.
func ThreadEnds(t *testing.T, start func(model string) (Server, error), tidOf func(Server) int) {
	t.Helper()
	for i := 0; i < 5; i++ {
		s, err := start("iterative")
		require.NoError(t, err, "Start")
		_, err = s.Stop()
		require.NoError(t, err, "Stop")
		tid := tidOf(s)
		require.Positive(t, tid, "the serving thread's id")
		if tid == os.Getpid() {
			// The main thread cannot exit; the runtime parks it for good instead, which keeps
			// its state from other goroutines just as well. Try again on another thread.
			t.Logf("cycle %d: served on the main thread", i)
			continue
		}
		task := fmt.Sprintf("/proc/self/task/%d", tid)
		gone := func() int {
			if _, err := os.Stat(task); err != nil {
				return 0
			}
			return 1
		}
		assert.Equal(t, 0, Settle(gone, 0, 5*time.Second), "thread %d still exists after Stop", tid)
		return
	}
	t.Fatal("every cycle served on the main thread")
}

// StartEchoStop runs one echo through every one-shot model of models and checks both logs,
// the serve status, and that an unknown model does not start.
func StartEchoStop(t *testing.T, models []string, start func(model string) (Server, error)) {
	t.Helper()
	for _, model := range models {
		if Stream(model) {
			continue // stream protocol: covered by the leak test's own client
		}
		t.Run(model, func(t *testing.T) {
			SkipUnsupported(t, model)
			s, err := start(model)
			require.NoError(t, err, "Start")
			t.Cleanup(func() { s.Stop() })
			require.NotZero(t, s.Port(), "port")

			ex, err := Echo(s.Port(), "hello", false, 5*time.Second)
			require.NoError(t, err, "echo exchange")
			assert.Equal(t, "hello", ex.Reply, "echo reply")

			status, err := s.Stop()
			require.NoError(t, err, "Stop")
			assert.Equal(t, 0, status, "serve status")
			assert.Equal(t, fmt.Sprintf("listening on 0.0.0.0:%d\n", s.Port()), string(s.Stderr()), "stderr")
			assert.Equal(t, NewConnLine(model, ex.Local)+"recv_msg: hello\n", string(s.Stdout()), "stdout")
		})
	}
	_, err := start("no-such-model")
	assert.ErrorContains(t, err, "unknown model", "Start of an unknown model fails")
}

// StartFailure makes the listener fail (no descriptor left for its socket) and requires
// that start returns the line the model's side logged, and closes what it had opened.
func StartFailure(t *testing.T, start func(model string) (Server, error)) {
	warm, err := start("iterative") // the runtime's poller exists before the count
	require.NoError(t, err, "warm-up Start")
	_, err = warm.Stop()
	require.NoError(t, err, "warm-up Stop")
	fds := Fds()

	// Start needs five descriptors before the socket: two pipes and the eventfd.
	var startErr error
	require.NoError(t, WithFreeFds(5, func() { _, startErr = start("iterative") }), "lower RLIMIT_NOFILE")
	require.Error(t, startErr, "Start without a descriptor for the socket")
	assert.Contains(t, startErr.Error(), "create_listenfd error: Too many open files", "the logged line is in the error")
	assert.Equal(t, fds, Fds(), "descriptors after the failed Start")
}
