/* forkecho.c - the tutorial shape of a fork server: the port from argv[1], a child per
 * connection that echoes until end of stream and keeps the parent's stdout, SIGTERM left
 * at its default (the parent dies; a child serving a silent client lives on, holding
 * stdout). A paritydiff test fixture. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
				 .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 64) < 0) {
		perror("bind");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		printf("accepted\n");
		if (fork() == 0) {
			close(lfd);
			char buf[4096];
			ssize_t n;
			while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
				send(fd, buf, n, MSG_NOSIGNAL);
			close(fd);
			printf("child done\n");
			_exit(0);
		}
		close(fd);
	}
}
