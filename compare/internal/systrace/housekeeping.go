//go:build linux

package systrace

import (
	"regexp"
	"strings"
)

// Row is one kind of system call that is not a step of the model: a pattern (which call,
// its normalised text, which code made it) and the reason it is not compared. The rows
// are the only place that says what the system-call comparison leaves out.
type Row struct {
	Name string
	Lang Lang // "" for both
	// Call matches the call's name; Text its normalised text ("" matches any).
	Call, Text string
	// Site matches the function of the project's frame that made it: "-" for a call with
	// no frame of the project's (a runtime thread, libc's start of a thread), "" for any.
	Site string
	// Via matches the runtime or libc machinery between that frame and the kernel ("" for
	// any).
	Via string
	// Machinery: the row explains only calls the project's code did not make itself
	// (no frame of the project's, or runtime or libc machinery in between). For a call
	// with no frame of the project's, Via matches its innermost frame.
	Machinery bool
	// Unfinished: the row explains only calls that never returned (strace's "= ?").
	Unfinished bool
	// Next matches the same thread's next call, as strace printed it ("" for any).
	Next   string
	Reason string

	call, text, site, via, next *regexp.Regexp
}

// Housekeeping is the table. Order matters: the first row that matches explains a call.
var Housekeeping = []Row{
	{Name: "signal-disposition", Call: `^rt_sigaction$`,
		Reason: "compared apart, as the disposition of every signal at the exit (handled, ignored, default): Go's runtime installs its handlers before main and on a thread of its own when os/signal asks, C's main installs them itself"},
	{Name: "signal-return", Call: `^rt_sigreturn$`,
		Reason: "the return from a signal handler: C's stop handler runs on the thread the signal interrupts; Go's runtime takes signals on any of its threads, and preempts goroutines with SIGURG"},
	{Name: "interrupted", Text: `= -1 EINTR|= \? ERESTART|ERESTART`,
		Reason: "a call cut short by a signal and made again right after (the next call of the same thread): where a signal lands differs by design (see signal-return); a call the kernel resumes by itself (restart_syscall) is compared as the call it resumes"},

	// What C's main does so that it starts as Go's runtime does before main.
	{Name: "c-start-like-go", Lang: C, Site: `^(reopen_stdio|reset_signals|unblock_signals|open_runtime_fds)$`,
		Reason: "C's main does what Go's runtime does before main (runtime.checkfds, initsig, the signal mask, the network poller's two descriptors), so that both start alike; Go's start-up is not traced"},
	{Name: "c-start-like-go", Lang: C, Call: `^prlimit64$`, Text: `RLIMIT_NOFILE`, Site: `^main$`,
		Reason: "C's main raises its soft RLIMIT_NOFILE to the hard limit, as Go's runtime does before main"},

	// Go's runtime.
	{Machinery: true, Name: "go-netpoll", Lang: Go, Call: `^(epoll_create1|eventfd2|epoll_ctl|epoll_pwait|read|write)$`, Text: `^\w+\(d[01]\b|^(epoll_create1|eventfd2)\(.*= d[01]$`, Via: `^runtime\.|^internal/poll\.|^internal/runtime/syscall/|^\(no stack\)$`,
		Reason: "Go's network poller (runtime/netpoll_epoll.go): its epoll instance and eventfd, d0 and d1, made at gosrv.OpenRuntimeFds; C opens the same two (c-start-like-go), so both number their descriptors alike (the project's code never touches d0 and d1: a call on them with no stack, or with the runtime's system-call package alone, its callers lost, is the poller's too)"},
	{Machinery: true, Name: "go-thread-park", Lang: Go, Via: `^runtime\.|^\(no stack\)$`, Call: `^futex$`,
		Reason: "the runtime parks and wakes its threads (Ms) on futexes (the project's Go code makes no futex call: one with no stack is the runtime's too)"},
	{Machinery: true, Name: "go-thread-sleep", Lang: Go, Via: `^runtime\.|^\(no stack\)$`, Call: `^(nanosleep|sched_yield|restart_syscall)$`, Text: `^(?:nanosleep|sched_yield)\(|^restart_syscall\(<\.\.\. resuming interrupted (futex|nanosleep)`,
		Reason: "the runtime's spinning and sysmon's sleeps (runtime.usleep, osyield; the project's Go code sleeps only with clock_nanosleep), and a runtime thread's timed wait resumed after a signal interrupted it (fork's SIGCHLD, which the runtime handles, lands on any thread)"},
	{Machinery: true, Name: "go-thread-start", Lang: Go, Via: `^runtime\.`, Call: `^clone$`, Text: `CLONE_VM\|CLONE_FS\|CLONE_FILES\|CLONE_SIGHAND\|CLONE_THREAD`,
		Reason: "the runtime starts an OS thread (runtime.newm): for sysmon, for a goroutine whose blocking call holds its thread, for the signal and timer goroutines"},
	{Machinery: true, Name: "go-thread-setup", Lang: Go, Via: `^runtime\.`, Call: `^(sigaltstack|rt_sigprocmask|gettid|arch_prctl|set_robust_list|rseq|exit)$`,
		Reason: "a runtime thread's set-up and end: its signal stack and mask, its id; exit ends the thread alone"},
	{Machinery: true, Name: "go-memory", Lang: Go, Via: `^runtime\.`, Call: `^(mmap|munmap|madvise|mprotect|prctl)$`,
		Reason: "the runtime's heap, stacks and their names (PR_SET_VMA)"},
	{Machinery: true, Name: "go-preempt", Lang: Go, Via: `^runtime\.(signalM|preemptM|preemptone)`, Call: `^(tgkill|getpid)$`, Text: `SIGURG|^getpid`,
		Reason: "asynchronous preemption: the runtime sends SIGURG to a thread whose goroutine runs too long"},
	{Machinery: true, Name: "go-preempt", Lang: Go, Via: `^\(no stack\)$`, Call: `^getpid$`, Next: `^tgkill\(\d+, \d+, SIGURG\) = 0$|^\(none: the process ended\)$`,
		Reason: "the same, where strace lost the getpid's stack (now and then, under load): the thread's next call is the preemption's tgkill SIGURG, which no code of the project's sends, or none, the process having ended between the two (the project's own getpid, in sigio and in a re-raised signal, has its stack and is followed by gettid or tgkill)"},
	{Machinery: true, Name: "go-signal-forward", Lang: Go, Call: `^(tgkill|getpid|gettid|rt_sigprocmask|rt_sigaction)$`, Via: `^runtime\.(dieFromSignal|raise|raiseproc|sigfwd)`,
		Reason: "the runtime re-raising a signal whose default disposition it restores (a fatal signal ends the process by the signal, as C's does)"},
	{Machinery: true, Name: "go-rand", Lang: Go, Via: `^runtime\.`, Call: `^getrandom$`,
		Reason: "the runtime's random seed"},
	{Machinery: true, Name: "go-cpus", Lang: Go, Via: `^runtime\.|^\(no stack\)$`, Call: `^(sched_getaffinity|openat|read|pread64|close)$`, Text: `sched_getaffinity|cgroup|/sys/`,
		Reason: "the runtime reads the CPUs and cgroup quota it may use (GOMAXPROCS), at start and again now and then from sysmon (GOMAXPROCS follows them); the project's code reads none of them, so such a call with no stack is the runtime's too"},
	{Machinery: true, Name: "go-cut-by-exit", Lang: Go, Unfinished: true, Site: `^-$`,
		Reason: "a runtime thread's call still waiting when the process exits (no result, no stack: the exit ends the thread inside it)"},
	{Machinery: true, Name: "go-exit-race", Lang: Go, Via: `^runtime\.`, Call: `^exit_group$`, Site: `^-$`,
		Reason: "a second thread reaching the process's exit while the first one ends it"},

	// libc's machinery in C.
	{Machinery: true, Name: "c-malloc", Lang: C, Call: `^(brk|mmap|munmap|getrandom|madvise|mprotect)$`, Via: `malloc|calloc|realloc|morecore|tcache|arena|free`,
		Reason: "glibc's malloc: its heap (the thread model's per-connection state)"},
	{Machinery: true, Name: "c-thread-start", Lang: C, Call: `^(mmap|mprotect|clone3|rt_sigprocmask|munmap|madvise)$`, Via: `pthread|create_thread|clone`,
		Reason: "pthread_create starts a thread: its stack, guard page, mask and the clone3 of a thread (the thread model's one per connection; Go's goroutine gets an OS thread from the runtime, go-thread-start)"},
	{Machinery: true, Name: "c-thread-start", Lang: C, Call: `^clone3$`, Site: `^-$`, Text: `^clone3\(\{flags=CLONE_VM\|CLONE_FS\|CLONE_FILES\|CLONE_SIGHAND\|CLONE_THREAD\|CLONE_SYSVSEM\|CLONE_SETTLS\|CLONE_PARENT_SETTID\|CLONE_CHILD_CLEARTID,`,
		Reason: "pthread_create's clone3 of a thread (libc's clone3 stub has no unwind information: the stack ends there)"},
	{Machinery: true, Name: "c-thread-sync", Lang: C, Call: `^futex$`, Via: `pthread_cond|pthread_mutex|lll_lock|pthread_kill|nptl`,
		Reason: "C's connection threads tell the main thread they are done through a mutex and a condition variable (futexes); Go's goroutines through a sync.WaitGroup, which the runtime parks on futexes too (go-thread-park)"},
	{Machinery: true, Name: "c-thread-setup", Lang: C, Call: `^(rseq|set_robust_list|rt_sigprocmask|madvise|munmap|exit|futex)$`, Site: `^-$`,
		Reason: "libc's start and end of a thread (start_thread): restartable sequences, the robust futex list, the stack given back"},
}

