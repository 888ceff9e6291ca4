/*
 * server_main.c - the standalone server: `server MODEL [PORT]`.
 *
 * It listens, reports the port (so that PORT 0 can be used), and runs the model until
 * SIGINT, SIGTERM or SIGHUP. The seed's handler printed and called exit() inside the
 * signal handler; here the handler only records the signal and writes the stop eventfd
 * (both async-signal-safe), the model returns, and main prints the seed's line.
 *
 * Signals (CONTRACT.md § Faults): the lowest-numbered of SIGHUP, SIGINT, SIGTERM received
 * before the server finished stopping names the final line; every other signal keeps its default
 * disposition, which the Go twin reproduces: a terminating one kills the process by that
 * signal, a stopping one stops it, an ignored one is ignored, whatever the server inherited;
 * signal 33 (glibc's SIGSETXID) is ignored from the start; see reset_signals. SIGPIPE kills
 * it too, its connections aborted first (handle_sigpipe). Descriptors 0-2, when closed at the start,
 * are opened on /dev/null (reopen_stdio), as Go's runtime does.
 * Go twin: gosrv/cmd/server/main.go.
 */
#include "echo.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;
static int stopfd = -1;

/*
 * The stop handler. The final line names the lowest-numbered stop signal received before
 * the server finished stopping (SIGHUP 1, SIGINT 2, SIGTERM 15): the kernel hands out the
 * lowest-numbered of a thread's pending signals first, so that is "the first" of two
 * pending together; two sent back to back may also land on two threads (sigio's watcher,
 * thread's connection threads) and run their handlers in either order, and taking the
 * lowest makes the name the same every time, in C and Go. The compare-and-swap loop keeps
 * the minimum when two threads take two signals at once (sa_mask blocks the other two
 * stop signals only on the thread running the handler).
 */
static void handle_signal(int sig)
{
    int saved = errno;
    uint64_t one = 1;
    for (;;) {
        int cur = got_signal;
        if ((cur != 0 && cur <= sig) || __sync_bool_compare_and_swap(&got_signal, cur, sig))
            break;
    }
    if (write(stopfd, &one, sizeof(one)) < 0) {
        /* The counter cannot overflow from a few signals; nothing else can fail here. */
    }
    errno = saved;
}

/*
 * SIGPIPE, raised by the kernel on the writing thread when a log line meets a pipe whose
 * reader is gone (before write returns), or sent by kill: the server dies of it as its
 * default disposition would, with its connections aborted first, so that every client
 * sees a reset whatever its timing (die_of_sigpipe; CONTRACT.md § Faults). The Go twin
 * asks its runtime for SIGPIPE (signal.Notify) and does the same.
 */
static void handle_sigpipe(int sig)
{
    (void)sig;
    die_of_sigpipe();
}

/*
 * A stop signal the kernel has queued for the process that no thread has taken yet (two
 * sent back to back can land on two threads; the second may still wait for its thread to
 * run) is taken now, blocked and then consumed with a zero-timeout sigtimedwait: it counts
 * as received before the server finished stopping. The Go twin does the same (its runtime's
 * threads take signals at moments of their own). rt_sigtimedwait directly: the same call
 * as Go's.
 */
static void take_pending(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct timespec zero = { 0, 0 };
    siginfo_t info;
    for (int i = 0; i < 3; i++) {
        int sig = sigtimedwait(&set, &info, &zero);
        if (sig < 0 && errno == EINTR)
            continue;
        if (sig < 0)
            break; /* EAGAIN: none left */
        if (got_signal == 0 || sig < got_signal)
            got_signal = sig;
    }
}

/*
 * Descriptors 0, 1 and 2 closed at the start (`server MODEL >&- 2>&-`) are opened on
 * /dev/null, as Go's runtime does before main (runtime.checkfds). Without it the seed's
 * first descriptors (the stop eventfd, the listening socket) took their numbers: log lines
 * went into the socket or the eventfd, and a client could read them.
 */
static void reopen_stdio(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int nfd = open("/dev/null", O_RDWR);
        if (nfd >= 0 && nfd != fd) { /* cannot happen: open takes the lowest free number */
            close(nfd);
            return;
        }
    }
}

/*
 * A signal ignored when the server starts (a shell's `trap '' PIPE`, nohup, a supervisor
 * that ignores SIGPIPE) gets its default disposition: the Go server cannot see what it
 * inherited (its runtime installs its own handlers before main) and gives them their
 * defaults (gosrv/cmd/server/main.go), so the C server does too. A handler is never
 * inherited across exec, so one found here was installed before main by a sanitizer's
 * runtime (ASan's for SIGSEGV, SIGBUS, SIGFPE) and is kept. Then main installs the stop
 * handlers for SIGINT, SIGTERM, SIGHUP. sigaction(2) directly: glibc's wrapper refuses its
 * own two signals, 32 and 33.
 *
 * Signal 33 is glibc's SIGSETXID (glibc reserves 32 and 33; SIGRTMIN is 34): glibc
 * installs its handler, which ignores a signal sent by kill, with the first pthread_create
 * (the thread model's first connection, sigio's watcher); until then its default
 * disposition terminated the server (observed). Go's runtime uses the same signal for its
 * all-threads system calls and ignores it when kill sends it. Ignored from the start here,
 * the C server does the same in every model at every moment, as the Go one does. Signal 32
 * (SIGCANCEL) keeps its default: glibc installs its handler only for pthread_cancel, which
 * no model calls, and Go's runtime installs none (it kills both).
 */
