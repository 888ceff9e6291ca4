/*
 * sigio.c - signal-driven I/O (seed: 信号驱动式IO).
 *
 * The kernel tells the server that a descriptor became ready by queueing a signal: with
 * O_ASYNC set on a file, every wake-up of its wait queue (new data, a new connection, an
 * error, a hang-up) calls kill_fasync, which sends the signal chosen by F_SETSIG to the
 * owner chosen by F_SETOWN_EX, with the descriptor in si_fd and the cause in si_code. The
 * first phase of I/O (waiting for readiness) is thus the kernel's business; the second
 * (copying the bytes) is still the server's own recv. Unlike epoll, nothing is registered
 * with a waiting object: the signal queue is the event queue. Like edge-triggered epoll, a
 * signal reports a change, not a state, so every descriptor is non-blocking and a signal
 * may be stale: every call tolerates EAGAIN. The signal is never handled: it stays blocked
 * on the serving thread, its owner, and sigwaitinfo takes it from the thread's queue with
 * its siginfo, which makes the same code safe in the standalone server and inside a Go
 * process, whose runtime owns every signal handler. The stop eventfd cannot raise a signal,
 * so a small watcher thread turns it into one (struct stop_watch). Go twin: gosrv/sigio.go.
 */
#include "echo.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * The readiness signal: a real-time signal, because real-time signals queue (one siginfo
 * per event, each with its si_fd) where a classic SIGIO would coalesce into one. 40 and not
 * SIGRTMIN: glibc takes 32 and 33 for itself (SIGRTMIN is 34 with glibc 2.36), and Go's
 * runtime treats 32-34 as the C library's and keeps them unblocked on its threads
 * (runtime/sigtab_linux_generic.go), so 34 could not stay blocked inside a Go process. 40
 * is free in both (Go's handler would merely drop it: it is blocked where it is aimed), and
 * the same number in C and Go.
 */
#define SIGIO_READY 40

/* step: watch the stop */
/*
 * The stop. eventfd has no fasync method, so O_ASYNC on the stop eventfd is silently
 * ignored (F_SETFL leaves the flag unset and no signal comes; checked on Linux 6.18), and
 * the stop cannot raise the signal by itself. A watcher thread does it: it sleeps in poll
 * on the stop eventfd (and a private one that ends it) and, when a stop comes, sends
 * SIGIO to the serving thread with tgkill. SIGIO and not SIGIO_READY: a real-time signal
 * needs a queue entry, which tgkill cannot get once the queue is full (RLIMIT_SIGPENDING;
 * it fails with EAGAIN and the stop would be lost: seen with the limit at 3), while a
 * classic signal is a pending bit that is always set. So the serving thread waits for
 * signals only, without a timeout, and a stop is as prompt as any event.
 */
struct stop_watch {
    pthread_t thread;
    int stopfd;
    int quitfd; /* written when serve_sigio returns, so the watcher ends with it */
    pid_t tid;
};

static void *watch_stop(void *arg)
{
    struct stop_watch *w = arg;
    struct pollfd pfd[2] = {
        { .fd = w->stopfd, .events = POLLIN },
        { .fd = w->quitfd, .events = POLLIN },
    };
    (void)NO_EINTR(poll(pfd, 2, -1));
    if (pfd[0].revents)
        tgkill(getpid(), w->tid, SIGIO);
    return NULL;
}

/*
 * The watcher starts with the stop signals blocked, besides the serving thread's mask
 * (mask): the stop signal is then always taken by the serving thread, never by the
 * watcher, whose poll it would wake for nothing (Go's runtime takes it on a thread of its
 * own). pthread_attr_setsigmask_np sets it inside pthread_create, no call of its own.
 */
static int start_watch(struct stop_watch *w, int stopfd, pid_t tid, const sigset_t *mask)
{
    w->stopfd = stopfd;
    w->tid = tid;
    w->quitfd = eventfd(0, EFD_CLOEXEC);
    if (w->quitfd < 0)
        return errno;
    sigset_t blocked = *mask;
    sigaddset(&blocked, SIGHUP);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err == 0)
        err = pthread_attr_setsigmask_np(&attr, &blocked);
    if (err == 0)
        err = pthread_create(&w->thread, &attr, watch_stop, w);
    pthread_attr_destroy(&attr);
    if (err != 0)
        close(w->quitfd);
    return err;
}

