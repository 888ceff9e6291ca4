//go:build linux

package compare

// mutants_test.go - does the suite catch bugs? `go test ./compare -run Mutants` builds the
// Go standalone server again with one deliberate bug each, through `go build -overlay`
// (the mutated copy of one gosrv file lives in t.TempDir(); the tree is never edited), and
// runs the one check its row names, C against the mutant. A mutant counts as caught only
// by the evidence its row names: that check's difference of that kind (the bytes a client
// got, a connection's ending, a log line, the exit status, a system call, an observation),
// or the mutant's run failing with the text the row names. And the check must be able to
// tell: C runs it twice and must agree with itself (noise is not a catch), and the
// unmutated Go server passes it in the same run. Each mutant is one textual replacement
// whose old text must occur exactly once, so that a change to gosrv cannot silently turn
// a mutant into a no-op.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type mutant struct {
	name     string
	file     string // relative to the repository root
	old, new string
	// within, if set, is the start of the function (unique in the file) whose body holds
	// old exactly once; otherwise old must be unique in the whole file.
	within string
	// caughtBy is the check that catches the mutant (its whole name), and evidence what
	// it sees: a kind of difference (evBytes, evEnding, evLog, evStatus, evSyscall,
	// evObservation, evConns), or "failure: TEXT" for a mutant whose run fails with TEXT
	// in its error (a hang that the scenario's watchdog ends, a server that cannot start);
	// "A or B" where the mutant kills the server and whether the next client finds it
	// still there is timing: both are that death.
	caughtBy string
	evidence string
}

// The kinds of difference (engine.Diff's) a mutant row can name as its evidence.
const (
	evBytes       = "bytes"
	evEnding      = "ending"
	evLog         = "log"
	evStatus      = "status"
	evSyscall     = "system call"
	evObservation = "observation"
	evConns       = "connections"
)

// evServerGone: a mutant server that exited where it should have served on. The next
// client's step fails (its connect refused, or reset when the listener closed with its SYN
// pending: which, by the moment of the exit), and the engine names the server's end, its
// status, which is the evidence.
const evServerGone = "failure: the server had ended: exited 1"

// evidenceOf lists the kinds of difference an engine.Diff report shows.
func evidenceOf(check, diff string) map[string]bool {
	kinds := map[string]bool{}
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "bytes received on "):
			kinds[evBytes] = true
		case strings.HasPrefix(l, "ending of "):
			kinds[evEnding] = true
		case strings.HasPrefix(l, "stdout") || strings.HasPrefix(l, "stderr"):
			kinds[evLog] = true
		case strings.HasPrefix(l, "status: "):
			kinds[evStatus] = true
		case strings.HasPrefix(l, "connections: "):
			kinds[evConns] = true
		case strings.HasPrefix(l, "observations:"):
			if strings.HasPrefix(check, "syscalls/") {
				kinds[evSyscall] = true
			} else {
				kinds[evObservation] = true
			}
		}
	}
	return kinds
}

// diffCheck compares a check's run against C's: a system-call check's steps as
// TestSyscallSequence does (diffLines), every other check's transcripts with engine.Diff.
func diffCheck(check string, ref, got *engine.Transcript, gn string) string {
	if strings.HasPrefix(check, "syscalls/") {
		if d := diffLines(ref.Notes, got.Notes, gn); d != "" {
			return "observations: the system calls differ, " + d
		}
		return ""
	}
	return engine.Diff(ref, got, "C", gn)
}

