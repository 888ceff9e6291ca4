/*
 * epoll_et.c - I/O multiplexing with epoll, edge-triggered (seed: epoll多路复用IO, ET模式).
 *
 * Edge-triggered epoll reports a descriptor once per change of state (new bytes, new
 * connections, freed send space), not for as long as it stays ready, so every descriptor is
 * non-blocking and every wake-up drains it: accept until EAGAIN, recv until EAGAIN. The
 * protocol is a stream: whatever arrives is echoed, chunk by chunk, for as long as the peer
 * keeps the connection open, through a buffer as large as the listener's SO_RCVBUF. Where
 * the seed closed without echoing the chunk read with end of stream, stopped reading at a
 * full buffer and spun on a send that returned EAGAIN, this server echoes every chunk,
 * reads until EAGAIN, and keeps the unsent bytes while the connection waits for EPOLLOUT
 * instead of EPOLLIN: backpressure instead of a busy loop. Go twin: gosrv/epoll_et.go.
 */
#include "echo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    char *pending;   /* echo bytes that send could not take yet, or NULL */
    size_t npending; /* how many of them remain */
    size_t off;      /* where they start in pending */
};

/* Connections indexed by descriptor. */
struct conns {
    struct conn **tab;
    int cap;
    int closed; /* connections closed since the loop last looked */
};

static int set_events(int epollfd, int op, int fd, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.fd = fd };
    return epoll_ctl(epollfd, op, fd, &ev);
}

static struct conn *conn_new(struct conns *cs, int fd)
{
    if (fd >= cs->cap) {
        int cap = cs->cap > 0 ? cs->cap : 64;
        while (cap <= fd)
            cap *= 2;
        struct conn **tab = realloc(cs->tab, (size_t)cap * sizeof(*tab));
        if (tab == NULL)
            return NULL;
        memset(tab + cs->cap, 0, (size_t)(cap - cs->cap) * sizeof(*tab));
        cs->tab = tab;
        cs->cap = cap;
    }
    cs->tab[fd] = calloc(1, sizeof(struct conn));
    return cs->tab[fd];
}

/* close also removes the descriptor from the epoll set. */
static void conn_close(struct conns *cs, int fd)
{
    struct conn *c = cs->tab[fd];
    free(c->pending);
    free(c);
    cs->tab[fd] = NULL;
    close(fd);
    cs->closed++;
}

/* step: keep what send cannot take */
/*
 * Sends buf[0:n]; what the socket cannot take now is kept in c->pending. Returns 0 when
 * all is sent or kept, -1 on an error (errno set).
 */
static int send_or_keep(struct conn *c, int fd, const char *buf, size_t n)
{
    size_t sent = 0;
    while (sent < n) {
        ssize_t w = NO_EINTR(send(fd, buf + sent, n - sent, MSG_NOSIGNAL));
        if (w < 0 && errno == EAGAIN) {
            c->pending = malloc(n - sent);
            if (c->pending == NULL)
                return -1;
            memcpy(c->pending, buf + sent, n - sent);
            c->npending = n - sent;
            c->off = 0;
            return 0;
        }
        if (w < 0)
            return -1;
        sent += (size_t)w;
    }
    return 0;
}

/* Sends what was kept back. Returns 0 (c->npending tells whether some remain), -1 on error. */
static int flush_pending(struct conn *c, int fd)
{
    while (c->npending > 0) {
        ssize_t w = NO_EINTR(send(fd, c->pending + c->off, c->npending, MSG_NOSIGNAL));
        if (w < 0 && errno == EAGAIN)
            return 0;
        if (w < 0)
            return -1;
        c->off += (size_t)w;
        c->npending -= (size_t)w;
    }
    free(c->pending);
    c->pending = NULL;
    c->off = 0;
    return 0;
}

/* step: accept */
/*
 * Accepts until the queue is empty (EAGAIN): one edge may stand for many queued
 * connections. At the descriptor limit (ACCEPT_PAUSED) the rest stay queued: no edge will
 * tell of them, so the loop calls this again when a connection closes or the pause ends.
 */
static void accept_all(const struct server *srv, struct acceptor *acc, int epollfd, struct conns *cs)
{
    int connfd;
    /* Until ACCEPT_EMPTY: drained (or ACCEPT_PAUSED, ACCEPT_FAILED: logged). */
    while ((connfd = accept_queued(srv, acc)) >= 0) {
        if (conn_new(cs, connfd) == NULL) {
            log_errno(srv->errfd, "malloc_conn", ENOMEM);
            close(connfd);
            continue;
        }
        if (set_events(epollfd, EPOLL_CTL_ADD, connfd, EPOLLIN | EPOLLET) < 0) {
            log_errno(srv->errfd, "addevent_epollfd", errno);
            conn_close(cs, connfd);
        }
    }
}

