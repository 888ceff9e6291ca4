/* kv.c - a key-value store with a line protocol, served by one process in one select(2)
 * loop over the listener and every client (the reference of compare/examples/kv, whose
 * Go port is ../main.go). A request is a line; its reply is a line:
 *
 *   SET KEY VALUE   OK | ERROR value too long | ERROR store full
 *   GET KEY         VALUE v | NOT_FOUND
 *   DEL KEY         DELETED | NOT_FOUND
 *   other           ERROR unknown command
 *
 * A line ends at "\n" (a "\r" before it is dropped). KEY is 1 to 64 bytes without a blank
 * (else ERROR bad key); VALUE is the rest of the line, up to 256 bytes. A line that holds
 * a NUL is ERROR bad request; 1024 bytes without a newline get ERROR line too long and the
 * connection is closed. Stdout logs one line per event, written before the reply: "new
 * conn PEER", "PEER: CMD -> REPLY" (the reply's first word). SIGINT or SIGTERM: "stop: N
 * keys" on stderr, exit 0.
 *
 *   cc -Wall -Wextra -Werror -O2 -o kv c/kv.c && ./kv 0
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE 1024
#define MAX_KEY 64
#define MAX_VALUE 256
#define MAX_KEYS 256

struct entry {
	int used;
	char key[MAX_KEY + 1];
	char value[MAX_VALUE + 1];
};

struct client {
	int open;
	char peer[32];
	char buf[MAX_LINE];
	size_t len;
};

static struct entry store[MAX_KEYS];
static struct client clients[FD_SETSIZE]; /* indexed by descriptor */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) { stop_signal = sig; }

static struct entry *find(const char *key, size_t n)
{
	for (int i = 0; i < MAX_KEYS; i++)
		if (store[i].used && strlen(store[i].key) == n && memcmp(store[i].key, key, n) == 0)
			return &store[i];
	return NULL;
}

static int count_keys(void)
{
	int n = 0;
	for (int i = 0; i < MAX_KEYS; i++)
		n += store[i].used;
	return n;
}

/* reply logs the request's outcome, then sends "word[ arg]\n" whole. The socket blocks:
 * a client that does not read its replies holds the loop (a small example's limit). */
static int reply(int fd, const char *cmd, const char *word, const char *arg, size_t argn)
{
	char out[MAX_VALUE + 64];
	size_t n = strlen(word);
	memcpy(out, word, n);
	if (arg) {
		out[n++] = ' ';
		memcpy(out + n, arg, argn);
		n += argn;
	}
	out[n++] = '\n';
	printf("%s: %s -> %s\n", clients[fd].peer, cmd, word);
	for (size_t off = 0; off < n;) {
		ssize_t w = send(fd, out + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

/* request answers one line of n bytes (without its newline). */
static int request(int fd, char *line, size_t n)
{
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (memchr(line, '\0', n))
		return reply(fd, "?", "ERROR", "bad request", 11);
	char *sp = memchr(line, ' ', n);
	size_t cmdn = sp ? (size_t)(sp - line) : n;
	const char *cmd = cmdn == 3 && memcmp(line, "SET", 3) == 0   ? "SET"
			  : cmdn == 3 && memcmp(line, "GET", 3) == 0 ? "GET"
			  : cmdn == 3 && memcmp(line, "DEL", 3) == 0 ? "DEL"
								     : NULL;
	if (!cmd)
		return reply(fd, "?", "ERROR", "unknown command", 15);
	char *key = sp ? sp + 1 : line + n;
	size_t rest = (size_t)(line + n - key);
	char *sp2 = memchr(key, ' ', rest);
	size_t keyn = sp2 ? (size_t)(sp2 - key) : rest;
	if (keyn == 0 || keyn > MAX_KEY || (sp2 && cmd[0] != 'S'))
		return reply(fd, cmd, "ERROR", "bad key", 7);
	struct entry *e = find(key, keyn);
	if (cmd[0] == 'G')
		return e ? reply(fd, cmd, "VALUE", e->value, strlen(e->value)) : reply(fd, cmd, "NOT_FOUND", NULL, 0);
	if (cmd[0] == 'D') {
		if (!e)
			return reply(fd, cmd, "NOT_FOUND", NULL, 0);
		e->used = 0;
		return reply(fd, cmd, "DELETED", NULL, 0);
	}
	if (!sp2)
		return reply(fd, cmd, "ERROR", "bad request", 11);
	size_t valn = rest - keyn - 1;
	if (valn > MAX_VALUE)
		return reply(fd, cmd, "ERROR", "value too long", 14);
	for (int i = 0; !e && i < MAX_KEYS; i++)
		if (!store[i].used) {
			e = &store[i];
			memcpy(e->key, key, keyn);
			e->key[keyn] = '\0';
		}
	if (!e)
		return reply(fd, cmd, "ERROR", "store full", 10);
	e->used = 1;
	memcpy(e->value, sp2 + 1, valn);
	e->value[valn] = '\0';
	return reply(fd, cmd, "OK", NULL, 0);
}

/* serve reads what is there and answers every whole line; -1 closes the connection. */
static int serve(int fd)
{
	struct client *c = &clients[fd];
	ssize_t r = recv(fd, c->buf + c->len, MAX_LINE - c->len, 0);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0)
		return -1; /* end of stream, or a reset: the partial line is dropped */
	c->len += (size_t)r;
	char *start = c->buf, *nl;
	while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->buf)))) {
		if (request(fd, start, (size_t)(nl - start)) < 0)
			return -1;
		start = nl + 1;
	}
	c->len -= (size_t)(start - c->buf);
	memmove(c->buf, start, c->len);
	if (c->len == MAX_LINE) {
		reply(fd, "?", "ERROR", "line too long", 13);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: kv PORT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
	socklen_t salen = sizeof sa;
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 128) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
		perror("listen");
		return 1;
	}
	fprintf(stderr, "listening on 0.0.0.0:%d\n", ntohs(sa.sin_port));

	/* The stop signals are blocked except inside pselect, so one that comes between
	 * two waits is taken by the next wait instead of being lost. */
	sigset_t stops, during;
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &during);
	struct sigaction act = {.sa_handler = on_stop};
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);

	while (!stop_signal) {
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(lfd, &rd);
		int maxfd = lfd;
		for (int fd = 0; fd < FD_SETSIZE; fd++)
			if (clients[fd].open) {
				FD_SET(fd, &rd);
				maxfd = fd > maxfd ? fd : maxfd;
			}
		if (pselect(maxfd + 1, &rd, NULL, NULL, NULL, &during) < 0) {
			if (errno == EINTR)
				continue;
			perror("pselect");
			return 1;
		}
		for (int fd = 0; fd <= maxfd; fd++)
			if (fd != lfd && clients[fd].open && FD_ISSET(fd, &rd) && serve(fd) < 0) {
				clients[fd].open = 0;
				close(fd);
			}
		if (FD_ISSET(lfd, &rd)) {
			struct sockaddr_in peer;
			socklen_t plen = sizeof peer;
			int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
			if (fd < 0) {
				perror("accept");
				continue;
			}
			if (fd >= FD_SETSIZE) {
				close(fd);
				continue;
			}
			struct client *c = &clients[fd];
			c->open = 1;
			c->len = 0;
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
			snprintf(c->peer, sizeof c->peer, "%s:%d", ip, ntohs(peer.sin_port));
			printf("new conn %s\n", c->peer);
		}
	}
	fprintf(stderr, "stop: %d keys\n", count_keys());
	return 0;
}
