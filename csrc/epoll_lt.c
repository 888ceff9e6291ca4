/*
 * epoll_lt.c - I/O multiplexing with epoll, level-triggered (seed: epoll多路复用IO, LT模式).
 *
 * One thread waits in epoll_wait for any of its descriptors to become ready, then makes
 * the call that will not block: accept on the listener, the one-shot echo on a connection.
 * Level-triggered means epoll reports a descriptor for as long as it stays ready, so an
 * event that is not handled now comes back on the next epoll_wait. Go twin: gosrv/epoll_lt.go.
 */
#include "echo.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int add_event(int epollfd, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    return epoll_ctl(epollfd, EPOLL_CTL_ADD, fd, &ev);
}

int serve_epoll_lt(const struct server *srv)
{
    /* step: create the epoll instance */
    int epollfd = epoll_create1(EPOLL_CLOEXEC);
    if (epollfd < 0) {
        log_errno(srv->errfd, "create_epollfd", errno);
        return -1;
    }
    /* step: watch the listener and the stop */
    if (add_event(epollfd, srv->listenfd) < 0 || add_event(epollfd, srv->stopfd) < 0) {
        log_errno(srv->errfd, "addevent_epollfd", errno);
        close(epollfd);
        return -1;
    }

    /* step: set up */
    struct acceptor acc;
    acceptor_open(&acc, SOCK_CLOEXEC);
    struct fdset conns = { 0 };
    struct epoll_event events[MAX_EVENT];
    struct sockaddr_in peeraddr;
    int status = 0;

    /* step: wait */
    for (;;) {
        /* Paused at the descriptor limit: not watching the listener, for a while at most. */
        int nfds = (int)NO_EINTR(epoll_wait(epollfd, events, MAX_EVENT, acc.paused ? ACCEPT_PAUSE_MS : -1));
        if (nfds < 0) {
            log_errno(srv->errfd, "wait_epollfd", errno);
            status = -1;
            goto out;
        }

        int closed = 0;
        for (int i = 0; i < nfds; i++) {
            int fd = events[i].data.fd;

            /* step: the stop */
            if (fd == srv->stopfd)
                goto out;

            /* step: accept */
            if (fd == srv->listenfd) {
                int connfd = accept_conn(srv, &acc, &peeraddr);
                if (connfd == ACCEPT_PAUSED && epoll_ctl(epollfd, EPOLL_CTL_DEL, srv->listenfd, NULL) < 0) {
                    log_errno(srv->errfd, "delevent_epollfd", errno);
                    status = -1;
                    goto out;
                }
                if (connfd < 0)
                    continue;
                log_new_conn(srv->outfd, &peeraddr, 0);
                if (add_event(epollfd, connfd) < 0 || fdset_add(&conns, connfd) < 0) {
                    log_errno(srv->errfd, "addevent_epollfd", errno);
                    close(connfd);
                }
                continue;
            }

            /* step: serve */
            /*
             * A connection is ready. EPOLLERR or EPOLLHUP without EPOLLIN (a reset peer)
             * counts too: the seed skipped such events, and level-triggered epoll reported
             * them again on every call, a busy loop on a descriptor never closed. recv
             * returns the error, echo_once logs it and closes.
             */
            fdset_del(&conns, fd);
            echo_once(srv, fd);
            closed++;
        }

        /* A connection closed, or the pause is over: watch the listener again. */
        if (acc.paused && (nfds == 0 || closed > 0)) {
            acc.paused = 0;
            if (add_event(epollfd, srv->listenfd) < 0) {
                log_errno(srv->errfd, "addevent_epollfd", errno);
                status = -1;
                goto out;
            }
        }
    }

/* step: clean up */
out:
    fdset_close_all(&conns);
    close(epollfd);
    return status;
}
