/*
 * fork.c - blocking I/O, one process per connection (seed: 多进程 + 阻塞IO).
 *
 * The parent accepts and forks; the child serves the one connection with blocking calls
 * and exits, so a stalled client holds only its own process. The child runs only
 * async-signal-safe calls before _exit: the rule for the child of a multithreaded
 * process, which is what this server is when it runs inside Go (native/).
 *
 * Seed departures: the seed set SIGCHLD to SIG_IGN so that children reaped themselves;
 * inside Go that breaks os/exec, so the parent watches each child through a pidfd in its
 * poll set and reaps exactly that pid. Log lines leave in one write(2) each, so the
 * child cannot print the parent's buffered lines a second time, as the seed's printf did
 * with stdout in a pipe. The fork is clone3(2) with CLONE_CLEAR_SIGHAND, so the child
 * starts with the default disposition of every signal the parent handles: a signal sent
 * to one child ends that child only, as the seed's did (the seed's child ran the parent's
 * handler, which printed and exited; here the handler writes the stop eventfd the
 * children share, and would stop the whole server), and inside Go no child can ever run
 * one of Go's handlers. CLONE_PIDFD hands over the pidfd in the same call. The Go twin,
 * gosrv/fork.go, makes the same clone3 call and runs its child on raw system calls.
 */
#include "echo.h"

#include <errno.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* step: the children */
/* The parent's poll set: [0] listener, [1] stop, then one pidfd per live child. */
struct children {
    struct pollfd *pfds;
    pid_t *pids; /* pids[i] belongs to pfds[i]; the first two are unused */
    int n, cap;
};

static int child_add(struct children *ch, pid_t pid, int pidfd)
{
    if (ch->n == ch->cap) {
        int cap = ch->cap * 2;
        struct pollfd *pfds = realloc(ch->pfds, (size_t)cap * sizeof(*pfds));
        if (pfds == NULL)
            return -1;
        ch->pfds = pfds;
        pid_t *pids = realloc(ch->pids, (size_t)cap * sizeof(*pids));
        if (pids == NULL)
            return -1;
        ch->pids = pids;
        ch->cap = cap;
    }
    ch->pfds[ch->n] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
    ch->pids[ch->n] = pid;
    ch->n++;
    return 0;
}

/* Reaps child i (it has exited, or is told to by the stop eventfd) and drops its slot. */
static void child_reap(struct children *ch, int i)
{
    (void)NO_EINTR(waitpid(ch->pids[i], NULL, 0));
    close(ch->pfds[i].fd);
    ch->n--;
    ch->pfds[i] = ch->pfds[ch->n];
    ch->pids[i] = ch->pids[ch->n];
}

/* step: fork */
/*
 * fork(2) as one clone3(2) call that also does what the child owes the contract:
 * CLONE_CLEAR_SIGHAND resets every signal that has a handler to SIG_DFL in the child (an
 * ignored one stays ignored), in the same step as the copy, so there is no moment in
 * which the child could run the parent's handler and nothing to block around the call;
 * the child keeps the signal mask of the thread that forked. CLONE_PIDFD stores the
 * child's pidfd (close-on-exec) in *pidfd. Returns the pid in the parent, 0 in the child,
 * -1 with errno. glibc has no wrapper; the child calls only system calls, so glibc's
 * fork-time bookkeeping (atfork handlers, the child's cached thread id) is not needed.
 */
static pid_t fork_child(int *pidfd)
{
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* step: serve in the child */
/* The child: keep only the connection and the server's streams, serve, _exit. */
static void serve_child(const struct server *srv, int connfd)
{
    int keep[] = { connfd, srv->stopfd, srv->outfd, srv->errfd };
    close_other_fds(keep, 4);
    if (wait_readable(connfd, srv->stopfd) == 1)
        echo_once(srv, connfd);
    else
        close(connfd);
    _exit(0);
}

int serve_fork(const struct server *srv)
{
    /* step: set up */
    struct children ch = { .n = 2, .cap = 16 };
    ch.pfds = calloc((size_t)ch.cap, sizeof(*ch.pfds));
    ch.pids = calloc((size_t)ch.cap, sizeof(*ch.pids));
    if (ch.pfds == NULL || ch.pids == NULL) {
        log_errno(srv->errfd, "malloc_children", ENOMEM);
        free(ch.pfds);
        free(ch.pids);
        return -1;
    }
    ch.pfds[0] = (struct pollfd){ .fd = srv->listenfd, .events = POLLIN };
    ch.pfds[1] = (struct pollfd){ .fd = srv->stopfd, .events = POLLIN };

    struct acceptor acc;
    acceptor_open(&acc, SOCK_CLOEXEC);
    struct sockaddr_in peeraddr;
    int status = 0;
    /*
     * A connection takes a descriptor until its child is forked, and the child's pidfd one
     * more: at the descriptor limit the fork can fail with EMFILE after the accept worked.
     * The connection is then held, accepting paused, and forked again once a child's exit
     * frees its pidfd (or the pause ends). The acceptor's episode: "fork error: Too many
     * open files" once, unless the accept's line began it.
     */
    int held = -1;

    /* step: wait */
    for (;;) {
        /* Paused at the descriptor limit: the listener's slot is ignored (a negative fd). */
        ch.pfds[0].fd = acc.paused ? -1 : srv->listenfd;
        int nready = (int)NO_EINTR(poll(ch.pfds, (nfds_t)ch.n, acc.paused ? ACCEPT_PAUSE_MS : -1));
        if (nready < 0) {
            log_errno(srv->errfd, "poll_listenfd", errno);
            status = -1;
            break;
        }
        /* step: the stop */
        if (ch.pfds[1].revents)
            break;
        /* step: reap */
        /* A pidfd turns readable when its process exits: reap it now, no zombie stays. */
        for (int i = ch.n - 1; i >= 2; i--) {
            if (ch.pfds[i].revents) {
                child_reap(&ch, i);
                acc.paused = 0; /* its pidfd is free for the next connection */
            }
        }
        if (nready == 0)
            acc.paused = 0; /* the pause is over */

        /* step: accept */
        int connfd = held, exhausted = acc.exhausted;
        if (held >= 0) {
            if (acc.paused)
                continue;
            held = -1;
        } else {
            if (!ch.pfds[0].revents)
                continue;
            connfd = accept_conn(srv, &acc, &peeraddr);
            if (connfd < 0)
                continue;
            log_new_conn(srv->outfd, &peeraddr, 1);
        }

        /* step: start a child */
        int pidfd = -1;
        pid_t pid = fork_child(&pidfd);
        if (pid < 0 && (errno == EMFILE || errno == ENFILE)) {
            if (!exhausted && !acc.exhausted)
                log_errno(srv->errfd, "fork", errno);
            acc.exhausted = 1;
            held = connfd;
            acc.paused = 1;
            continue;
        }
        if (pid < 0) {
            log_errno(srv->errfd, "fork", errno);
            close(connfd);
            continue;
        }
        if (pid == 0)
            serve_child(srv, connfd);

        close(connfd); /* the child has its own copy */
        if (child_add(&ch, pid, pidfd) < 0) {
            log_errno(srv->errfd, "malloc_children", ENOMEM);
            (void)NO_EINTR(waitpid(pid, NULL, 0));
            close(pidfd);
        }
    }

    /* step: clean up */
    if (held >= 0)
        close(held);
    /* The stop eventfd is shared with the children: each leaves its wait and exits. */
    while (ch.n > 2)
        child_reap(&ch, ch.n - 1);
    free(ch.pfds);
    free(ch.pids);
    return status;
}
