//go:build linux

package main

// outside_test.go - paritydiff on servers in the shapes written elsewhere
// (testdata/outside): a select() echo server with a log of its own (no "listening on"
// line, closes logged after close), its port with package net, the same server
// block-buffered, a tutorial fork server whose child keeps stdout; each built by the test.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/compare/parity"
	"github.com/iomodels/iomodels/internal/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// outsideBins are the fixtures, built once per test binary.
type outsideBins struct {
	echo, blockbuf, lateLog, aborts, fork string // C
	port, bugPort, paritydiff             string // Go
}

var outside struct {
	once sync.Once
	dir  string
	bins outsideBins
	err  error
}

// removeOutside deletes the fixtures (TestMain, after the tests).
func removeOutside() {
	if outside.dir != "" {
		os.RemoveAll(outside.dir)
	}
}

// bugLine is the port's one-line bug: the byte count of a close is the last read's
// rather than the connection's total.
const (
	goodLine = "ev.c.total += int64(len(ev.data))"
	bugLine  = "ev.c.total = int64(len(ev.data))"
)

func outsideFixtures(t *testing.T) outsideBins {
	t.Helper()
	outside.once.Do(func() {
		dir, err := os.MkdirTemp("", "paritydiff-outside-")
		if err != nil {
			outside.err = err
			return
		}
		outside.dir = dir
		b := &outside.bins
		src := filepath.Join(standalone.RepoRoot(), "compare", "cmd", "paritydiff", "testdata", "outside")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cc := os.Getenv("CC")
		if cc == "" {
			cc = "cc"
		}
		build := func(out *string, name string, args ...string) {
			if outside.err != nil {
				return
			}
			*out = filepath.Join(dir, name)
			last := len(args) - 1 // the source: "-o OUT" goes before it, for go build as for cc
			cmd := exec.CommandContext(ctx, args[0], append(append(append([]string(nil), args[1:last]...), "-o", *out), args[last])...)
			cmd.Dir = standalone.RepoRoot()
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if o, err := cmd.CombinedOutput(); err != nil {
				outside.err = fmt.Errorf("%v: %v\n%s", cmd.Args, err, o)
			}
		}
		cflags := []string{cc, "-O2", "-Wall", "-Wextra", "-Werror"}
		echoC := filepath.Join(src, "echo.c")
		build(&b.echo, "echo", append(cflags, echoC)...)
		build(&b.blockbuf, "echo-blockbuf", append(cflags, "-DBLOCKBUF", echoC)...)
		build(&b.lateLog, "echo-late-log", append(cflags, "-DLATE_LOG", echoC)...)
		build(&b.aborts, "echo-aborts", append(cflags, "-DABORT_AFTER_FIRST", echoC)...)
		build(&b.fork, "forkecho", append(cflags, filepath.Join(src, "forkecho.c"))...)
		build(&b.port, "echo-go", "go", "build", filepath.Join(src, "echo.go"))
		build(&b.paritydiff, "paritydiff", "go", "build", "./compare/cmd/paritydiff")
		if outside.err != nil {
			return
		}
		text, err := os.ReadFile(filepath.Join(src, "echo.go"))
		if err != nil || strings.Count(string(text), goodLine) != 1 {
			outside.err = fmt.Errorf("echo.go must hold %q once (%v)", goodLine, err)
			return
		}
		bugDir := filepath.Join(dir, "bug")
		if outside.err = os.Mkdir(bugDir, 0o755); outside.err != nil {
			return
		}
		bugSrc := filepath.Join(bugDir, "echo.go")
		if outside.err = os.WriteFile(bugSrc, []byte(strings.Replace(string(text), goodLine, bugLine, 1)), 0o644); outside.err != nil {
			return
		}
		build(&b.bugPort, "echo-go-bug", "go", "build", bugSrc)
	})
	require.NoError(t, outside.err, "building the outside fixtures")
	return outside.bins
}

