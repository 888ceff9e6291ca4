//go:build linux

package systrace

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cServer is a C server at a made-up path: the frames of /srv/epoll-et are its own.
var cServer = Server{Lang: C, Path: "/srv/epoll-et", Root: "/repo"}

// cTrace is strace -f -k text of a C server: each call made by main through libc's
// wrapper, the way strace prints it.
func cTrace(calls ...string) string {
	var sb strings.Builder
	for _, c := range calls {
		sb.WriteString("100 " + c + "\n")
		sb.WriteString(" > /usr/lib/x86_64-linux-gnu/libc.so.6(wrapper+0x10) [0x7f0000001000]\n")
		sb.WriteString(" > /srv/epoll-et(main+0x40) [0x401040]\n")
	}
	return sb.String()
}

func analyse(t *testing.T, text string) *Trace {
	t.Helper()
	calls, err := Parse(strings.NewReader(text))
	require.NoError(t, err)
	return Analyze(calls, cServer, nil)
}

func texts(tr *Trace) []string {
	var out []string
	for _, e := range tr.Entries {
		out = append(out, e.Text)
	}
	return out
}

func TestParseJoinsSplitCalls(t *testing.T) {
	text := `100 epoll_wait(4,  <unfinished ...>
101 close(7 <unfinished ...>
100 <... epoll_wait resumed>[{events=EPOLLIN, data={u32=5, u64=5}}], 64, -1) = 1
 > /srv/epoll-et(main+0x10) [0x401010]
101 <... close resumed>) = 0
102 restart_syscall(<... resuming interrupted poll ...> <unfinished ...>
`
	calls, err := Parse(strings.NewReader(text))
	require.NoError(t, err)
	require.Len(t, calls, 3)
	// close stands where it started (its number is free from then on), epoll_wait where
	// it completed (its answer exists from then on).
	assert.Equal(t, "close", calls[0].Name)
	assert.Equal(t, "0", calls[0].Result)
	assert.Equal(t, "epoll_wait", calls[1].Name)
	assert.Equal(t, "4, [{events=EPOLLIN, data={u32=5, u64=5}}], 64, -1", calls[1].Args)
	assert.Equal(t, "1", calls[1].Result)
	assert.Equal(t, []Frame{{Module: "/srv/epoll-et", Func: "main", Off: 0x10}}, calls[1].Stack)
	assert.Equal(t, "restart_syscall", calls[2].Name)
}

func TestParseFoldsRestartIntoTheInterruptedCall(t *testing.T) {
	text := `100 poll([{fd=3, events=POLLIN}], 1, -1 <unfinished ...>
100 --- SIGSTOP {si_signo=SIGSTOP} ---
100 restart_syscall(<... resuming interrupted poll ...>) = 1
 > /srv/poll(main+0x20) [0x401020]
`
	calls, err := Parse(strings.NewReader(text))
	require.NoError(t, err)
	require.Len(t, calls, 1)
	assert.Equal(t, "poll", calls[0].Name)
	assert.Equal(t, "1", calls[0].Result)
	assert.True(t, calls[0].Resumed)
	require.Len(t, calls[0].Stack, 1)
}

func TestSplitArgs(t *testing.T) {
	assert.Equal(t, []string{"4", "EPOLL_CTL_ADD", "5", "{events=EPOLLIN|EPOLLET, data={u32=5, u64=5}}"},
		SplitArgs("4, EPOLL_CTL_ADD, 5, {events=EPOLLIN|EPOLLET, data={u32=5, u64=5}}"))
	assert.Equal(t, []string{"5", `"a, b\"c"`, "4"}, SplitArgs(`5, "a, b\"c", 4`))
	assert.Nil(t, SplitArgs(""))
}

func TestCallResults(t *testing.T) {
	c := Call{Result: "-1 EAGAIN (Resource temporarily unavailable)"}
	assert.Equal(t, "EAGAIN", c.Failed())
	v, ok := c.IntResult()
	assert.True(t, ok)
	assert.Equal(t, -1, v)
	// Every restart is one kind of failure: the call is made again.
	assert.Equal(t, "ERESTART", Call{Result: "? ERESTARTSYS (To be restarted if SA_RESTART is set)"}.Failed())
	assert.Equal(t, "", Call{Result: "3"}.Failed())
}