static void reset_signals(void)
{
    struct { /* the kernel's struct sigaction */
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
    } ksa, old;
    for (int sig = 1; sig <= 64; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        memset(&ksa, 0, sizeof(ksa));
        if (sig == 33) {
            ksa.handler = SIG_IGN;
        } else {
            if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(old.mask)) < 0 || old.handler != SIG_IGN)
                continue;
            ksa.handler = SIG_DFL;
        }
        syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
    }
}

/*
 * A signal blocked when the server starts (the parent's signal mask) stays blocked, as in
 * the Go server, whose runtime keeps the inherited mask on its threads except for the
 * signals it unblocks itself (observed: /proc/PID/task/N/status SigBlk with every signal
 * blocked at exec): HUP, INT, QUIT, ILL, TRAP, ABRT, BUS, FPE, SEGV, TERM, STKFLT, CHLD,
 * URG, PROF, SYS, 32, 33 and 34; and SIGPIPE, which the Go server asks its runtime for
 * (signal.Notify unblocks it on the runtime's signal thread). The C server unblocks the
 * same ones, so that a blocked SIGTERM still stops it and a blocked SIGUSR1 stays pending,
 * with no effect, in both.
 * rt_sigprocmask directly: glibc's sigaddset refuses 32 and 33.
 */
static void unblock_signals(void)
{
    static const int unblocked[] = { SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS,
                                     SIGFPE, SIGSEGV, SIGTERM, SIGSTKFLT, SIGCHLD, SIGURG,
                                     SIGPROF, SIGSYS, 32, 33, 34, SIGPIPE };
    uint64_t mask = 0;
    for (size_t i = 0; i < sizeof(unblocked) / sizeof(unblocked[0]); i++)
        mask |= (uint64_t)1 << (unblocked[i] - 1);
    syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &mask, NULL, sizeof(mask));
}

static int usage(void)
{
    char line[256] = "models:";
    for (const struct model *m = models; m->name != NULL; m++) {
        strncat(line, " ", sizeof(line) - strlen(line) - 1);
        strncat(line, m->name, sizeof(line) - strlen(line) - 1);
    }
    log_line(2, "usage: server MODEL [PORT]");
    log_line(2, line);
    return 1;
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGHUP:
        return "SIGHUP";
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    }
    return "SIGNAL";
}

int main(int argc, char *argv[])
{
    char line[128];
    reopen_stdio();
    reset_signals();
    unblock_signals();
    if (argc < 2 || argc > 3)
        return usage();
    const struct model *m = find_model(argv[1]);
    if (m == NULL) {
        snprintf(line, sizeof(line), "server: unknown model \"%.64s\"", argv[1]);
        log_line(2, line);
        return usage();
    }
    int port = DEFAULT_PORT;
    if (argc == 3 && (port = parse_port(argv[2])) < 0) {
        snprintf(line, sizeof(line), "server: bad port \"%.64s\": want a number from 0 to 65535", argv[2]);
        log_line(2, line);
        return usage();
    }

    /* Go's runtime raises its soft descriptor limit to the hard one at start-up; do the same,
     * so that both servers run out of descriptors at the same point (EMFILE). */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* Go's runtime holds two descriptors; so does the C server (see open_runtime_fds). */
    if (open_runtime_fds() < 0) {
        log_errno(2, "create_runtimefds", errno);
        return 1;
    }
    stopfd = eventfd(0, EFD_CLOEXEC);
    if (stopfd < 0) {
        log_errno(2, "create_stopfd", errno);
        return 1;
    }
    log_stop_on(stopfd);
    log_nonblocking(1);
    log_nonblocking(2);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handle_signal; /* no SA_RESTART: a blocked call returns EINTR */
    sigaddset(&sa.sa_mask, SIGHUP);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handle_sigpipe;
    sigaction(SIGPIPE, &sa, NULL);

    int listenfd = open_listener(port, 2);
    if (listenfd < 0)
        return 1;
    log_listening(2, listener_port(listenfd));

    struct server srv = { .listenfd = listenfd, .stopfd = stopfd, .outfd = 1, .errfd = 2 };
    if (m->serve(&srv) < 0)
        return 1;

    take_pending();
    /* What a stalled log stream could not take, said once if stderr can take it (with the
     * stop eventfd readable, a line that does not fit at once is dropped). */
    if (log_lost_lines() > 0) {
        snprintf(line, sizeof(line), "log: lines not written: %lu", log_lost_lines());
        log_line(2, line);
    }
    snprintf(line, sizeof(line), "signal: %s(%d)   close server ... done",
             signal_name(got_signal), (int)got_signal);
    log_line(2, line);
    close(listenfd);
    close(stopfd);
    return 0;
}
