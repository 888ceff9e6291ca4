/*
 * common.c - the pieces every model shares: the listening socket, waiting for readiness or
 * a stop, the one-shot echo, and the log lines. Its Go twin is gosrv/common.go.
 *
 * Every log line leaves in one write(2), formatted by hand without stdio or malloc. That
 * keeps lines whole when several processes share one pipe (fork), makes the output
 * identical whether it goes to a terminal or a pipe (the seed's printf was block-buffered
 * in a pipe), and keeps the helpers async-signal-safe, which the child of a forked Go
 * process requires.
 */
#include "echo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* socket, SO_REUSEADDR, bind 0.0.0.0:port, listen: the seed's steps and error names. */
int open_listener(int port, int errfd)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_errno(errfd, "create_listenfd", errno);
        return -1;
    }
    int reuseaddr = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, sizeof(reuseaddr)) < 0) {
        log_errno(errfd, "setsockopt_listenfd", errno);
        goto fail;
    }
    struct sockaddr_in servaddr;
    memset(&servaddr, 0, sizeof(servaddr));
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_ANY);
    servaddr.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&servaddr, sizeof(servaddr)) < 0) {
        log_errno(errfd, "bind_listenfd", errno);
        goto fail;
    }
    if (listen(fd, MAX_CONN) < 0) {
        log_errno(errfd, "listen_listenfd", errno);
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* The port the kernel chose when the server asked for port 0. */
int listener_port(int listenfd)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    if (getsockname(listenfd, (struct sockaddr *)&addr, &len) < 0)
        return -1;
    return ntohs(addr.sin_port);
}

/* A port on the command line: 1 to 5 decimal digits, 0 to 65535. Returns -1 otherwise. */
int parse_port(const char *s)
{
    long v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? (int)v : -1;
}

int set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0)
        return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/*
 * Blocks until fd is readable (data, end of stream or an error: all make the next call
 * return at once) or a stop is requested. Returns 1 for fd, 0 for a stop, -1 on error.
 * This is the blocking models' only addition to the seed: without it a blocked accept or
 * recv could not be stopped. A stop wins when both are ready, so stopping is prompt.
 */
int wait_readable(int fd, int stopfd)
{
    struct pollfd pfd[2] = {
        { .fd = fd, .events = POLLIN },
        { .fd = stopfd, .events = POLLIN },
    };
    if (NO_EINTR(poll(pfd, 2, -1)) < 0)
        return -1;
    if (pfd[1].revents)
        return 0;
    return 1;
}

/* fd is readable now (a zero-timeout poll: never blocks). */
static int readable_now(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    return NO_EINTR(poll(&pfd, 1, 0)) > 0;
}

/* Non-blocking look at the stop eventfd, for loops that never block on it. */
int stop_requested(int stopfd)
{
    return readable_now(stopfd);
}

/* ---- the accept step ---- */

/*
 * Every model accepts through accept_conn (uring through accept_result, with what its
 * io_uring completion reports), so every model treats accept's errors alike:
 *
 * - EINTR: accept4 is called again at once.
 * - EAGAIN (EWOULDBLOCK): the queue is empty; only a non-blocking listener says so.
 *   ACCEPT_EMPTY: a model that drains the queue (epoll-et, sigio, nonblock) stops there.
 * - The errors accept(2) says to treat like EAGAIN and retry, because Linux reports on
 *   accept a network error of the connection being accepted (ENETDOWN, EPROTO, ENOPROTOOPT,
 *   EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH), and ECONNABORTED (a
 *   connection reset while it waited in the queue): that connection is gone, the next may
 *   be fine. Not logged, as Go's net package and nginx do. ACCEPT_RETRY.
 * - EMFILE, ENFILE: no descriptor is left for the connection, and it stays in the queue.
 *   Accepting again at once would fail again (a level-triggered model would spin), and
 *   accepting and closing it would turn its client away. So the model pauses: it stops
 *   watching the listener, and watches it again as soon as a connection of its own has
 *   closed, or after ACCEPT_PAUSE_MS without one (a descriptor freed by another process),
 *   as nginx does. The queued connections wait in the kernel's backlog meanwhile. One line
 *   per episode, "accept_listenfd error: Too many open files" when it starts; the episode
 *   ends with the accept that leaves the queue empty. ACCEPT_PAUSED.
 * - Anything else is logged, "accept_listenfd error: ...": ACCEPT_FAILED.
 */