// TestNormaliseKeepsEveryArgument: renaming descriptors, masking pointers and naming
// ports leaves every other argument as it was, so an event mask, a flag or a signal set
// that differs still differs.
func TestNormaliseKeepsEveryArgument(t *testing.T) {
	tr := analyse(t, cTrace(
		`socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 3`,
		`bind(3, {sa_family=AF_INET, sin_port=htons(41000), sin_addr=inet_addr("127.0.0.1")}, 16) = 0`,
		`epoll_create1(EPOLL_CLOEXEC) = 4`,
		`epoll_ctl(4, EPOLL_CTL_ADD, 3, {events=EPOLLIN|EPOLLET, data={u32=3, u64=3}}) = 0`,
		`accept4(3, {sa_family=AF_INET, sin_port=htons(52000), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_NONBLOCK) = 5`,
		`write(1, "new conn 127.0.0.1:52000\n", 25) = 25`,
		`recvfrom(5, 0x7ffd12345678, 4096, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)`,
		`close(5) = 0`,
		`accept4(3, NULL, NULL, SOCK_NONBLOCK) = 5`,
		`rt_sigprocmask(SIG_BLOCK, [INT TERM], NULL, 8) = 0`,
	))
	assert.Empty(t, tr.Unexplained)
	assert.Equal(t, []string{
		`socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = d0`,
		`bind(d0, {sa_family=AF_INET, sin_port=htons(PORT), sin_addr=inet_addr("127.0.0.1")}, 16) = 0`,
		`epoll_create1(EPOLL_CLOEXEC) = d1`,
		`epoll_ctl(d1, EPOLL_CTL_ADD, d0, {events=EPOLLIN|EPOLLET, data=d0}) = 0`,
		`accept4(d0, {sa_family=AF_INET, sin_port=htons(PEER1), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_NONBLOCK) = d2`,
		`write(fd1, "new conn 127.0.0.1:PEER1\n", 25) = 25`,
		`recvfrom(d2, 0x…, 4096, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)`,
		`close(d2) = 0`,
		// The same number given again is a new descriptor.
		`accept4(d0, NULL, NULL, SOCK_NONBLOCK) = d3`,
		`rt_sigprocmask(SIG_BLOCK, [INT TERM], NULL, 8) = 0`,
	}, texts(tr))
	for _, e := range tr.Entries {
		assert.Equal(t, Model, e.Class, e.Text)
		assert.Equal(t, "main", e.Site, e.Text)
	}
}

// TestSequenceSeesTheModel: the mechanism mutants the suite plants, in miniature. An
// edge-triggered registration against a level-triggered one, an extra EAGAIN spin on a
// different call, a clone with CLONE_VM: each is a difference Diff reports.
func TestSequenceSeesTheModel(t *testing.T) {
	seq := func(calls ...string) []Step { return analyse(t, cTrace(calls...)).Sequence(false) }
	base := []string{
		`epoll_create1(EPOLL_CLOEXEC) = 4`,
		`epoll_ctl(4, EPOLL_CTL_ADD, 3, {events=EPOLLIN|EPOLLET, data={u32=3, u64=3}}) = 0`,
		`recvfrom(5, 0x7ffd12345678, 4096, 0, NULL, NULL) = 5`,
		`recvfrom(5, 0x7ffd12345678, 4096, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)`,
	}
	same := seq(base...)
	assert.Equal(t, "", Diff(same, seq(base...), "C", "Go"))

	level := append([]string(nil), base...)
	level[1] = `epoll_ctl(4, EPOLL_CTL_ADD, 3, {events=EPOLLIN, data={u32=3, u64=3}}) = 0`
	d := Diff(same, seq(level...), "C", "Go")
	assert.Contains(t, d, "C: epoll_ctl(d0, EPOLL_CTL_ADD, d1, {events=EPOLLIN|EPOLLET, data=d1}) = 0")
	assert.Contains(t, d, "Go: epoll_ctl(d0, EPOLL_CTL_ADD, d1, {events=EPOLLIN, data=d1}) = 0")

	// Three EAGAINs of the same call are one step, as one is: how many rounds find
	// nothing is timing.
	spin := append(append([]string(nil), base...), base[3], base[3])
	assert.Equal(t, "", Diff(same, seq(spin...), "C", "Go"))
	// A spin through another call is not.
	other := append(append([]string(nil), base...), `read(5, 0x7ffd12345678, 4096) = -1 EAGAIN (Resource temporarily unavailable)`)
	d = Diff(same, seq(other...), "C", "Go")
	assert.Contains(t, d, "(one or more) recvfrom(d2, 0x…, 4096, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable) | read(")

	fork := func(flags string) []Step {
		return seq(`clone3({flags=` + flags + `, exit_signal=SIGCHLD, stack=NULL, stack_size=0}, 88) = 4242`)
	}
	d = Diff(fork("CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID"), fork("CLONE_VM|CLONE_VFORK"), "C", "mutant")
	assert.Contains(t, d, "mutant: clone3({flags=CLONE_VM|CLONE_VFORK")
}