// TestOutsideEcho is #21's "done when": the outside-style echo server against its
// faithful port with the built-in scenarios and no flags is exit 0 three runs out of
// three; the port with a one-line bug is exit 1.
func TestOutsideEcho(t *testing.T) {
	b := outsideFixtures(t)
	n := len(parity.Builtin(parity.Stream))
	for i := range 3 {
		r := paritydiff(t, "-ref", b.echo+" {port}", "-port", b.port+" {port}")
		require.Equal(t, exitEqual, r.code, "run %d; stdout:\n%s\nstderr:\n%s", i+1, r.stdout, r.stderr)
		assert.Contains(t, r.stdout, fmt.Sprintf("%d scenarios: %d equal, 0 differs\n", n, n), "run %d: every built-in scenario compared", i+1)
		assert.Contains(t, r.stdout, "the built-in scenarios' await-stderr and await-stdout counts are shifted by -1 and +0")
	}
	r := paritydiff(t, "-ref", b.echo+" {port}", "-port", b.bugPort+" {port}")
	require.Equal(t, exitDiffers, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, `(?m)^! stdout \d+ +closed 127\.0\.0\.1:<a> after (\d+) bytes +closed 127\.0\.0\.1:<a> after \d+ bytes$`, r.stdout)
}

// TestOutsideBlockBuffered: the same server with C stdio's block buffering into a pipe.
// Its stdout arrives only at its exit, which is said, and the scenarios that wait for
// a stdout line are not applicable (listed, the run goes on). With -linebuf (stdbuf) it
// is line-buffered: exit 0 three runs out of three, every scenario compared.
func TestOutsideBlockBuffered(t *testing.T) {
	b := outsideFixtures(t)
	_, err := exec.LookPath("stdbuf")
	require.NoError(t, err, "-linebuf needs stdbuf (coreutils)")
	n := len(parity.Builtin(parity.Stream))

	// Two scenarios: one that waits for a stdout line, one that does not.
	r := paritydiff(t, "-run", "^(stalled-beside-live|plain)$", "-log-wait", "500ms", "-ref", b.blockbuf+" {port}", "-port", b.port+" {port}")
	require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "note: the reference's stdout arrives only at its exit")
	assert.Contains(t, r.stdout, "Give -linebuf")
	assert.Regexp(t, `(?m)^not-applicable: stalled-beside-live: not applicable to this reference: .*await 1 stdout lines.*unchanged \(stdout and stderr\) for 500ms$`, r.stdout)
	assert.Contains(t, r.stdout, "2 scenarios: 1 equal, 0 differs, 1 not-applicable\n")

	for i := range 3 {
		r := paritydiff(t, "-linebuf", "-ref", b.blockbuf+" {port}", "-port", b.port+" {port}")
		require.Equal(t, exitEqual, r.code, "run %d; stdout:\n%s\nstderr:\n%s", i+1, r.stdout, r.stderr)
		assert.Contains(t, r.stdout, fmt.Sprintf("%d scenarios: %d equal, 0 differs\n", n, n), "run %d", i+1)
		assert.NotContains(t, r.stdout, "arrives only at its exit")
	}
}

// TestOutsideNotApplicableAndSkip: a scenario file waiting for a stderr line the
// reference never writes is not applicable, in -log-wait, and the run goes on; -skip
// leaves scenarios out and says which; nothing compared is exit 2; -gen is refused.
func TestOutsideNotApplicableAndSkip(t *testing.T) {
	b := outsideFixtures(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "banner.scenario"), []byte("connect a\nawait-stderr 1\n"), 0o644))
	ref, port := b.echo+" {port}", b.port+" {port}"

	r := paritydiff(t, "-builtin=false", "-scenarios", dir, "-log-wait", "300ms", "-ref", ref, "-port", port)
	assert.Equal(t, exitTrouble, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "1 scenario: 0 equal, 0 differs, 1 not-applicable\n")
	assert.Contains(t, r.stdout, "not-applicable: banner: not applicable to this reference: reference run 1: reference: step 2 (await 1 stderr lines): the server's log did not reach the line awaited: stderr holds 0 lines")
	assert.Contains(t, r.stderr, "no scenario was compared")

	r = paritydiff(t, "-scenarios", dir, "-log-wait", "300ms", "-skip", `^stream-|^(plain|utf8|empty|size-51\d|binary-256|nul-inside|newline-inside|concurrent-10)$`, "-ref", ref, "-port", port)
	require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, `(?m)^note: -skip left out 16 scenario\(s\): `, r.stdout)
	assert.Contains(t, r.stdout, "9 scenarios: 8 equal, 0 differs, 1 not-applicable\n")

	// -gen predicts this repository's log lines: refused at once, the port not blamed.
	r = paritydiff(t, "-gen", "10s", "-ref", ref, "-port", port)
	assert.Equal(t, exitTrouble, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "-gen predicts the log lines of this repository's servers")
	assert.NotContains(t, r.stderr, "defect of the generator")
	assert.Less(t, r.took, 10*time.Second, "refused before the generator's budget")
}

