/*
 * nonblock.c - non-blocking I/O, polled by hand (seed: 非阻塞IO 轮询, named without code).
 *
 * Every descriptor is O_NONBLOCK, so accept and recv never sleep in the kernel: when
 * nothing is there they fail at once with EAGAIN, "not yet". One thread goes round and
 * round: accept whatever is pending, then try a recv on every connection in accept order.
 * Nothing tells it when something arrives, which is the model's cost: a loop that only
 * retries burns a whole core, and every round costs a recv per open connection (the seed
 * credits this model with one system call per answer against multiplexing's two, but the
 * polling makes that call again and again). So an idle loop backs off: it spins SPIN_ROUNDS
 * empty rounds, then sleeps, doubling the sleep from BACKOFF_MIN_NS up to a cap that grows
 * with the number of connections polled (backoff_cap); any progress (a new connection, a
 * recv that returned anything but EAGAIN) starts over with spinning. The price is latency:
 * a client that speaks after an idle spell waits up to that cap. Go twin:
 * gosrv/nonblock.go, on the same schedule.
 */
#include "echo.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * The schedule: 50 spinning rounds, longer than a loopback client takes between connect
 * and send, so a fresh connection is answered without a sleep; then sleeps of 50, 100,
 * 200, ... us, doubling up to max(2 ms, n * 50 us) with n connections polled: 2 ms up to
 * 40 connections, 50 ms with 1000, 250 ms with 5000, which keeps an idle round's work a
 * small, steady share of the time whatever n is. With more than 40 connections a round
 * costs more than a spin is worth, so the spin is SPIN_ROUNDS * 40 / n rounds (none from
 * 2001), and the first sleep is at least n * 20 us (100 ms with 5000): the rounds stay a
 * small share of the time from the first idle second on, not only once the sleeps have
 * reached their cap. Why these numbers (what a round and a
 * sleep cost, what a fixed cap cost with many connections):
 * compare/cmd/benchreport/README.md, "nonblock's back-off".
 */
#define SPIN_ROUNDS 50
#define BACKOFF_MIN_NS 50000L      /* 50 us: the kernel's default timer slack */
#define BACKOFF_MAX_NS 2000000L    /* 2 ms: the cap with few connections */
#define BACKOFF_PER_CONN_NS 50000L /* the cap with n connections: at least n * 50 us */
#define SPIN_CONNS 40              /* beyond it, fewer spinning rounds */
#define FIRST_PER_CONN_NS 20000L   /* the first sleep with n connections: at least n * 20 us */

/* The spinning rounds with n connections polled: SPIN_ROUNDS up to SPIN_CONNS, then fewer. */
static int spin_rounds(int n)
{
    return n <= SPIN_CONNS ? SPIN_ROUNDS : SPIN_ROUNDS * SPIN_CONNS / n;
}

/* The first sleep with n connections polled: max(BACKOFF_MIN_NS, n * FIRST_PER_CONN_NS). */
static long backoff_first(int n)
{
    long first = (long)n * FIRST_PER_CONN_NS;
    return first > BACKOFF_MIN_NS ? first : BACKOFF_MIN_NS;
}

/* The longest sleep with n connections polled: max(BACKOFF_MAX_NS, n * BACKOFF_PER_CONN_NS). */
static long backoff_cap(int n)
{
    long cap = (long)n * BACKOFF_PER_CONN_NS;
    return cap > BACKOFF_MAX_NS ? cap : BACKOFF_MAX_NS;
}

/* The connections in accept order; the order in which each round tries them. */
struct conn_list {
    int *fds;
    int n, cap;
};

static int conn_append(struct conn_list *l, int fd)
{
    if (l->n == l->cap) {
        int cap = l->cap > 0 ? l->cap * 2 : 64;
        int *fds = realloc(l->fds, (size_t)cap * sizeof(*fds));
        if (fds == NULL)
            return -1;
        l->fds = fds;
        l->cap = cap;
    }
    l->fds[l->n++] = fd;
    return 0;
}

/* step: accept */
/* Accepts every pending connection; returns how many joined the list. At the descriptor
 * limit (ACCEPT_PAUSED) the rest stay queued, and the next round tries again: polling is
 * this model's way of waiting, for a descriptor as for anything else. */
static int accept_pending(const struct server *srv, struct acceptor *acc, struct conn_list *conns)
{
    int accepted = 0;
    int connfd;

    /* Until ACCEPT_EMPTY: not yet (or ACCEPT_PAUSED, ACCEPT_FAILED: logged). */
    while ((connfd = accept_queued(srv, acc)) >= 0) {
        if (conn_append(conns, connfd) < 0) {
            log_errno(srv->errfd, "accept_listenfd", ENOMEM);
            close(connfd);
            continue;
        }
        accepted++;
    }
    return accepted;
}

/* step: serve */
/*
 * One recv on every connection, in accept order. EAGAIN keeps the connection for the next
 * round; anything else (bytes, end of stream, an error) is the one-shot answer. Returns
 * how many connections were answered; the list keeps its order.
 */
static int try_conns(const struct server *srv, struct conn_list *conns)
{
    char buf[BUF_SIZE];
    int kept = 0, served = 0;

    for (int i = 0; i < conns->n; i++) {
        int connfd = conns->fds[i];
        long nbuf = NO_EINTR(recv(connfd, buf, BUF_SIZE, 0));
        if (nbuf < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conns->fds[kept++] = connfd; /* not yet */
            continue;
        }
        echo_reply(srv, connfd, buf, nbuf);
        served++;
    }
    conns->n = kept;
    return served;
}

int serve_nonblock(const struct server *srv)
{
    /* step: prepare the listener */
    /* accept on an empty queue must return EAGAIN instead of sleeping. */
    if (set_nonblock(srv->listenfd) < 0) {
        log_errno(srv->errfd, "fcntl_listenfd", errno);
        return -1;
    }

    /* step: set up */
    struct acceptor acc;
    acceptor_open(&acc, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct conn_list conns = { 0 };
    int idle_rounds = 0;
    long backoff_ns = BACKOFF_MIN_NS;

    /* step: the stop */
    /*
     * The stop eventfd is looked at once per round with a zero-timeout poll: one cheap
     * system call, and the eventfd is never read, so it stays readable for everyone.
     */
    while (!stop_requested(srv->stopfd)) {
        /* step: poll by hand */
        /* New connections first, so that one accepted now is tried in this round. */
        int progress = accept_pending(srv, &acc, &conns);
        progress += try_conns(srv, &conns);

        /* step: back off */
        if (progress > 0) {
            idle_rounds = 0;
            backoff_ns = backoff_first(conns.n);
            continue;
        }
        if (++idle_rounds <= spin_rounds(conns.n))
            continue;
        /* A signal cuts the sleep short (EINTR): fine, the next round looks at the stop. */
        struct timespec ts = { .tv_sec = backoff_ns / 1000000000L, .tv_nsec = backoff_ns % 1000000000L };
        nanosleep(&ts, NULL);
        backoff_ns *= 2;
        if (backoff_ns > backoff_cap(conns.n))
            backoff_ns = backoff_cap(conns.n);
    }

    /* step: clean up */
    for (int i = 0; i < conns.n; i++)
        close(conns.fds[i]);
    free(conns.fds);
    return 0;
}