// mutants: one-line semantic bugs a port could have, one or more per model, of every kind
// the suite claims to catch; a couple that change only a log line or the command line.
var mutants = []mutant{
	// ---- limits and constants ----
	{name: "bufsize-511", file: "gosrv/common.go", old: "BufSize     = 512", new: "BufSize     = 511",
		caughtBy: "iterative/size-512", evidence: evBytes},
	{name: "listen-backlog-128", file: "gosrv/common.go", old: "MaxConn     = 1024", new: "MaxConn     = 128",
		caughtBy: "limits/poll/listen-backlog", evidence: "failure: 1025 lines on the server's stdout did not happen"},
	{name: "epoll-batch-64", file: "gosrv/common.go", old: "MaxEvent    = 1024", new: "MaxEvent    = 64",
		caughtBy: "syscalls/epoll-lt", evidence: evSyscall},
	{name: "so-reuseaddr-removed", file: "gosrv/common.go",
		old:      "if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {",
		new:      "if err := error(nil); err != nil { // mutant: no SO_REUSEADDR",
		caughtBy: "limits/reuseaddr", evidence: evConns},
	{name: "uring-slots-2", file: "gosrv/uring.go", old: "uringSlots   = 256", new: "uringSlots   = 2",
		caughtBy: "limits/uring/uring-slots-three-silent", evidence: "failure: 3 lines on the server's stdout did not happen"},
	{name: "nonblock-backoff-cap-100ms", file: "gosrv/nonblock.go", old: "backoffMaxNs = 2000000", new: "backoffMaxNs = 100000000",
		caughtBy: "limits/nonblock-backoff", evidence: evObservation},
	// ---- a missing close, a missing shutdown ----
	{name: "echo-reply-leaks-fd", file: "gosrv/common.go",
		old: "\traw.Shutdown(connFd, unix.SHUT_WR)\n\traw.Close(connFd)", new: "\traw.Shutdown(connFd, unix.SHUT_WR)\n\t_ = connFd // mutant: never closed",
		within: "func echoReply(", caughtBy: "iterative/plain", evidence: "failure: descriptor leak"},
	{name: "recv-error-not-closed", file: "gosrv/common.go",
		old: "logErrno(srv.ErrFd, \"recv_connfd\", err)\n\t\traw.Close(connFd)", new: "logErrno(srv.ErrFd, \"recv_connfd\", err)\n\t\t_ = connFd // mutant: never closed",
		within: "func echoReply(", caughtBy: "iterative/reset-before-send", evidence: "failure: descriptor leak"},
	{name: "echo-reply-no-shutdown", file: "gosrv/common.go",
		old: "\traw.Shutdown(connFd, unix.SHUT_WR)\n\traw.Close(connFd)", new: "\traw.Close(connFd) // mutant: no half-close first",
		within: "func echoReply(", caughtBy: "syscalls/iterative", evidence: evSyscall},
	// ---- EINTR ----
	{name: "recv-eintr-not-retried", file: "gosrv/common.go",
		old:    "err := ignoringEINTR(func() (err error) { n, err = raw.Recv(connFd, buf[:], 0); return err })",
		new:    "n, err := raw.Recv(connFd, buf[:], 0) // mutant: EINTR not retried",
		within: "func echoOnce(", caughtBy: "inject/iterative/recvfrom:error=EINTR:when=2", evidence: evBytes},
	{name: "send-eintr-not-retried", file: "gosrv/common.go",
		old:    "if err := ignoringEINTR(func() (err error) { _, err = mode.send(connFd, buf[:n], unix.MSG_NOSIGNAL); return err }); err != nil {",
		new:    "if _, err := mode.send(connFd, buf[:n], unix.MSG_NOSIGNAL); err != nil { // mutant: EINTR not retried",
		within: "func echoReply(", caughtBy: "inject/iterative/sendto:error=EINTR:when=2", evidence: evBytes},
	{name: "wait-readable-eintr-not-retried", file: "gosrv/common.go",
		old:    "if err := ignoringEINTR(func() error { _, err := poll(pfd, -1); return err }); err != nil {",
		new:    "if _, err := poll(pfd, -1); err != nil { // mutant: EINTR not retried",
		within: "func waitReadable(", caughtBy: "inject/iterative/poll:error=EINTR:when=3", evidence: evServerGone},
	{name: "epoll-lt-eintr-fatal", file: "gosrv/epoll_lt.go", old: "err := ignoringEINTR(func() (err error) { nfds, err = epollWait(epollFd, events, timeout); return err })", new: "err := func() (err error) { nfds, err = epollWait(epollFd, events, timeout); return err }() // mutant: EINTR is an error",
		caughtBy: "inject/epoll-lt/epoll_wait:error=EINTR:when=3", evidence: evServerGone},
	{name: "epoll-et-eintr-fatal", file: "gosrv/epoll_et.go", old: "err := ignoringEINTR(func() (err error) { nfds, err = epollWait(epollFd, events, timeout); return err })", new: "err := func() (err error) { nfds, err = epollWait(epollFd, events, timeout); return err }() // mutant: EINTR is an error",
		caughtBy: "inject/epoll-et/epoll_wait:error=EINTR:when=3", evidence: evServerGone},
	{name: "select-eintr-fatal", file: "gosrv/select.go",
		old:      "err := ignoringEINTR(func() (err error) { nready, err = unix.Pselect(maxFd+1, &rset, nil, nil, pause, nil); return err })",
		new:      "err := func() (err error) { nready, err = unix.Pselect(maxFd+1, &rset, nil, nil, pause, nil); return err }() // mutant: EINTR is an error",
		caughtBy: "inject/select/select:error=EINTR:when=3", evidence: evServerGone},
	{name: "poll-eintr-fatal", file: "gosrv/poll.go",
		old:      "err := ignoringEINTR(func() (err error) { nready, err = poll(pfds, timeout); return err })",
		new:      "err := func() (err error) { nready, err = poll(pfds, timeout); return err }() // mutant: EINTR is an error",
		caughtBy: "inject/poll/poll:error=EINTR:when=3", evidence: evServerGone},
	{name: "sigio-eintr-fatal", file: "gosrv/sigio.go", old: "err := ignoringEINTR(func() (err error) { sig, err = sigtimedwait(&waitSet, &info, pause); return err })",
		new:      "err := func() (err error) { sig, err = sigtimedwait(&waitSet, &info, pause); return err }() // mutant: EINTR is an error",
		caughtBy: "inject/sigio/rt_sigtimedwait:error=EINTR:when=1", evidence: evLog + " or " + evBytes + " or " + evServerGone},
	{name: "uring-enter-eintr-fatal", file: "gosrv/uring_ring.go", old: "if errno != 0 {\n\t\t\treturn errno", new: "if errno != 0 {\n\t\t\treturn unix.EIO // mutant: EINTR is an error",
		caughtBy: "inject/uring/io_uring_enter:error=EINTR:when=3", evidence: evServerGone},
	{name: "accept-econnaborted-logged", file: "gosrv/common.go",
		old:      "case unix.EINTR, unix.ECONNABORTED, unix.ENETDOWN,",
		new:      "case unix.EINTR, unix.ENETDOWN, // mutant: ECONNABORTED is an error",
		caughtBy: "inject/nonblock/accept4:error=ECONNABORTED:when=2", evidence: evLog},
	// ---- error paths ----
	{name: "emfile-not-handled", file: "gosrv/common.go", old: "case unix.EMFILE, unix.ENFILE:", new: "case unix.EMFILE + 1000, unix.ENFILE: // mutant: EMFILE logged as any error, no pause: a spin",
		caughtBy: "fdlimit/poll", evidence: evObservation},
	{name: "emfile-line-per-connection", file: "gosrv/common.go", old: "if !a.exhausted && readableNow(srv.ListenFd) {\n\t\tlogErrno", new: "if true { // mutant: a line per accept at the limit\n\t\tlogErrno",
		caughtBy: "fdlimit/select", evidence: evLog},
	{name: "queued-accept-retry-stops", file: "gosrv/common.go",
		old: "if connFd == acceptRetry {\n\t\t\tcontinue", new: "if connFd == acceptRetry {\n\t\t\treturn acceptEmpty // mutant: a retry ends the drain",
		caughtBy: "inject/epoll-et/accept4:error=ECONNABORTED:when=1", evidence: "failure: watchdog: the end of a did not happen"},
	{name: "epoll-lt-accept-error-fatal", file: "gosrv/epoll_lt.go",
		old: "if connFd < 0 {\n\t\t\t\t\tcontinue", new: "if connFd < 0 {\n\t\t\t\t\treturn -1 // mutant: fatal",
		caughtBy: "inject/epoll-lt/accept4:error=ECONNABORTED:when=2", evidence: evServerGone},
	{name: "blocking-accept-error-fatal", file: "gosrv/common.go", within: "func acceptBlocking(",
		old: "continue // nothing accepted: wait again", new: "return acceptFailed // mutant: fatal",
		caughtBy: "inject/iterative/accept4:error=ECONNABORTED:when=2", evidence: evServerGone},
	{name: "thread-poll-error-exits-0", file: "gosrv/thread.go",
		old: "if connFd == acceptFailed {\n\t\treturn -1", new: "if connFd == acceptFailed {\n\t\treturn 0 // mutant: a failed poll is a clean stop",
		caughtBy: "inject/thread/poll:error=ENOMEM:when=1", evidence: "failure: did not exit within"},
	{name: "poll-wait-error-ignored", file: "gosrv/poll.go",
		old: "logErrno(srv.ErrFd, \"poll\", err)\n\t\t\tstatus = -1\n\t\t\tbreak", new: "logErrno(srv.ErrFd, \"poll\", err)\n\t\t\tcontinue // mutant: a failed wait is retried",
		caughtBy: "inject/poll/poll:error=ENOMEM:when=1", evidence: "failure: did not exit within"},
	// ---- EAGAIN handling, draining ----
	{name: "epoll-et-no-drain", file: "gosrv/epoll_et.go",
		old: "\t\tif c.pending != nil {\n\t\t\t// The peer reads slower",
		new: "\t\tif c.pending == nil {\n\t\t\treturn // mutant: one recv per edge\n\t\t}\n\t\tif c.pending != nil {\n\t\t\t// The peer reads slower", caughtBy: "syscalls/epoll-et", evidence: evSyscall},
	{name: "epoll-et-send-eagain-drops", file: "gosrv/epoll_et.go",
		old:      "\t\tif err == unix.EAGAIN {\n\t\t\tc.pending = append([]byte(nil), buf...)\n\t\t\treturn nil",
		new:      "\t\tif err == unix.EAGAIN {\n\t\t\treturn nil // mutant: the rest is dropped",
		caughtBy: "inject/epoll-et/sendto:error=EAGAIN:when=2", evidence: evBytes},
	{name: "nonblock-recv-eagain-serves", file: "gosrv/nonblock.go", old: "if err == unix.EAGAIN {\n\t\t\tconns[kept] = connFd", new: "if err == unix.EAGAIN && false {\n\t\t\tconns[kept] = connFd",
		caughtBy: "nonblock/stalled-beside-live", evidence: evBytes},
	{name: "epoll-et-send-eagain-spins", file: "gosrv/epoll_et.go",
		old:      "\t\tif err == unix.EAGAIN {\n\t\t\tc.pending = append([]byte(nil), buf...)\n\t\t\treturn nil",
		new:      "\t\tif err == unix.EAGAIN {\n\t\t\tcontinue // mutant: the seed's busy loop",
		caughtBy: "epoll-et/stream-backpressure-certain", evidence: evObservation},
	// ---- ordering ----
	{name: "select-serves-descending", file: "gosrv/select.go",
		old: "for fd := 0; fd < top && fd <= maxFd; fd++ {", new: "for fd := min(top-1, maxFd); fd >= 0; fd-- { // mutant: highest first",
		caughtBy: "select/order-held-5", evidence: evLog},
	// ---- fork: error paths, a missing close ----
	{name: "fork-accept-error-fatal", file: "gosrv/fork.go",
		old: "if connFd, peer = acceptConn(srv, &acc); connFd < 0 {\n\t\t\t\tcontinue", new: "if connFd, peer = acceptConn(srv, &acc); connFd < 0 {\n\t\t\t\tstatus = -1 // mutant: fatal\n\t\t\t\tbreak",
		caughtBy: "inject/fork/accept4:error=ECONNABORTED:when=2", evidence: evServerGone},
	{name: "fork-error-leaks-conn", file: "gosrv/fork.go",
		old: "logErrno(srv.ErrFd, \"fork\", errno)\n\t\t\traw.Close(connFd)", new: "logErrno(srv.ErrFd, \"fork\", errno) // mutant: the connection is never closed",
		caughtBy: "inject/fork/clone:error=EAGAIN:when=2", evidence: "failure: watchdog: the end of b did not happen"},
	{name: "fork-parent-keeps-conn", file: "gosrv/fork.go",
		old: "\t\traw.Close(connFd) // the child has its own copy\n", new: "\t\t// mutant: the parent keeps its copy of the connection\n",
		caughtBy: "fork/plain", evidence: "failure: descriptor leak"},
	// ---- shutdown ----
	{name: "iterative-blocks-in-recv", file: "gosrv/iterative.go",
		old: "ready, err := waitReadable(connFd, srv.StopFd)", new: "ready, err := 1, error(nil) // mutant: recv blocks, a stop cannot wake it",
		caughtBy: "iterative/stop-with-stalled-client", evidence: "failure: did not exit within"},
	{name: "poll-stop-leaves-conns-open", file: "gosrv/poll.go", old: "\tfor _, pfd := range pfds[2:] {\n\t\tunix.Close(int(pfd.Fd))\n\t}", new: "\t_ = pfds // mutant: connections left open at stop",
		caughtBy: "syscalls/poll", evidence: evSyscall},
	// ---- the mechanism: the same calls, a value changed (only the system calls see it) ----
	{name: "epoll-et-level-triggered", file: "gosrv/epoll_et.go",
		old:      "if err := setEvents(epollFd, unix.EPOLL_CTL_ADD, connFd, unix.EPOLLIN|unix.EPOLLET); err != nil {",
		new:      "if err := setEvents(epollFd, unix.EPOLL_CTL_ADD, connFd, unix.EPOLLIN); err != nil { // mutant: level-triggered",
		caughtBy: "syscalls/epoll-et", evidence: evSyscall},
	{name: "epoll-lt-edge-triggered", file: "gosrv/epoll_lt.go",
		old:      "&unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}",
		new:      "&unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET /* mutant: edge-triggered */, Fd: int32(fd)}",
		caughtBy: "syscalls/epoll-lt", evidence: evSyscall},
	{name: "sigio-plain-sigio", file: "gosrv/sigio.go",
		old:      "raw.FcntlInt(fd, unix.F_SETSIG, int(sigioReady))",
		new:      "raw.FcntlInt(fd, unix.F_SETSIG, 0 /* mutant: plain SIGIO */)",
		caughtBy: "syscalls/sigio", evidence: evSyscall},
	{name: "uring-recv-async", file: "gosrv/uring.go",
		old:      "\t\tsqe.Len = BufSize\n",
		new:      "\t\tsqe.Len = BufSize\n\t\tsqe.Flags = 1 << 4 // mutant: IOSQE_ASYNC\n",
		caughtBy: "syscalls/uring", evidence: evSyscall},
	{name: "fork-clone-vm", file: "gosrv/fork.go",
		old:      "flags:      unix.CLONE_PIDFD | unix.CLONE_CLEAR_SIGHAND,",
		new:      "flags:      unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_PIDFD | unix.CLONE_CLEAR_SIGHAND, // mutant: the child shares the parent's memory (as vfork: the parent waits)",
		caughtBy: "syscalls/fork", evidence: evSyscall},
	// ---- a log line and the command line (a couple kept) ----
	{name: "recv-msg-without-space", file: "gosrv/common.go",
		old: `LogMsg(srv.OutFd, "recv_msg: ", buf[:n])`, new: `LogMsg(srv.OutFd, "recv_msg:", buf[:n])`, within: "func echoReply(", caughtBy: "iterative/plain", evidence: evLog},
	{name: "log-not-cut-at-nul", file: "gosrv/common.go", old: "if c == 0 {", new: "if c == 0 && false {", caughtBy: "iterative/nul-inside", evidence: evLog},
	{name: "parse-port-accepts-65536", file: "gosrv/common.go", old: "if v > 65535 {", new: "if v > 65536 {", caughtBy: `server-bad-port-"65536"`, evidence: evLog},
}

