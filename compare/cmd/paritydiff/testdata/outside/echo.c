/* echo.c - a select() echo server in the shape of servers written elsewhere: the port
 * from argv[1], no "listening on" line, a log of its own on stdout (line-buffered; built
 * with -DBLOCKBUF it keeps C stdio's default, block-buffered into a pipe), each close
 * logged after close(2), SIGTERM taken: the loop ends and main returns (stdio flushes).
 * A paritydiff test fixture; echo.go is its port with package net. Variants for tests:
 * -DLATE_LOG runs 50 ms on the CPU between a close and its log line and leaves SIGTERM at
 * its default (a stop at the wrong moment loses the line); -DABORT_AFTER_FIRST aborts
 * when its first client is to be closed (a reference that dies mid-scenario). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
	int fd;
	char addr[32];
	long total;
};

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static void drop(struct client *c, const char *why)
{
	if (why)
		fprintf(stderr, "recv: %s\n", why);
#ifdef ABORT_AFTER_FIRST
	/* no core dump, which would keep the descriptors open while it is written */
	prctl(PR_SET_DUMPABLE, 0);
	fprintf(stderr, "giving up\n");
	abort();
#endif
	close(c->fd);
#ifdef LATE_LOG
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 50000000L);
#endif
	/* logged after close: the peer may see its end before this line is written */
	printf("closed %s after %ld bytes\n", c->addr, c->total);
	c->fd = -1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
#ifndef BLOCKBUF
	setvbuf(stdout, NULL, _IOLBF, 0);
#endif
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
				 .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 64) < 0) {
		perror("bind");
		return 1;
	}
	/* SIGTERM is blocked but inside pselect, so it cannot slip in between the check of
	 * stop and the wait. */
	sigset_t term, orig;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &orig);
#ifndef LATE_LOG
	signal(SIGTERM, on_term);
#else
	(void)on_term;
	sigprocmask(SIG_SETMASK, &orig, NULL);
#endif
	struct client cl[FD_SETSIZE];
	int ncl = 0;
	while (!stop) {
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(lfd, &rd);
		int maxfd = lfd;
		for (int i = 0; i < ncl; i++)
			if (cl[i].fd >= 0) {
				FD_SET(cl[i].fd, &rd);
				if (cl[i].fd > maxfd)
					maxfd = cl[i].fd;
			}
		if (pselect(maxfd + 1, &rd, NULL, NULL, NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			perror("select");
			return 1;
		}
		for (int i = 0; i < ncl; i++) {
			struct client *c = &cl[i];
			if (c->fd < 0 || !FD_ISSET(c->fd, &rd))
				continue;
			char buf[4096];
			ssize_t n = recv(c->fd, buf, sizeof buf, 0);
			if (n < 0) {
				drop(c, strerror(errno));
				continue;
			}
			if (n == 0) {
				drop(c, NULL);
				continue;
			}
			c->total += n;
			if (send(c->fd, buf, n, MSG_NOSIGNAL) != n) {
				fprintf(stderr, "send: short or failed\n");
				drop(c, NULL);
			}
		}
		if (FD_ISSET(lfd, &rd)) {
			struct sockaddr_in peer;
			socklen_t len = sizeof peer;
			int fd = accept(lfd, (struct sockaddr *)&peer, &len);
			if (fd < 0) {
				perror("accept");
				continue;
			}
			int i = 0;
			while (i < ncl && cl[i].fd >= 0)
				i++;
			if (i == ncl)
				ncl++;
			cl[i].fd = fd;
			cl[i].total = 0;
			snprintf(cl[i].addr, sizeof cl[i].addr, "%s:%d", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port));
			printf("accepted %s\n", cl[i].addr);
		}
	}
	printf("bye\n");
	return 0;
}