// TestOutsideForkChildHoldsStdout: the tutorial fork server, stopped with a silent
// client open: the parent dies of SIGTERM, its child serves on and keeps stdout open.
// The stop ends the child too (its process group) and the run ends within -timeout and
// a grace, where it once held for 12 minutes; no process of it is left.
func TestOutsideForkChildHoldsStdout(t *testing.T) {
	b := outsideFixtures(t)
	r := paritydiff(t, "-timeout", "2s", "-grace", "1s", "-run", "^stop-with-stalled-client$", "-ref", b.fork+" {port}", "-port", b.fork+" {port}")
	require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "1 scenario: 1 equal, 0 differs\n")
	assert.Less(t, r.took, 20*time.Second, "a hang check, not a measure of speed")
	assert.Empty(t, running(b.fork), "the fork server's children are stopped with it")
}

// running lists the live processes (zombies aside) running the program at path.
func running(path string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || exe != path {
			continue
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 && len(st) > i+2 && st[i+2] != 'Z' {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// TestOutsideSignals: SIGINT, SIGTERM or SIGHUP to paritydiff in the middle of a
// scenario stops both servers and their children before it exits (exit 2, said on
// stderr); SIGKILL to it leaves them to their parent-death signal.
func TestOutsideSignals(t *testing.T) {
	b := outsideFixtures(t)
	dir := t.TempDir()
	// A client the fork server's child serves, watched for longer than the test waits.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "long.scenario"), []byte("connect a\nsend a \"x\"\nawait-bytes a 1\nwatch a 20s 1\n"), 0o644))
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGKILL} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			cmd := exec.Command(b.paritydiff, "-builtin=false", "-scenarios", dir, "-protocol", "stream", "-grace", "1s",
				"-ref", b.fork+" {port}", "-port", b.fork+" {port}")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			// The reference and its child serving a: two processes of the program.
			ok := engine.WaitFor(time.Now().Add(10*time.Second), func() bool { return len(running(b.fork)) == 2 })
			if !ok {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the fork server and its child did not come up: %v", running(b.fork))
			}
			require.NoError(t, cmd.Process.Signal(sig))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("paritydiff did not exit 10 s after %v", sig)
			}
			if sig == syscall.SIGKILL {
				// The parent-death signal kills the server; its child sees its client's
				// end (paritydiff's socket closed with it) and exits.
				assert.True(t, engine.WaitFor(time.Now().Add(5*time.Second), func() bool { return len(running(b.fork)) == 0 }),
					"left running: %v", running(b.fork))
				return
			}
			assert.Equal(t, exitTrouble, cmd.ProcessState.ExitCode(), "stderr: %s", stderr.String())
			assert.Contains(t, stderr.String(), "stopped 1 running server(s) and their process groups")
			assert.Empty(t, running(b.fork), "stopped before paritydiff exited")
		})
	}
}

// TestOutsideOnlyStdio: a descriptor this process holds open without close-on-exec (a
// shell's fd 10) does not reach a server: it starts with 0-2 and opens its listener as 3.
func TestOutsideOnlyStdio(t *testing.T) {
	b := outsideFixtures(t)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	_, err = unix.FcntlInt(w.Fd(), unix.F_SETFD, 0) // inheritable, as a shell leaves it
	require.NoError(t, err)
	im := engine.CommandWith("reference", []string{b.echo, "{port}"}, engine.CommandOptions{Timeout: 5 * time.Second, Grace: time.Second})
	tg, err := im.Start("")
	require.NoError(t, err)
	pid := tg.(engine.Process).ServerPid()
	fds, err := procfs.FdTable(pid)
	stop := func() { tg.Stop() }
	defer stop()
	require.NoError(t, err)
	assert.Len(t, fds, 4, "0-2 and the listener: %v", fds)
	assert.Equal(t, 4, procfs.Fds(pid), "descriptors of the server: %v", fds)
	flags, err := unix.FcntlInt(w.Fd(), unix.F_GETFD, 0)
	require.NoError(t, err)
	assert.NotZero(t, flags&unix.FD_CLOEXEC, "marked close-on-exec before the start")
}