// mutantDeadline bounds a scenario against a mutant: a mutant that hangs is caught sooner.
const mutantDeadline = 5 * time.Second

// check is one standalone comparison: it runs a side and returns its transcript.
type check struct {
	name string
	run  func(s side) (*engine.Transcript, error)
}

// standaloneChecks lists the command-line cases, the limits, the system-call sequences,
// the fault injections, then every scenario of every model (process-level ones included).
// A mutant runs the check named by its caughtBy first.
func standaloneChecks(t *testing.T, g side) []check {
	var cs []check
	for _, cc := range cliCases() {
		cs = append(cs, check{cc.name, cc.run})
	}
	cs = append(cs, limitChecks(t)...)
	cs = append(cs, syscallChecks(t, g)...)
	cs = append(cs, injectChecks(t)...)
	cs = append(cs, fdlimitChecks(t)...)
	all := append(append([]engine.Scenario(nil), scenarios...), processScenarios()...)
	for _, model := range models(t) {
		if unavailable(model) != "" {
			continue
		}
		for _, sc := range all {
			if !sc.AppliesTo(model) {
				continue
			}
			cs = append(cs, check{model + "/" + sc.Name, func(s side) (*engine.Transcript, error) {
				im := s.impl()
				im.Deadline = mutantDeadline
				return engine.RunOnce(sc, model, im)
			}})
		}
	}
	return cs
}

