/*
 * server_main.c - the standalone server: `server MODEL [PORT]`.
 *
 * It listens, reports the port (so that PORT 0 can be used), and runs the model until
 * SIGINT, SIGTERM or SIGHUP. The seed's handler printed and called exit() inside the
 * signal handler; here the handler only records the signal and writes the stop eventfd
 * (both async-signal-safe), the model returns, and main prints the seed's line.
 * Go twin: gosrv/cmd/server/main.go.
 */
#include "echo.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;
static int stopfd = -1;

static void handle_signal(int sig)
{
    int saved = errno;
    uint64_t one = 1;
    got_signal = sig;
    if (write(stopfd, &one, sizeof(one)) < 0) {
        /* The counter cannot overflow from a few signals; nothing else can fail here. */
    }
    errno = saved;
}

static int usage(void)
{
    char line[256] = "models:";
    for (const struct model *m = models; m->name != NULL; m++) {
        strncat(line, " ", sizeof(line) - strlen(line) - 1);
        strncat(line, m->name, sizeof(line) - strlen(line) - 1);
    }
    log_line(2, "usage: server MODEL [PORT]");
    log_line(2, line);
    return 1;
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGHUP:
        return "SIGHUP";
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    }
    return "SIGNAL";
}

int main(int argc, char *argv[])
{
    char line[128];
    if (argc < 2 || argc > 3)
        return usage();
    const struct model *m = find_model(argv[1]);
    if (m == NULL) {
        snprintf(line, sizeof(line), "server: unknown model \"%.64s\"", argv[1]);
        log_line(2, line);
        return usage();
    }
    int port = DEFAULT_PORT;
    if (argc == 3 && (port = parse_port(argv[2])) < 0) {
        snprintf(line, sizeof(line), "server: bad port \"%.64s\": want a number from 0 to 65535", argv[2]);
        log_line(2, line);
        return usage();
    }

    /* Go's runtime raises its soft descriptor limit to the hard one at start-up; do the same,
     * so that both servers run out of descriptors at the same point (EMFILE). */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* Go's runtime holds two descriptors; so does the C server (see open_runtime_fds). */
    if (open_runtime_fds() < 0) {
        log_errno(2, "create_runtimefds", errno);
        return 1;
    }
    stopfd = eventfd(0, EFD_CLOEXEC);
    if (stopfd < 0) {
        log_errno(2, "create_stopfd", errno);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handle_signal; /* no SA_RESTART: a blocked call returns EINTR */
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int listenfd = open_listener(port, 2);
    if (listenfd < 0)
        return 1;
    log_listening(2, listener_port(listenfd));

    struct server srv = { .listenfd = listenfd, .stopfd = stopfd, .outfd = 1, .errfd = 2 };
    if (m->serve(&srv) < 0)
        return 1;

    snprintf(line, sizeof(line), "signal: %s(%d)   close server ... done",
             signal_name(got_signal), (int)got_signal);
    close(listenfd);
    close(stopfd);
    log_line(2, line);
    return 0;
}