// TestStopWritesCountedApart: the stop eventfd's write lands wherever the signal came;
// it is counted, not placed, and a missing stop still shows.
func TestStopWritesCountedApart(t *testing.T) {
	seq := func(calls ...string) []Step { return analyse(t, cTrace(calls...)).Sequence(false) }
	a := seq(`eventfd2(0, EFD_CLOEXEC) = 3`, `write(3, "\1\0\0\0\0\0\0\0", 8) = 8`, `epoll_create1(EPOLL_CLOEXEC) = 4`)
	b := seq(`eventfd2(0, EFD_CLOEXEC) = 3`, `epoll_create1(EPOLL_CLOEXEC) = 4`, `write(3, "\1\0\0\0\0\0\0\0", 8) = 8`)
	assert.Equal(t, "", Diff(a, b, "C", "Go"))
	none := seq(`eventfd2(0, EFD_CLOEXEC) = 3`, `epoll_create1(EPOLL_CLOEXEC) = 4`)
	assert.Contains(t, Diff(a, none, "C", "Go"), "the stop eventfd written 0 times")
}

// TestUnexplainedCallsAreKept: a call made through libc's machinery is housekeeping only
// where a row names it; one no row names is unexplained, not dropped.
func TestUnexplainedCallsAreKept(t *testing.T) {
	viaMalloc := func(call string) string {
		return "100 " + call + "\n" +
			" > /usr/lib/x86_64-linux-gnu/libc.so.6(__brk+0x7) [0x7f0000001000]\n" +
			" > /usr/lib/x86_64-linux-gnu/libc.so.6(malloc+0x20) [0x7f0000002000]\n" +
			" > /srv/epoll-et(main+0x40) [0x401040]\n"
	}
	tr := analyse(t, cTrace(`epoll_create1(EPOLL_CLOEXEC) = 4`)+
		viaMalloc(`brk(NULL) = 0x5555000`)+
		viaMalloc(`openat(AT_FDCWD, "/etc/x", O_RDONLY) = 5`))
	require.Len(t, tr.Entries, 3)
	assert.Equal(t, Model, tr.Entries[0].Class)
	assert.Equal(t, "runtime:c-malloc", tr.Entries[1].Class)
	if assert.Len(t, tr.Unexplained, 1) {
		assert.Equal(t, "openat", tr.Unexplained[0].Call.Name)
	}
	// The comparison does not see housekeeping, and sees the unexplained call where it was
	// made (a mutant's call whose stack strace lost still shows its arguments).
	housekeeping := analyse(t, cTrace(`epoll_create1(EPOLL_CLOEXEC) = 4`)+viaMalloc(`brk(NULL) = 0x5555000`))
	assert.Equal(t, "", Diff(housekeeping.Sequence(false), analyse(t, cTrace(`epoll_create1(EPOLL_CLOEXEC) = 4`)).Sequence(false), "C", "Go"))
	d := Diff(tr.Sequence(false), housekeeping.Sequence(false), "C", "Go")
	assert.Contains(t, d, `first difference at step 3`)
	assert.Contains(t, d, `C: (no housekeeping row explains it) openat(AT_FDCWD, "/etc/x", O_RDONLY) = d1`)
}