/* step: serve */
/* Reads until EAGAIN, echoing each chunk; stops reading while an echo waits for space. */
static void echo_stream(const struct server *srv, int epollfd, struct conns *cs, int fd,
                        char *buf, size_t bufsize)
{
    struct conn *c = cs->tab[fd];
    if (c->pending != NULL) {
        if (flush_pending(c, fd) < 0) {
            log_errno(srv->errfd, "send_connfd", errno);
            conn_close(cs, fd);
            return;
        }
        if (c->pending != NULL)
            return; /* still full: wait for the next EPOLLOUT edge */
        /* MOD re-checks readiness: bytes that came meanwhile raise a new EPOLLIN event. */
        if (set_events(epollfd, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLET) < 0) {
            log_errno(srv->errfd, "modevent_epollfd", errno);
            conn_close(cs, fd);
        }
        return;
    }

    for (;;) {
        ssize_t n = NO_EINTR(recv(fd, buf, bufsize, 0));
        if (n < 0 && errno == EAGAIN)
            return; /* drained: the next edge will tell when more arrives */
        if (n < 0) {
            log_errno(srv->errfd, "recv_connfd", errno);
            conn_close(cs, fd);
            return;
        }
        if (n == 0) {
            log_line(srv->errfd, "peer close conn...");
            shutdown(fd, SHUT_WR);
            conn_close(cs, fd);
            return;
        }
        if (send_or_keep(c, fd, buf, (size_t)n) < 0) {
            log_errno(srv->errfd, "send_connfd", errno);
            conn_close(cs, fd);
            return;
        }
        if (c->pending != NULL) {
            /* The peer reads slower than it writes: hold off reading until it catches up. */
            if (set_events(epollfd, EPOLL_CTL_MOD, fd, EPOLLOUT | EPOLLET) < 0) {
                log_errno(srv->errfd, "modevent_epollfd", errno);
                conn_close(cs, fd);
            }
            return;
        }
    }
}

int serve_epoll_et(const struct server *srv)
{
    /* step: prepare the listener */
    if (set_nonblock(srv->listenfd) < 0) {
        log_errno(srv->errfd, "setnonblock_listenfd", errno);
        return -1;
    }
    int bufsize;
    socklen_t optlen = sizeof(bufsize);
    if (getsockopt(srv->listenfd, SOL_SOCKET, SO_RCVBUF, &bufsize, &optlen) < 0) {
        log_errno(srv->errfd, "getsockopt_listenfd", errno);
        return -1;
    }
    char *buf = malloc((size_t)bufsize);
    if (buf == NULL) {
        log_errno(srv->errfd, "malloc_buf", ENOMEM);
        return -1;
    }
    /* step: create the epoll instance */
    int epollfd = epoll_create1(EPOLL_CLOEXEC);
    if (epollfd < 0) {
        log_errno(srv->errfd, "create_epollfd", errno);
        free(buf);
        return -1;
    }
    /* step: watch the listener and the stop */
    /* The stop eventfd is level-triggered: it stays readable once written. */
    if (set_events(epollfd, EPOLL_CTL_ADD, srv->listenfd, EPOLLIN | EPOLLET) < 0 ||
        set_events(epollfd, EPOLL_CTL_ADD, srv->stopfd, EPOLLIN) < 0) {
        log_errno(srv->errfd, "addevent_epollfd", errno);
        close(epollfd);
        free(buf);
        return -1;
    }

    /* step: set up */
    struct acceptor acc;
    acceptor_open(&acc, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct conns cs = { 0 };
    struct epoll_event events[MAX_EVENT];
    int status = 0;

    /* step: wait */
    for (;;) {
        /* Paused at the descriptor limit: accepting again after a while at most. */
        int nfds = (int)NO_EINTR(epoll_wait(epollfd, events, MAX_EVENT, acc.paused ? ACCEPT_PAUSE_MS : -1));
        if (nfds < 0) {
            log_errno(srv->errfd, "wait_epollfd", errno);
            status = -1;
            goto out;
        }
        for (int i = 0; i < nfds; i++) {
            int fd = events[i].data.fd;
            /* step: the stop */
            if (fd == srv->stopfd)
                goto out;
            /* step: dispatch */
            if (fd == srv->listenfd)
                accept_all(srv, &acc, epollfd, &cs);
            else if (fd < cs.cap && cs.tab[fd] != NULL)
                echo_stream(srv, epollfd, &cs, fd, buf, (size_t)bufsize);
        }
        /* A connection closed, or the pause is over: accept what waits in the queue. */
        if (acc.paused && (nfds == 0 || cs.closed > 0)) {
            acc.paused = 0;
            accept_all(srv, &acc, epollfd, &cs);
        }
        cs.closed = 0;
    }

/* step: clean up */
out:
    for (int fd = 0; fd < cs.cap; fd++) {
        if (cs.tab[fd] != NULL)
            conn_close(&cs, fd);
    }
    free(cs.tab);
    close(epollfd);
    free(buf);
    return status;
}
