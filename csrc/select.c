/*
 * select.c - I/O multiplexing with select(2) (seed: IO多路复用, select named without code).
 *
 * One thread hands the kernel a bitmap of descriptors (fd_set) and sleeps until one of
 * them is readable; select overwrites the bitmap with the ready ones, so it is rebuilt
 * from the set of open connections before every call, and the kernel scans every bit
 * below maxfd+1 each time. The bitmap has FD_SETSIZE (1024) bits: a descriptor number
 * at or above it cannot be watched at all (FD_SET on it would write past the fd_set), so
 * such a connection is refused with a log line and closed. Ready descriptors are served
 * in this order: stop, listener, then connections by ascending descriptor number.
 * Go twin: gosrv/select.go.
 */
#include "echo.h"

#include <errno.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

/* "fd N beyond FD_SETSIZE: WHAT", the same line as in Go. */
static void log_beyond(int errfd, int fd, const char *what)
{
    char line[80];
    snprintf(line, sizeof(line), "fd %d beyond FD_SETSIZE: %s", fd, what);
    log_line(errfd, line);
}

int serve_select(const struct server *srv)
{
    /* step: check the limit */
    if (srv->listenfd >= FD_SETSIZE || srv->stopfd >= FD_SETSIZE) {
        log_beyond(srv->errfd, srv->listenfd >= FD_SETSIZE ? srv->listenfd : srv->stopfd,
                   "cannot select");
        return -1;
    }

    /* step: set up */
    struct fdset conns = { 0 }; /* the open connections, by descriptor number */
    fd_set rset;
    struct acceptor acc;
    acceptor_open(&acc, SOCK_CLOEXEC);
    struct sockaddr_in peeraddr;
    int status = 0;

    /* step: fill the bitmap */
    for (;;) {
        /* select left only the ready bits last time: start again from every descriptor. */
        FD_ZERO(&rset);
        if (!acc.paused) /* paused at the descriptor limit: the listener is not watched */
            FD_SET(srv->listenfd, &rset);
        FD_SET(srv->stopfd, &rset);
        int maxfd = srv->listenfd > srv->stopfd ? srv->listenfd : srv->stopfd;
        for (int fd = 0; fd < conns.cap; fd++) {
            if (conns.open[fd]) {
                FD_SET(fd, &rset);
                if (fd > maxfd)
                    maxfd = fd;
            }
        }

        /* step: wait */
        /* A failed select leaves rset as it was: retrying after EINTR is safe. */
        struct timeval pause = { .tv_sec = 0, .tv_usec = ACCEPT_PAUSE_MS * 1000 };
        int nready = (int)NO_EINTR(select(maxfd + 1, &rset, NULL, NULL, acc.paused ? &pause : NULL));
        if (nready < 0) {
            log_errno(srv->errfd, "select", errno);
            status = -1;
            break;
        }

        /* step: the stop */
        if (FD_ISSET(srv->stopfd, &rset))
            break;

        /* step: accept */
        if (FD_ISSET(srv->listenfd, &rset)) {
            int connfd = accept_conn(srv, &acc, &peeraddr);
            if (connfd >= 0) {
                log_new_conn(srv->outfd, &peeraddr, 0);
                if (connfd >= FD_SETSIZE) {
                    /* select cannot watch it; waiting for it in a blocking recv would stall
                     * everyone else. Refuse it: the client sees end of stream. */
                    log_beyond(srv->errfd, connfd, "close conn");
                    close(connfd);
                } else if (fdset_add(&conns, connfd) < 0) {
                    log_errno(srv->errfd, "accept_listenfd", ENOMEM);
                    close(connfd);
                }
            }
        }

        /* step: serve */
        /* Readable includes end of stream and a reset: recv reports it, echo_once closes. */
        int closed = 0;
        for (int fd = 0; fd < conns.cap && fd <= maxfd; fd++) {
            if (conns.open[fd] && FD_ISSET(fd, &rset)) {
                fdset_del(&conns, fd);
                echo_once(srv, fd);
                closed++;
            }
        }
        /* A connection closed, or the pause is over: watch the listener again. */
        if (nready == 0 || closed > 0)
            acc.paused = 0;
    }

    /* step: clean up */
    fdset_close_all(&conns);
    return status;
}