static void end_watch(struct stop_watch *w)
{
    uint64_t one = 1;
    if (write(w->quitfd, &one, sizeof(one)) < 0) {
        /* An eventfd write of 1 fails only if the counter would overflow: never here. */
    }
    pthread_join(w->thread, NULL);
    close(w->quitfd);
}

/* step: arm a descriptor */
/*
 * Makes fd raise SIGIO_READY at this thread whenever it becomes ready. flags are fd's
 * current file status flags (F_GETFL): the caller knows them, which saves a system call
 * per connection. The owner is this thread (F_OWNER_TID), not the process: a signal
 * directed at the process may be delivered to any thread that does not block it, and in
 * a Go process that is the runtime's handler, which drops a signal nobody asked for.
 */
static int arm_fd(int fd, pid_t tid, int flags)
{
    struct f_owner_ex owner = { .type = F_OWNER_TID, .pid = tid };
    if (fcntl(fd, F_SETOWN_EX, &owner) < 0)
        return -1;
    /* Without F_SETSIG the kernel sends plain SIGIO and leaves si_fd unset. */
    if (fcntl(fd, F_SETSIG, SIGIO_READY) < 0)
        return -1;
    /* O_ASYNC last: from here on, readiness is signalled, to the owner set above. */
    return fcntl(fd, F_SETFL, flags | O_ASYNC | O_NONBLOCK);
}

/* step: serve */
/*
 * The one-shot protocol on a non-blocking connection: recv, and unless it meets EAGAIN,
 * echo_reply. Returns 0 when the connection had nothing to read yet (EAGAIN: its signal
 * will come), 1 when it was served and closed.
 */
static int try_echo(const struct server *srv, struct fdset *conns, int connfd)
{
    char buf[BUF_SIZE];
    ssize_t nbuf = NO_EINTR(recv(connfd, buf, BUF_SIZE, 0));
    if (nbuf < 0 && errno == EAGAIN)
        return 0;
    fdset_del(conns, connfd);
    echo_reply(srv, connfd, buf, nbuf); /* errno is still recv's */
    return 1;
}

/* step: accept */
/*
 * Accepts until the queue is empty (EAGAIN): one signal may stand for several queued
 * connections. At the descriptor limit (ACCEPT_PAUSED) the rest stay queued: the loop
 * calls this again when a connection closes or the pause ends.
 */
static void accept_all(const struct server *srv, struct acceptor *acc, struct fdset *conns, pid_t tid)
{
    int connfd;
    /* Until ACCEPT_EMPTY: drained (or ACCEPT_PAUSED, ACCEPT_FAILED: logged). */
    while ((connfd = accept_queued(srv, acc)) >= 0) {
        /*
         * An accepted socket inherits neither O_ASYNC nor the owner from the listener; its
         * flags are accept4's: O_NONBLOCK (O_CLOEXEC is a descriptor flag, not a file one).
         */
        if (arm_fd(connfd, tid, O_NONBLOCK) < 0) {
            log_errno(srv->errfd, "fcntl_connfd", errno);
            close(connfd);
            continue;
        }
        if (fdset_add(conns, connfd) < 0) {
            log_errno(srv->errfd, "malloc_conn", ENOMEM);
            close(connfd);
            continue;
        }
        /* Bytes that came before O_ASYNC was set raised no signal: look once now. */
        try_echo(srv, conns, connfd);
    }
}