// goRuntimeSignal: the signals whose disposition at the exit differs by design, C's then
// Go's: those Go's runtime handles for itself where C keeps the default, each handler
// doing what the default would for a signal sent from outside (CONTRACT.md § Faults).
var goRuntimeSignal = map[string][2]string{
	"SIGURG":   {"default", "handled"}, // preemption; ignored when sent by kill, as by default
	"SIGCHLD":  {"default", "handled"}, // ignored, as by default
	"SIGWINCH": {"default", "handled"}, // ignored, as by default
	"SIGSEGV":  {"default", "handled"}, // a fault in Go code is a panic; kill's makes the server die of it
	"SIGBUS":   {"default", "handled"},
	"SIGFPE":   {"default", "handled"},
	"SIGILL":   {"default", "handled"},
	"SIGTRAP":  {"default", "handled"},
	"SIGRT_1":  {"ignored", "handled"}, // 33: the runtime's all-threads calls; its handler ignores kill's, C ignores it
}

// modelSignal: likewise, for one model.
var modelSignal = map[string]map[string][2]string{
	// The readiness signals: C blocks them on every thread and takes them with
	// sigtimedwait; Go's serving thread does the same, and the runtime's handler drops one
	// that reaches another thread (one sent to the process by kill), which C leaves pending.
	"sigio": {"SIGIO": {"default", "handled"}, "SIGRT_8": {"default", "handled"}},
}

