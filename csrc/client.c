/*
 * client.c - the seed's client: `client MSG [PORT [HOST]]` sends MSG, prints the reply.
 *
 * Seed departures: after sending it half-closes (shutdown SHUT_WR), so an empty MSG gets
 * its empty answer instead of waiting forever, and the edge-triggered server, which echoes
 * for as long as the connection is open, sees the end of the message. It reads until
 * BUF_SIZE bytes or end of stream rather than trusting one recv to hold the whole reply,
 * and it never writes buf[-1] or buf[512]. Go twin: gosrv/cmd/client/main.go.
 */
#include "echo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERV_ADDR "127.0.0.1"

static int usage(void)
{
    log_line(2, "usage: client MSG [PORT [HOST]]");
    return 1;
}

static int fail(const char *what, int sockfd)
{
    log_errno(2, what, errno);
    if (sockfd >= 0)
        close(sockfd);
    return 1;
}

int main(int argc, char *argv[])
{
    char line[128];
    if (argc < 2 || argc > 4)
        return usage();
    int port = DEFAULT_PORT;
    if (argc >= 3 && (port = parse_port(argv[2])) < 0) {
        snprintf(line, sizeof(line), "client: bad port \"%.64s\": want a number from 0 to 65535", argv[2]);
        log_line(2, line);
        return usage();
    }
    const char *host = argc == 4 ? argv[3] : SERV_ADDR;

    struct sockaddr_in servaddr;
    memset(&servaddr, 0, sizeof(servaddr));
    servaddr.sin_family = AF_INET;
    servaddr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &servaddr.sin_addr) != 1) {
        log_line(2, "inet_pton_servaddr error: The address format is wrong");
        return 1;
    }

    int sockfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sockfd < 0)
        return fail("create_sockfd", -1);
    if (connect(sockfd, (struct sockaddr *)&servaddr, sizeof(servaddr)) < 0)
        return fail("connect_sockfd", sockfd);

    const char *msg = argv[1];
    size_t len = strlen(msg), sent = 0;
    while (sent < len) {
        ssize_t n = NO_EINTR(send(sockfd, msg + sent, len - sent, MSG_NOSIGNAL));
        if (n < 0)
            return fail("send_sockfd", sockfd);
        sent += (size_t)n;
    }
    /* ENOTCONN: a one-shot server that read only the first BUF_SIZE bytes has already
     * answered and closed with our unread bytes queued, which sends RST; the answer is
     * still in our receive queue, so read it rather than fail on a race we cannot lose. */
    if (shutdown(sockfd, SHUT_WR) < 0 && errno != ENOTCONN)
        return fail("shutdown_sockfd", sockfd);

    char buf[BUF_SIZE];
    size_t nbuf = 0;
    while (nbuf < BUF_SIZE) {
        ssize_t n = NO_EINTR(recv(sockfd, buf + nbuf, BUF_SIZE - nbuf, 0));
        if (n < 0)
            return fail("recv_sockfd", sockfd);
        if (n == 0)
            break;
        nbuf += (size_t)n;
    }
    log_msg(1, "echo_msg: ", buf, nbuf);
    close(sockfd);
    return 0;
}