// mutate applies m to its file's text: the source path and the mutated text.
func mutate(m mutant) (string, string, error) {
	root := standalone.RepoRoot()
	src := filepath.Join(root, m.file)
	b, err := os.ReadFile(src)
	if err != nil {
		return "", "", err
	}
	text := string(b)
	region := text
	if m.within != "" {
		if n := strings.Count(text, m.within); n != 1 {
			return "", "", fmt.Errorf("mutant %s: %q occurs %d times in %s, want exactly once (has gosrv changed?)", m.name, m.within, n, m.file)
		}
		start := strings.Index(text, m.within)
		end := strings.Index(text[start:], "\n}\n")
		if end < 0 {
			return "", "", fmt.Errorf("mutant %s: no end of %q in %s", m.name, m.within, m.file)
		}
		region = text[start : start+end+3]
	}
	if n := strings.Count(region, m.old); n != 1 {
		return "", "", fmt.Errorf("mutant %s: %q occurs %d times in %s (%s), want exactly once (has gosrv changed?)", m.name, m.old, n, m.file, m.within)
	}
	return src, strings.Replace(text, region, strings.Replace(region, m.old, m.new, 1), 1), nil
}

// buildMutant builds the Go server and client with m applied into dir.
func buildMutant(ctx context.Context, m mutant, dir string) (side, error) {
	root := standalone.RepoRoot()
	src, mutatedText, err := mutate(m)
	if err != nil {
		return side{}, err
	}
	mutated := filepath.Join(dir, filepath.Base(m.file))
	if err := os.WriteFile(mutated, []byte(mutatedText), 0o644); err != nil {
		return side{}, err
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {src: mutated}})
	if err != nil {
		return side{}, err
	}
	overlayPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayPath, overlay, 0o644); err != nil {
		return side{}, err
	}
	bin := filepath.Join(dir, "bin")
	// The server only: the mutants are server bugs, and one link per mutant is the cost
	// that counts; the client checks use the plain Go client.
	cmd := exec.CommandContext(ctx, "go", "build", "-overlay", overlayPath, "-o", bin+"/", "./gosrv/cmd/server")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return side{}, fmt.Errorf("go build %s: %v\n%s", m.name, err, out)
	}
	return side{name: "mutant " + m.name, server: filepath.Join(bin, "server")}, nil
}