// TestOutsideQuietBeforeStop: a server that runs 50 ms on the CPU between a close and
// its log line, and dies of SIGTERM: with -quiet, the stop waits for the line (the
// server is not idle meanwhile); without, the stop comes first and the line is lost.
func TestOutsideQuietBeforeStop(t *testing.T) {
	b := outsideFixtures(t)
	sc := parity.Scenario{Name: "one", Steps: []parity.Step{
		{Op: parity.Connect, Conn: "a"},
		{Op: parity.Send, Conn: "a", Data: [][]byte{[]byte("hi")}},
		{Op: parity.HalfClose, Conn: "a"},
		{Op: parity.AwaitEnd, Conn: "a"},
	}}
	target := parity.Command(b.lateLog, "{port}")
	tr, err := parity.Run(sc, target, parity.Timeout(5*time.Second), parity.LogQuiet(defaultQuiet))
	require.NoError(t, err)
	assert.Equal(t, "accepted 127.0.0.1:<a>\nclosed 127.0.0.1:<a> after 2 bytes\n", tr.Stdout)
	assert.Equal(t, "killed by SIGTERM", tr.Status)

	tr, err = parity.Run(sc, target, parity.Timeout(5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "accepted 127.0.0.1:<a>\n", tr.Stdout, "without a quiet window the stop lands in the 50 ms before the line")
}

// TestOutsideReferenceEnds: a reference that aborts mid-scenario is named with its
// status and last lines; one that exits before it listens, with its status and output.
func TestOutsideReferenceEnds(t *testing.T) {
	b := outsideFixtures(t)
	r := paritydiff(t, "-protocol", "stream", "-run", "^sequential-5$", "-ref", b.aborts+" {port}", "-port", b.port+" {port}")
	assert.Equal(t, exitTrouble, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, `the reference fails scenario sequential-5 by itself: reference run 1: reference: step \d+ \(connect c\d\): dial tcp4 127\.0\.0\.1:\d+: connect: connection refused; `, r.stderr)
	assert.Contains(t, r.stderr, `; the server had ended: killed by SIGABRT; its last stdout lines "accepted 127.0.0.1:`)
	assert.Contains(t, r.stderr, `stderr lines "giving up"`)

	r = paritydiff(t, "-ref", `sh -c 'echo starting; echo "no config" >&2; exit 3' {port}`, "-port", b.port+" {port}")
	assert.Equal(t, exitTrouble, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, `the server exited before it listened (exited 3), stdout "starting\n", stderr "no config\n"`)
	assert.Contains(t, r.stderr, "was started again on another port", "restarts are said")
}

// TestOutsideRefAddr: a reference given by its address beside a port given by its command
// line: only what both show is compared (connections, notes), not the port's stdout,
// stderr and status, which the reference side cannot see.
func TestOutsideRefAddr(t *testing.T) {
	b := outsideFixtures(t)
	im := engine.CommandWith("reference", []string{b.echo, "{port}"}, engine.CommandOptions{Timeout: 5 * time.Second, Grace: time.Second})
	tg, err := im.Start("")
	require.NoError(t, err)
	defer tg.Stop()
	addr := fmt.Sprintf("127.0.0.1:%d", tg.Port())
	// run in process, not paritydiff(): the reference is this test's child.
	var stdout, stderr strings.Builder
	code := run([]string{"-run", "^(plain|utf8|stream-several-writes)$", "-ref-addr", addr, "-port", b.port + " {port}"}, &stdout, &stderr)
	require.Equal(t, exitEqual, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Contains(t, stdout.String(), "note: only what both sides show is compared: the connections and the notes (not stdout, stderr or the exit status)")
	assert.Contains(t, stdout.String(), "3 scenarios: 3 equal, 0 differs\n")
	kids, err := procfs.Children(os.Getpid())
	require.NoError(t, err)
	assert.Len(t, kids, 1, "the reference alone is left: %v", kids)
}