void acceptor_open(struct acceptor *a, int flags)
{
    a->flags = flags;
    a->paused = 0;
    a->exhausted = 0;
}

/*
 * Descriptor exhaustion: pause (see above), with one line per episode. accept4 takes a
 * descriptor before it looks at the queue, so a non-blocking listener or an io_uring
 * accept reports EMFILE for an empty queue too: then no connection waits, and no episode
 * begins (but the pause stands: nothing could be accepted).
 */
static int pause_accepting(const struct server *srv, struct acceptor *a, int err)
{
    if (!a->exhausted && readable_now(srv->listenfd)) {
        log_errno(srv->errfd, "accept_listenfd", err);
        a->exhausted = 1;
    }
    a->paused = 1;
    return ACCEPT_PAUSED;
}

/*
 * accept4 on the listener with the acceptor's flags. Returns the connection (peer filled)
 * or ACCEPT_EMPTY, ACCEPT_RETRY, ACCEPT_FAILED (see above).
 */
int accept_conn(const struct server *srv, struct acceptor *a, struct sockaddr_in *peer)
{
    socklen_t peerlen = sizeof(*peer);
    int connfd = (int)NO_EINTR(accept4(srv->listenfd, (struct sockaddr *)peer, &peerlen, a->flags));
    return accept_result(srv, a, connfd >= 0 ? connfd : -errno);
}

/* What an accept returned, as io_uring reports it: the connection, or -errno. */
int accept_result(const struct server *srv, struct acceptor *a, int res)
{
    if (res >= 0) {
        /* The episode ends once every connection that waited is accepted. */
        if (a->exhausted && !readable_now(srv->listenfd))
            a->exhausted = 0;
        return res;
    }
    switch (-res) {
    case EAGAIN:
        return ACCEPT_EMPTY;
    case EINTR:
    case ECONNABORTED:
    case ENETDOWN:
    case EPROTO:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return ACCEPT_RETRY;
    case EMFILE:
    case ENFILE:
        return pause_accepting(srv, a, -res);
    default:
        log_errno(srv->errfd, "accept_listenfd", -res);
        return ACCEPT_FAILED;
    }
}

/*
 * The draining models' accept (epoll-et, sigio, nonblock): the next queued connection,
 * accepted past ACCEPT_RETRY, with its "new conn IP:PORT" line written. Returns it, or
 * ACCEPT_EMPTY once the queue is drained, ACCEPT_PAUSED at the descriptor limit, or
 * ACCEPT_FAILED (logged).
 */
int accept_queued(const struct server *srv, struct acceptor *a)
{
    struct sockaddr_in peer;
    for (;;) {
        int connfd = accept_conn(srv, a, &peer);
        if (connfd == ACCEPT_RETRY)
            continue;
        if (connfd >= 0)
            log_new_conn(srv->outfd, &peer, 0);
        return connfd;
    }
}

/*
 * The blocking models' accept (iterative, thread): blocks until a connection is accepted
 * and returns it, with its "new conn(IP:PORT)" line written. accept itself would block
 * where no stop could wake it; waiting in poll on the listener and the stop eventfd
 * instead (wait_readable) lets a stop end the wait: ACCEPT_STOPPED. ACCEPT_FAILED: poll
 * failed ("poll_listenfd error: ..."). An accept that yields no connection (an error,
 * logged or retried) is followed by another wait; at the descriptor limit (ACCEPT_PAUSED)
 * that wait is on the stop eventfd alone, for ACCEPT_PAUSE_MS: a blocking model's
 * connections close on other threads (thread) or before the next accept (iterative), so
 * only the pause's end can tell it to look again.
 */
int accept_blocking(const struct server *srv, struct acceptor *a)
{
    struct sockaddr_in peer;
    for (;;) {
        int ready = wait_readable(srv->listenfd, srv->stopfd);
        if (ready == 0)
            return ACCEPT_STOPPED;
        if (ready < 0) {
            log_errno(srv->errfd, "poll_listenfd", errno);
            return ACCEPT_FAILED;
        }
        int connfd = accept_conn(srv, a, &peer);
        if (connfd == ACCEPT_PAUSED) {
            struct pollfd pfd = { .fd = srv->stopfd, .events = POLLIN };
            if (NO_EINTR(poll(&pfd, 1, ACCEPT_PAUSE_MS)) < 0) {
                log_errno(srv->errfd, "poll_listenfd", errno);
                return ACCEPT_FAILED;
            }
            a->paused = 0; /* a stop is seen by the next wait */
            continue;
        }
        if (connfd < 0)
            continue; /* nothing accepted: wait again */
        log_new_conn(srv->outfd, &peer, 1);
        return connfd;
    }
}