// TestMutantTable: every mutant applies exactly once, names are unique, and each names the
// check that catches it; cheap, so it runs in -short too.
func TestMutantTable(t *testing.T) {
	requireTable(t, "mutants", mutants, 30, func(m mutant) string { return m.name })
	for _, m := range mutants {
		require.NotEmpty(t, m.caughtBy, "mutant %s names no check", m.name)
		require.NotEmpty(t, m.evidence, "mutant %s names no evidence", m.name)
		_, _, err := mutate(m)
		assert.NoError(t, err)
	}
}

func TestMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("mutants take minutes; not in -short")
	}
	c, g := sides(t)
	checks := standaloneChecks(t, g)
	byName := map[string]int{}
	for i, ch := range checks {
		byName[ch.name] = i
	}

	// Each named check's verdicts, computed once and shared by every mutant that names
	// it: C twice (its own noise) and the unmutated Go.
	type verdict struct {
		once        sync.Once
		ref         *engine.Transcript
		noise, port string // C against C, C against Go: "" when they agree
		err         error
	}
	verdicts := make([]verdict, len(checks))
	judge := func(i int) *verdict {
		v := &verdicts[i]
		v.once.Do(func() {
			ch := checks[i]
			if v.ref, v.err = ch.run(c); v.err != nil {
				return
			}
			again, err := ch.run(c)
			if err != nil {
				v.err = fmt.Errorf("C's second run: %w", err)
				return
			}
			v.noise = diffCheck(checks[i].name, v.ref, again, "C again")
			got, err := ch.run(g)
			if err != nil {
				v.err = fmt.Errorf("the unmutated Go: %w", err)
				return
			}
			v.port = diffCheck(checks[i].name, v.ref, got, "Go")
		})
		return v
	}

	slots := make(chan struct{}, 2) // two cores
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			i, ok := byName[m.caughtBy]
			require.True(t, ok, "mutant %s: no check is named %q", m.name, m.caughtBy)
			slots <- struct{}{}
			defer func() { <-slots }()
			v := judge(i)
			var skip errSkip
			if errors.As(v.err, &skip) {
				ciskip.Skipf(t, ciskip.Because, "%s cannot run here: %s", m.caughtBy, skip.reason)
			}
			require.NoError(t, v.err, "check %s", m.caughtBy)
			require.Empty(t, v.noise, "check %s: C differs from itself; a difference here is noise, not a catch", m.caughtBy)
			require.Empty(t, v.port, "check %s: the unmutated Go server fails it", m.caughtBy)

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			mut, err := buildMutant(ctx, m, t.TempDir())
			require.NoError(t, err)
			mut.client = g.client
			got, err := checks[i].run(mut)
			var seen []string
			for _, ev := range strings.Split(m.evidence, " or ") {
				if text, ok := strings.CutPrefix(ev, "failure: "); ok {
					if err != nil && strings.Contains(err.Error(), text) {
						t.Logf("caught by %s: %v", m.caughtBy, err)
						return
					}
					continue
				}
				if err != nil {
					continue
				}
				d := diffCheck(m.caughtBy, v.ref, got, "mutant")
				kinds := evidenceOf(m.caughtBy, d)
				if kinds[ev] {
					t.Logf("caught by %s, %s:\n%s", m.caughtBy, ev, d)
					return
				}
				for k := range kinds {
					seen = append(seen, k)
				}
			}
			if err != nil {
				require.Failf(t, "caught otherwise", "mutant %s: %s failed, but not as its row says (%s): %v", m.name, m.caughtBy, m.evidence, err)
			}
			require.Failf(t, "not caught by its evidence", "mutant %s: %s shows %v, not its %s:\n%s", m.name, m.caughtBy, seen, m.evidence, diffCheck(m.caughtBy, v.ref, got, "mutant"))

		})
	}
}
