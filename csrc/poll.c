/*
 * poll.c - I/O multiplexing with poll(2) (seed: IO多路复用, poll named without code).
 *
 * select's loop with an array of struct pollfd instead of a bitmap: no FD_SETSIZE limit,
 * and the kernel writes results into revents, leaving events alone, so the array is
 * built once and kept, not rebuilt before every call. Like select, every call still
 * copies the whole array into the kernel and scans it: the cost grows with the number of
 * connections, not with the number that are ready, which is what epoll removes.
 * The array is [0] listener, [1] stop eventfd, then one slot per connection; a served
 * connection's slot takes the last one's place. Go twin: gosrv/poll.go.
 */
#include "echo.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct pollset {
    struct pollfd *pfds;
    int n, cap;
};

static int pollset_add(struct pollset *ps, int fd)
{
    if (ps->n == ps->cap) {
        int cap = ps->cap * 2;
        struct pollfd *pfds = realloc(ps->pfds, (size_t)cap * sizeof(*pfds));
        if (pfds == NULL)
            return -1;
        ps->pfds = pfds;
        ps->cap = cap;
    }
    ps->pfds[ps->n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
    return 0;
}

/* Drops slot i: the last slot moves into it (its revents come along). */
static void pollset_del(struct pollset *ps, int i)
{
    ps->pfds[i] = ps->pfds[--ps->n];
}

int serve_poll(const struct server *srv)
{
    /* step: build the array */
    struct pollset ps = { .n = 0, .cap = 64 };
    ps.pfds = malloc((size_t)ps.cap * sizeof(*ps.pfds));
    if (ps.pfds == NULL) {
        log_errno(srv->errfd, "malloc_pollfds", ENOMEM);
        return -1;
    }
    pollset_add(&ps, srv->listenfd); /* [0] */
    pollset_add(&ps, srv->stopfd);   /* [1] */

    /* step: set up */
    struct acceptor acc;
    acceptor_open(&acc, SOCK_CLOEXEC);
    struct sockaddr_in peeraddr;
    int status = 0;

    /* step: wait */
    for (;;) {
        /* Paused at the descriptor limit: the listener's slot is ignored (a negative fd). */
        ps.pfds[0].fd = acc.paused ? -1 : srv->listenfd;
        int nready = (int)NO_EINTR(poll(ps.pfds, (nfds_t)ps.n, acc.paused ? ACCEPT_PAUSE_MS : -1));
        if (nready < 0) {
            log_errno(srv->errfd, "poll", errno);
            status = -1;
            break;
        }

        /* step: the stop */
        if (ps.pfds[1].revents)
            break;

        /* step: accept */
        if (ps.pfds[0].revents) {
            int connfd = accept_conn(srv, &acc, &peeraddr);
            if (connfd >= 0) {
                log_new_conn(srv->outfd, &peeraddr, 0);
                /* Its revents start at 0: it is first polled in the next round. */
                if (pollset_add(&ps, connfd) < 0) {
                    log_errno(srv->errfd, "accept_listenfd", ENOMEM);
                    close(connfd);
                }
            }
        }

        /* step: serve */
        /*
         * Any revents counts, POLLIN or POLLERR/POLLHUP (a reset peer): recv reports it and
         * echo_once closes. The slot that moves into i was polled too, so i is looked at
         * again before moving on.
         */
        int closed = 0;
        for (int i = 2; i < ps.n;) {
            if (ps.pfds[i].revents) {
                int connfd = ps.pfds[i].fd;
                pollset_del(&ps, i);
                echo_once(srv, connfd);
                closed++;
            } else {
                i++;
            }
        }
        /* A connection closed, or the pause is over: watch the listener again. */
        if (nready == 0 || closed > 0)
            acc.paused = 0;
    }

    /* step: clean up */
    for (int i = 2; i < ps.n; i++)
        close(ps.pfds[i].fd);
    free(ps.pfds);
    return status;
}