/*
 * The one-shot protocol: one recv of at most BUF_SIZE bytes, log it, send it back,
 * half-close, close. Seed departures: a failed recv is reported instead of writing
 * buf[-1]; the log line takes a length instead of writing buf[512]; MSG_NOSIGNAL turns
 * a send to a reset peer into EPIPE instead of a SIGPIPE that kills the server.
 */
void echo_once(const struct server *srv, int connfd)
{
    char buf[BUF_SIZE];
    long nbuf = NO_EINTR(recv(connfd, buf, BUF_SIZE, 0));
    echo_reply(srv, connfd, buf, nbuf); /* errno is still recv's */
}

/*
 * The one-shot protocol's second half, after echo_once's recv or one a model made itself
 * (nonblock tries recv on a non-blocking socket and must see EAGAIN before anything is
 * logged): nbuf is what that recv returned, and errno its error when nbuf < 0. Then: log,
 * send, half-close, close. The send cannot meet EAGAIN on a non-blocking socket: a
 * connection that has sent nothing yet has an empty send buffer, larger than BUF_SIZE.
 */
void echo_reply(const struct server *srv, int connfd, const char *buf, long nbuf)
{
    if (nbuf < 0) {
        log_errno(srv->errfd, "recv_connfd", errno);
        close(connfd);
        return;
    }
    log_msg(srv->outfd, "recv_msg: ", buf, (size_t)nbuf);
    if (NO_EINTR(send(connfd, buf, (size_t)nbuf, MSG_NOSIGNAL)) < 0) {
        log_errno(srv->errfd, "send_connfd", errno);
        close(connfd);
        return;
    }
    /* Its error is not logged: the peer may reset between send and shutdown, and the
     * close that follows ends the connection either way. */
    shutdown(connfd, SHUT_WR);
    close(connfd);
}

/* ---- the descriptors a model must close when it stops ---- */

int fdset_add(struct fdset *set, int fd)
{
    if (fd >= set->cap) {
        int cap = set->cap > 0 ? set->cap : 64;
        while (cap <= fd)
            cap *= 2;
        unsigned char *open = realloc(set->open, (size_t)cap);
        if (open == NULL)
            return -1;
        memset(open + set->cap, 0, (size_t)(cap - set->cap));
        set->open = open;
        set->cap = cap;
    }
    set->open[fd] = 1;
    return 0;
}

void fdset_del(struct fdset *set, int fd)
{
    if (fd < set->cap)
        set->open[fd] = 0;
}

void fdset_close_all(struct fdset *set)
{
    for (int fd = 0; fd < set->cap; fd++) {
        if (set->open[fd])
            close(fd);
    }
    free(set->open);
    set->open = NULL;
    set->cap = 0;
}

/*
 * Closes every descriptor but the n in keep, with close_range(2): async-signal-safe, so a
 * forked child of a Go process may call it. Without it the child would hold copies of
 * every socket of the process it was forked from, and a peer's close would not end them.
 */
void close_other_fds(const int *keep, int n)
{
    int sorted[8];
    if (n > 8)
        n = 8;
    memcpy(sorted, keep, (size_t)n * sizeof(int));
    for (int i = 1; i < n; i++) { /* insertion sort: n is tiny */
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    }
    unsigned int from = 0;
    for (int i = 0; i < n; i++) {
        if ((unsigned int)sorted[i] > from)
            close_range(from, (unsigned int)sorted[i] - 1, 0);
        from = (unsigned int)sorted[i] + 1;
    }
    close_range(from, ~0U, 0);
}

