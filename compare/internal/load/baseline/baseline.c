/*
 * baseline.c - the floor of this machine for the report: accept, one recv, close.
 *
 * It is the one-shot protocol with the echo and the log lines taken out, on the same
 * listening socket setup as the servers (backlog 1024, port from argv or 0), so a load
 * against it measures what connecting, the kernel's TCP work and the load generator cost
 * by themselves. The recv empties the receive queue before close: closing a socket with
 * unread bytes would answer with a reset instead of a FIN. It prints the servers'
 * "listening on" line; SIGTERM ends it (default action).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t len = sizeof(addr);
    char buf[512];

    addr.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 0));
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
        perror("baseline");
        return 1;
    }
    dprintf(2, "listening on 0.0.0.0:%d\n", ntohs(addr.sin_port));
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        if (recv(c, buf, sizeof(buf), 0) < 0) {
            /* a reset peer: nothing to answer */
        }
        close(c);
    }
}
