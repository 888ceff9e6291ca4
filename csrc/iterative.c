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
    struct sockaddr_in peeraddr;
    socklen_t peerlen;

    for (;;) {
        /* accept would block here; waiting in poll instead lets a stop wake us. */
        int ready = wait_readable(srv->listenfd, srv->stopfd);
        if (ready == 0)
            return 0;
        if (ready < 0) {
            log_errno(srv->errfd, "poll_listenfd", errno);
            return -1;
        }

        peerlen = sizeof(peeraddr);
        int connfd = accept4(srv->listenfd, (struct sockaddr *)&peeraddr, &peerlen, SOCK_CLOEXEC);
        if (connfd < 0) {
            log_errno(srv->errfd, "accept_listenfd", errno);
            continue;
        }
        log_new_conn(srv->outfd, &peeraddr, 1);

        /* Serve this client completely; nobody else is served meanwhile. */
        ready = wait_readable(connfd, srv->stopfd);
        if (ready <= 0) {
            close(connfd);
            if (ready == 0)
                return 0;
            log_errno(srv->errfd, "poll_connfd", errno);
            continue;
        }
        echo_once(srv, connfd);
    }
}