/*
 * The standalone server's descriptors are numbered as the Go server's are, which
 * CONTRACT.md § Faults promises: 0-2 stdio, 3 an epoll instance, 4 an eventfd, 5 the stop
 * eventfd, 6 the listener, then the model's own (epoll-lt/et: its epoll instance, sigio:
 * its watcher's eventfd, uring: its ring), then the connections (fork: its children's pidfds).
 * Descriptors 3 and 4 are the Go runtime's, and cannot be avoided: its network poller
 * needs them for timers (runtime/netpoll_epoll.go: epoll_create1, then eventfd) and
 * creates them the first time a timer is set, which its memory scavenger does sooner or
 * later in any program, at a moment nobody chooses: with no descriptor free then, the Go
 * process dies ("runtime: netpollinit failed"). So the Go server makes its runtime create
 * them at start (gosrv.OpenRuntimeFds), and the C server opens the same two kinds at the
 * same point, so that a descriptor limit binds both servers at the same connection.
 * They are never used. Returns -1 if either cannot be opened (errno set).
 */
int open_runtime_fds(void)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -1;
    if (eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) < 0) {
        int err = errno;
        close(epfd);
        errno = err;
        return -1;
    }
    return 0;
}

/* ---- log lines: one write(2) each, built without stdio ---- */

struct line {
    char buf[BUF_SIZE + 128];
    size_t n;
};

static void put_bytes(struct line *l, const char *s, size_t n)
{
    if (n > sizeof(l->buf) - l->n)
        n = sizeof(l->buf) - l->n;
    memcpy(l->buf + l->n, s, n);
    l->n += n;
}

static void put_str(struct line *l, const char *s)
{
    put_bytes(l, s, strlen(s));
}

static void put_uint(struct line *l, unsigned long v)
{
    char digits[24];
    size_t i = sizeof(digits);
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    put_bytes(l, digits + i, sizeof(digits) - i);
}

/*
 * Every socket the process holds is set to abort when it is closed (SO_LINGER on, with a
 * zero time): the close at the exit that follows sends a reset, never an end of stream.
 * A server that dies of SIGPIPE so ends each client's connection the same way whatever
 * the client's timing; closed as usual, a connection ended with a reset only if the
 * client's bytes had arrived unread, and with an end of stream if they came a moment later
 * (CONTRACT.md § Faults, log streams). The descriptors are read from /proc/self/fd; at the
 * descriptor limit, with none free for that, every number below the soft limit is tried.
 * Non-sockets refuse the option (ENOTSOCK). System calls only: it runs in a signal handler.
 */
void abort_sockets(void)
{
    const struct linger abort_on_close = { .l_onoff = 1, .l_linger = 0 };
    int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        struct rlimit nofile;
        if (prlimit(0, RLIMIT_NOFILE, NULL, &nofile) == 0)
            for (rlim_t fd = 3; fd < nofile.rlim_cur && fd <= INT_MAX; fd++)
                setsockopt((int)fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
        return;
    }
    char buf[4096];
    long n;
    while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
        /* struct linux_dirent64: inode (8), offset (8), record length (2), type (1), name */
        for (long off = 0; off < n;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof(reclen));
            const char *name = buf + off + 19;
            int fd = 0, digits = 0;
            for (; name[digits] >= '0' && name[digits] <= '9'; digits++)
                fd = fd * 10 + (name[digits] - '0');
            if (digits > 0 && name[digits] == '\0' && fd > 2 && fd != dfd)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
            off += reclen;
        }
    }
    close(dfd);
}

/*
 * Death by SIGPIPE, the Unix convention for a log line written into a pipe whose reader is
 * gone (`server | head -1`), with every connection aborted first (abort_sockets). The
 * standalone server's SIGPIPE handler comes here (server_main.c), and so does a log write
 * that meets EPIPE in a server that inherited SIGPIPE blocked; SIGPIPE's default
 * disposition, unblocked, then raised. Go twin: DieOfSigpipe.
 */
void die_of_sigpipe(void)
{
    abort_sockets();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(SIGPIPE);
}

/*
 * A log stream nobody reads must not keep the server from stopping. The standalone server
 * gives its stdout and stderr, when they are pipes or terminals, an open file description
 * of their own with O_NONBLOCK (log_nonblocking: reopened through /proc/self/fd, never
 * O_NONBLOCK set on the description it shares with other processes), and names its stop
 * eventfd (log_stop_on): a write that meets EAGAIN waits in poll for room or a stop, and
 * a line a stop cut short is counted, not written (log_lost_lines). A regular file or a
 * socket is left as it is.
 */
static int log_stopfd = -1;
static unsigned long log_lost;