// TestStacklessPreemption: a getpid strace gave no stack is the runtime's preemption only
// when the thread's next call is its tgkill SIGURG, or when the process ended before it.
func TestStacklessPreemption(t *testing.T) {
	goServer := Server{Lang: Go, Path: "/srv/gosrv", Root: "/repo"}
	model := "100 epoll_create1(EPOLL_CLOEXEC) = 4\n" +
		" > /srv/gosrv(github.com/iomodels/iomodels/gosrv.epollLT+0x40) [0x401040]\n"
	getpid := "101 getpid() = 100\n"
	urg := "101 tgkill(100, 102, SIGURG) = 0\n" +
		" > /srv/gosrv(runtime.tgkill.abi0+0x10) [0x402000]\n" +
		" > /srv/gosrv(runtime.signalM+0x20) [0x402100]\n"
	other := "101 tgkill(100, 102, SIGIO) = 0\n"
	for _, tc := range []struct {
		trace       string
		unexplained int
	}{
		{model + getpid + urg, 0},
		{model + getpid + other, 2},
		{model + getpid, 0},
		{model + getpid + "101 exit(0) = ?\n", 1},
	} {
		calls, err := Parse(strings.NewReader(tc.trace))
		require.NoError(t, err)
		tr := Analyze(calls, goServer, nil)
		assert.Len(t, tr.Unexplained, tc.unexplained, tc.trace)
	}
}

// TestBackoffSleepInterrupted: nonblock's sleep cut short by the stop signal (C's handler
// runs on the sleeping thread) is the same step as one slept out (Go's signal goroutine
// takes the signal on another thread).
func TestBackoffSleepInterrupted(t *testing.T) {
	round := []string{
		`accept4(3, 0x7ffd12345678, [16], SOCK_CLOEXEC|SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)`,
		`poll([{fd=2, events=POLLIN}], 1, 0) = 0 (Timeout)`,
	}
	seq := func(sleep string) []Step {
		calls := append(append([]string(nil), round...), `clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=250000000}, NULL) = `+sleep,
			`poll([{fd=2, events=POLLIN}], 1, 0) = 1 ([{fd=2, revents=POLLIN}])`)
		tr := analyse(t, cTrace(calls...))
		require.Empty(t, tr.Unexplained)
		return tr.Sequence(false)
	}
	slept := seq("0")
	assert.Equal(t, "", Diff(slept, seq("? ERESTART_RESTARTBLOCK (Interrupted by signal)"), "C", "Go"))
	assert.Equal(t, "", Diff(slept, seq("-1 EINTR (Interrupted system call)"), "C", "Go"))
	// Another call cut short is still the interrupted row's, and not a step.
	tr := analyse(t, cTrace(`epoll_wait(4, 0x7ffd12345678, 64, -1) = -1 EINTR (Interrupted system call)`))
	assert.Equal(t, "runtime:interrupted", tr.Entries[0].Class)
}

// TestResumedPollTimeout: a zero-timeout poll the kernel resumed after a signal shows
// only its count; it is the same not-yet step as one strace marks "(Timeout)".
func TestResumedPollTimeout(t *testing.T) {
	seq := func(calls ...string) []Step { return analyse(t, cTrace(calls...)).Sequence(false) }
	timeout := `poll([{fd=2, events=POLLIN}], 1, 0) = 0 (Timeout)`
	accept := `accept4(3, 0x7ffd12345678, [16], SOCK_CLOEXEC|SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)`
	stop := `poll([{fd=2, events=POLLIN}], 1, 0) = 1 ([{fd=2, revents=POLLIN}])`
	assert.Equal(t, "", Diff(seq(accept, timeout, stop), seq(accept, `poll([{fd=2, events=POLLIN}], 1, 0) = 0`, accept, stop), "C", "Go"))
	// A poll that found a descriptor is not a timeout.
	assert.NotEqual(t, "", Diff(seq(accept, timeout, stop), seq(accept, stop, stop), "C", "Go"))
}

// TestResumedPollCount: a poll the kernel resumed shows its count alone; it is the same
// step as one that shows its revents with that count, and a different one with another
// count, whether the steps carry their entries or only their texts (the mutants' notes).
func TestResumedPollCount(t *testing.T) {
	resumed := "100 poll([{fd=3, events=POLLIN}, {fd=4, events=POLLIN}], 2, -1 <unfinished ...>\n" +
		"100 --- SIGCHLD {si_signo=SIGCHLD} ---\n" +
		"100 restart_syscall(<... resuming interrupted poll ...>) = 1\n" +
		" > /srv/epoll-et(main+0x40) [0x401040]\n"
	r := analyse(t, resumed).Sequence(false)
	require.Len(t, r, 3) // the process's header, the poll, the stop eventfd's sum
	assert.Equal(t, "poll([{fd=d0, events=POLLIN}, {fd=d1, events=POLLIN}], 2, -1) = 1"+Resumed, r[1].Text)
	seen := analyse(t, cTrace(`poll([{fd=3, events=POLLIN}, {fd=4, events=POLLIN}], 2, -1) = 1 ([{fd=4, revents=POLLIN}])`)).Sequence(false)
	two := analyse(t, cTrace(`poll([{fd=3, events=POLLIN}, {fd=4, events=POLLIN}], 2, -1) = 2 ([{fd=3, revents=POLLIN}, {fd=4, revents=POLLIN}])`)).Sequence(false)
	assert.Equal(t, "", Diff(seen, r, "C", "Go"))
	assert.NotEqual(t, "", Diff(two, r, "C", "Go"))
	textOnly := func(s []Step) []Step {
		var out []Step
		for _, st := range s {
			out = append(out, Step{Text: st.Text})
		}
		return out
	}
	assert.Equal(t, "", Diff(textOnly(seen), textOnly(r), "C", "Go"))
	assert.NotEqual(t, "", Diff(textOnly(two), textOnly(r), "C", "Go"))
}

