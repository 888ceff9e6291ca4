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
 * with stdout in a pipe. The Go twin, gosrv/fork.go, execs itself for each child.
 */
#include "echo.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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
    while (waitpid(ch->pids[i], NULL, 0) < 0 && errno == EINTR)
        ;
    close(ch->pfds[i].fd);
    ch->n--;
    ch->pfds[i] = ch->pfds[ch->n];
    ch->pids[i] = ch->pids[ch->n];
}

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

    for (;;) {
        if (poll(ch.pfds, (nfds_t)ch.n, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_errno(srv->errfd, "poll_listenfd", errno);
            status = -1;
            break;
        }
        if (ch.pfds[1].revents)
            break;
        /* A pidfd turns readable when its process exits: reap it now, no zombie stays. */
        for (int i = ch.n - 1; i >= 2; i--) {
            if (ch.pfds[i].revents)
                child_reap(&ch, i);
        }
        if (!ch.pfds[0].revents)
            continue;

        int connfd = accept_conn(srv, &acc, &peeraddr);
        if (connfd < 0)
            continue;
        log_new_conn(srv->outfd, &peeraddr, 1);

        pid_t pid = fork();
        if (pid < 0) {
            log_errno(srv->errfd, "fork", errno);
            close(connfd);
            continue;
        }
        if (pid == 0)
            serve_child(srv, connfd);

        close(connfd); /* the child has its own copy */
        int pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
            log_errno(srv->errfd, "pidfd_open", errno);
        /* Without a pidfd (fd -1, which poll skips) the child is still reaped at stop. */
        if (child_add(&ch, pid, pidfd) < 0) {
            log_errno(srv->errfd, "malloc_children", ENOMEM);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            if (pidfd >= 0)
                close(pidfd);
        }
    }

    /* The stop eventfd is shared with the children: each leaves its wait and exits. */
    while (ch.n > 2)
        child_reap(&ch, ch.n - 1);
    free(ch.pfds);
    free(ch.pids);
    acceptor_close(&acc);
    return status;
}
