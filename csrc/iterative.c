/*
 * iterative.c - blocking I/O, iterative server (seed: 迭代模式 + 阻塞IO).
 *
 * One loop accepts a connection and serves it to the end before accepting the next, so a
 * client that connects and says nothing holds every other client in the listen queue:
 * connections are answered strictly in the order they were accepted. Both phases of a
 * recv block this one thread. Go twin: gosrv/iterative.go.
 */
#include "echo.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

int serve_iterative(const struct server *srv)
{
    /* step: set up */
    struct acceptor acc;
    acceptor_open(&acc, SOCK_CLOEXEC);
    int connfd;

    /* step: accept */
    /* accept blocks (in poll, so that a stop can wake it: accept_blocking). */
    while ((connfd = accept_blocking(srv, &acc)) >= 0) {
        /* step: wait */
        /* Serve this client completely; nobody else is served meanwhile. */
        int ready = wait_readable(connfd, srv->stopfd);
        if (ready <= 0) {
            close(connfd);
            if (ready == 0)
                break; /* a stop */
            log_errno(srv->errfd, "poll_connfd", errno);
            continue;
        }
        /* step: serve */
        echo_once(srv, connfd);
    }

    /* step: stop */
    /* Ended by a stop (ACCEPT_STOPPED, or while a client was waited for) or a failed poll. */
    return connfd == ACCEPT_FAILED ? -1 : 0;
}