func init() {
	for i := range Housekeeping {
		r := &Housekeeping[i]
		r.call, r.text, r.site, r.via, r.next = compile(r.Call), compile(r.Text), compile(r.Site), compile(r.Via), compile(r.Next)
	}
}

func compile(s string) *regexp.Regexp {
	if s == "" {
		return nil
	}
	return regexp.MustCompile(s)
}

// explain names the row that explains e, or "". nonblock's backoff sleep, made by the
// project's code, is the model's however it ended (see backoff).
func explain(lang Lang, e Entry) string {
	if e.siteFunc != "" && e.via == "" && backoff.MatchString(e.Text) {
		return ""
	}
	site := e.siteFunc
	if site == "" {
		site = "-"
	}
	for _, r := range Housekeeping {
		if r.Lang != "" && r.Lang != lang {
			continue
		}
		if r.Machinery && e.siteFunc != "" && e.via == "" {
			continue
		}
		if r.Unfinished && e.Call.Result != "" && !strings.HasPrefix(e.Call.Result, "?") {
			continue
		}
		if r.call != nil && !r.call.MatchString(e.Call.Name) ||
			r.text != nil && !r.text.MatchString(e.Text) ||
			r.site != nil && !r.site.MatchString(site) ||
			r.via != nil && !r.via.MatchString(e.via) ||
			r.next != nil && !r.next.MatchString(e.next) {
			continue
		}
		return r.Name
	}
	return ""
}