void log_nonblocking(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))
        return;
    char path[] = "/proc/self/fd/N";
    path[sizeof(path) - 2] = (char)('0' + fd);
    /* A pipe with no reader left refuses it (ENXIO): fd stays, and its first line dies of
     * SIGPIPE. */
    int nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (nfd < 0)
        return;
    dup3(nfd, fd, 0);
    close(nfd);
}

void log_stop_on(int stopfd)
{
    log_stopfd = stopfd;
}

unsigned long log_lost_lines(void)
{
    return __atomic_load_n(&log_lost, __ATOMIC_RELAXED);
}

/* fd has room for a line again (1), or a stop came first (0). A reader gone (POLLERR)
 * counts as room: the write that follows meets EPIPE. */
static int wait_log_room(int fd)
{
    struct pollfd pfd[2] = {
        { .fd = fd, .events = POLLOUT },
        { .fd = log_stopfd, .events = POLLIN }, /* -1 (none): poll skips it */
    };
    if (NO_EINTR(poll(pfd, 2, -1)) < 0 || pfd[1].revents)
        return 0;
    return 1;
}

/*
 * Writes the whole line; a log write that fails has nowhere to be reported. A stream
 * nobody reads: see log_nonblocking. EPIPE on fd 1 or 2 is death by SIGPIPE
 * (die_of_sigpipe). A line is at most BUF_SIZE + 128 bytes, under PIPE_BUF: a pipe takes
 * it whole or answers EAGAIN.
 */
static void emit(int fd, struct line *l)
{
    put_bytes(l, "\n", 1);
    size_t off = 0;
    while (off < l->n) {
        long w = NO_EINTR(write(fd, l->buf + off, l->n - off));
        if (w < 0 && errno == EAGAIN) {
            if (wait_log_room(fd))
                continue;
            __atomic_add_fetch(&log_lost, 1, __ATOMIC_RELAXED);
            return;
        }
        if (w < 0 && errno == EPIPE && (fd == 1 || fd == 2))
            die_of_sigpipe();
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

/* IPv4 dotted quad, as inet_ntoa prints it (inet_ntoa itself is not async-signal-safe). */
static void put_ipv4(struct line *l, struct in_addr a)
{
    const unsigned char *b = (const unsigned char *)&a.s_addr;
    for (int i = 0; i < 4; i++) {
        if (i > 0)
            put_bytes(l, ".", 1);
        put_uint(l, b[i]);
    }
}

void log_listening(int errfd, int port)
{
    struct line l = { .n = 0 };
    put_str(&l, "listening on 0.0.0.0:");
    put_uint(&l, (unsigned long)port);
    emit(errfd, &l);
}

/* "new conn(IP:PORT)" for the blocking models, "new conn IP:PORT" for the others. */
void log_new_conn(int outfd, const struct sockaddr_in *peer, int parens)
{
    struct line l = { .n = 0 };
    put_str(&l, parens ? "new conn(" : "new conn ");
    put_ipv4(&l, peer->sin_addr);
    put_bytes(&l, ":", 1);
    put_uint(&l, ntohs(peer->sin_port));
    if (parens)
        put_bytes(&l, ")", 1);
    emit(outfd, &l);
}

/* "PREFIXMSG" ("recv_msg: ", "echo_msg: "), MSG cut at its first NUL as printf("%s") would. */
void log_msg(int fd, const char *prefix, const char *buf, size_t n)
{
    const char *nul = memchr(buf, 0, n);
    if (nul != NULL)
        n = (size_t)(nul - buf);
    struct line l = { .n = 0 };
    put_str(&l, prefix);
    put_bytes(&l, buf, n);
    emit(fd, &l);
}

void log_line(int fd, const char *text)
{
    struct line l = { .n = 0 };
    put_str(&l, text);
    emit(fd, &l);
}

/*
 * perror's format, "WHAT error: MESSAGE". strerrordesc_np gives glibc's untranslated
 * text from a static table: what perror prints in the C locale, and safe in a forked child.
 */
void log_errno(int errfd, const char *what, int err)
{
    struct line l = { .n = 0 };
    put_str(&l, what);
    put_str(&l, " error: ");
    const char *desc = strerrordesc_np(err);
    if (desc != NULL) {
        put_str(&l, desc);
    } else {
        put_str(&l, "Unknown error ");
        put_uint(&l, (unsigned long)err);
    }
    emit(errfd, &l);
}