// TestPollerCallersLost: a call on the poller's descriptors whose stack strace cut after
// the runtime's system-call package is the poller's; the same stack on another
// descriptor is unexplained (the syscall package, which x/sys/unix uses, goes through it).
func TestPollerCallersLost(t *testing.T) {
	goServer := Server{Lang: Go, Path: "/srv/gosrv", Root: "/repo"}
	trace := func(fd int) string {
		return "100 epoll_create1(EPOLL_CLOEXEC) = 3\n" +
			" > /srv/gosrv(github.com/iomodels/iomodels/gosrv.OpenRuntimeFds+0x40) [0x401040]\n" +
			"100 eventfd2(0, EFD_CLOEXEC) = 4\n" +
			" > /srv/gosrv(github.com/iomodels/iomodels/gosrv.OpenRuntimeFds+0x40) [0x401040]\n" +
			"100 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 5\n" +
			" > /srv/gosrv(github.com/iomodels/iomodels/gosrv.listen+0x40) [0x401080]\n" +
			fmt.Sprintf("101 epoll_pwait(%d, [], 128, 0, NULL, 0) = 0\n", fd) +
			" > /srv/gosrv(internal/runtime/syscall/linux.Syscall6+0xe) [0x402000]\n"
	}
	for fd, class := range map[int]string{3: "runtime:go-netpoll", 5: Unexplained} {
		calls, err := Parse(strings.NewReader(trace(fd)))
		require.NoError(t, err)
		tr := Analyze(calls, goServer, nil)
		require.Len(t, tr.Entries, 4)
		assert.Equal(t, class, tr.Entries[3].Class, tr.Entries[3].Text)
	}
}

// TestParseRestartOfRestart: a restart_syscall cut short in turn and resumed by another
// ("resuming interrupted restart_syscall") is still the first call, resumed.
func TestParseRestartOfRestart(t *testing.T) {
	for name, text := range map[string]string{
		"completed": `100 poll([{fd=3, events=POLLIN}], 1, -1) = ? ERESTART_RESTARTBLOCK (Interrupted by signal)
100 --- SIGCHLD {si_signo=SIGCHLD} ---
100 restart_syscall(<... resuming interrupted poll ...>) = ? ERESTART_RESTARTBLOCK (Interrupted by signal)
100 --- SIGCHLD {si_signo=SIGCHLD} ---
100 restart_syscall(<... resuming interrupted restart_syscall ...>) = 1
 > /srv/poll(main+0x20) [0x401020]
`,
		"unfinished": `100 poll([{fd=3, events=POLLIN}], 1, -1 <unfinished ...>
101 getpid() = 100
100 --- SIGCHLD {si_signo=SIGCHLD} ---
100 restart_syscall(<... resuming interrupted poll ...> <unfinished ...>
101 getpid() = 100
100 --- SIGCHLD {si_signo=SIGCHLD} ---
100 restart_syscall(<... resuming interrupted restart_syscall ...>) = 1
 > /srv/poll(main+0x20) [0x401020]
`,
	} {
		calls, err := Parse(strings.NewReader(text))
		require.NoError(t, err, name)
		var last Call
		for _, c := range calls {
			if c.Tid == 100 {
				last = c
			}
		}
		assert.Equal(t, "poll", last.Name, name)
		assert.Equal(t, "1", last.Result, name)
		assert.True(t, last.Resumed, name)
		assert.Len(t, last.Stack, 1, name)
		for _, c := range calls {
			assert.NotEqual(t, "restart_syscall", c.Name, name)
		}
	}
}