int serve_sigio(const struct server *srv)
{
    /* step: block the signals */
    pid_t tid = gettid();
    sigset_t waitset, oldmask;
    sigemptyset(&waitset);
    sigaddset(&waitset, SIGIO_READY);
    /* The kernel sends plain SIGIO instead when the real-time queue is full; the stop
     * watcher sends it too. */
    sigaddset(&waitset, SIGIO);
    /* Blocked, the signals stay pending on this thread until sigwaitinfo takes them. */
    int err = pthread_sigmask(SIG_BLOCK, &waitset, &oldmask);
    if (err != 0) {
        log_errno(srv->errfd, "sigmask", err);
        return -1;
    }
    /* step: arm the listener */
    int listenflags = fcntl(srv->listenfd, F_GETFL, 0);
    if (listenflags < 0 || arm_fd(srv->listenfd, tid, listenflags) < 0) {
        log_errno(srv->errfd, "fcntl_listenfd", errno);
        pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
        return -1;
    }

    /* step: start the watcher */
    struct stop_watch watch;
    sigset_t watchmask;
    sigorset(&watchmask, &waitset, &oldmask);
    err = start_watch(&watch, srv->stopfd, tid, &watchmask);
    if (err != 0) {
        log_errno(srv->errfd, "start_stopwatch", err);
        fcntl(srv->listenfd, F_SETFL, listenflags);
        pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
        return -1;
    }

    /* step: set up */
    struct acceptor acc;
    acceptor_open(&acc, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct fdset conns = { 0 };
    siginfo_t info;
    int status = 0;

    /* Connections queued before O_ASYNC was set raised no signal either. */
    accept_all(srv, &acc, &conns, tid);
    /* step: wait */
    for (;;) {
        /* EINTR: a handler ran (the standalone server's SIGINT): wait on. Paused at the
         * descriptor limit: for a while at most (EAGAIN), then accept what is queued. */
        struct timespec pause = { .tv_sec = 0, .tv_nsec = ACCEPT_PAUSE_MS * 1000000L };
        int sig = (int)NO_EINTR(sigtimedwait(&waitset, &info, acc.paused ? &pause : NULL));
        if (sig < 0 && errno == EAGAIN) {
            acc.paused = 0;
            accept_all(srv, &acc, &conns, tid);
            continue;
        }
        if (sig < 0) {
            log_errno(srv->errfd, "sigwaitinfo", errno);
            status = -1;
            break;
        }
        /* step: the stop */
        if (sig == SIGIO) {
            /* The watcher's stop, or the kernel's word that the real-time queue was full. */
            if (stop_requested(srv->stopfd))
                break;
            /* Events were lost: look at every descriptor once, by ascending number. */
            accept_all(srv, &acc, &conns, tid);
            for (int fd = 0; fd < conns.cap; fd++) {
                if (conns.open[fd])
                    try_echo(srv, &conns, fd);
            }
            continue;
        }
        /* step: dispatch */
        /* POLL_IN, POLL_ERR and POLL_HUP alike: the next call will not block. */
        if (info.si_fd == srv->listenfd) {
            accept_all(srv, &acc, &conns, tid);
        } else if (info.si_fd >= 0 && info.si_fd < conns.cap && conns.open[info.si_fd]) {
            /* Served and closed: a descriptor is free for what waits in the queue. */
            if (try_echo(srv, &conns, info.si_fd) && acc.paused) {
                acc.paused = 0;
                accept_all(srv, &acc, &conns, tid);
            }
        }
        /* else: stale, for a descriptor already served and closed. */
    }

    /* step: clean up */
    end_watch(&watch);
    fdset_close_all(&conns);
    /* Give the listener back as it came: no more signals from it. */
    fcntl(srv->listenfd, F_SETFL, listenflags);
    fcntl(srv->listenfd, F_SETSIG, 0);
    /*
     * Take the signals still queued (stale readiness, the watcher's), so that unblocking
     * them cannot kill the process: a real-time signal's default action is to terminate.
     */
    struct timespec zero = { 0, 0 };
    for (int i = 0; i < 1 << 16; i++) {
        /* EINTR (a handler ran) is not "none left": look again (TestInject). */
        int sig = sigtimedwait(&waitset, &info, &zero);
        if (sig < 0 && errno == EINTR)
            continue;
        if (sig < 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    return status;
}
