/*
 * echo.h - what every I/O model shares: the server it is given, the wire protocol's
 * constants, and the helpers in common.c (listening, log lines, perror-style errors).
 *
 * A model is one function, serve_MODEL(srv), that serves on srv->listenfd until
 * srv->stopfd becomes readable, then closes every descriptor it opened and returns.
 * It never calls exit() and never installs a signal handler, so that the same code runs
 * in the standalone program (server_main.c) and inside a Go process (native/).
 * Its twin in Go is gosrv/common.go.
 */
#ifndef IOMODELS_ECHO_H
#define IOMODELS_ECHO_H

#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/types.h>

#define DEFAULT_PORT 8080
#define MAX_CONN 1024   /* listen backlog, as in the seed */
#define MAX_EVENT 1024  /* epoll_wait batch, as in the seed */
#define BUF_SIZE 512    /* one-shot models answer with what one recv of this size returns */

struct server {
    int listenfd; /* bound and listening (blocking); the model may change its flags */
    int stopfd;   /* an eventfd: readable once the server must stop; never read it */
    int outfd;    /* log lines ("new conn", "recv_msg"): stdout in the standalone server */
    int errfd;    /* error lines (perror format): stderr in the standalone server */
};

/*
 * Retries a system call that a signal interrupted (EINTR); evaluates to its result. The one
 * EINTR idiom of the C files (Go: ignoringEINTR).
 */
#define NO_EINTR(call) ({ long r_; do r_ = (call); while (r_ < 0 && errno == EINTR); r_; })

/* A model returns 0 once stopped, -1 when it could not start (the reason is logged). */
typedef int (*serve_fn)(const struct server *srv);

/* The wire protocol a model speaks (CONTRACT.md § Wire protocols). */
enum protocol {
    ONE_SHOT, /* one recv of at most BUF_SIZE bytes, echo it, half-close, close */
    STREAM,   /* echo everything until the peer closes */
};

/* How a model logs an accepted connection (CONTRACT.md § Output). */
enum conn_log {
    CONN_SPACE,  /* "new conn IP:PORT" */
    CONN_PARENS, /* "new conn(IP:PORT)": the seed's blocking servers */
};

/*
 * A row of the table of models: its name, its I/O model, and the traits that the tests,
 * the report and the benchmarks read instead of deciding them again. Go twin: gosrv.Model.
 */
struct model {
    const char *name;    /* command-line name, e.g. "epoll-lt" */
    const char *iomodel; /* the seed's I/O model, for the report */
    serve_fn serve;
    enum protocol protocol;
    enum conn_log conn_log;
    int multiplexes; /* one thread serves several ready connections per wake-up, in an order
                      * of service the model defines (CONTRACT.md § Parity) */
    int needs_uring; /* cannot start where io_uring is unavailable */
};

int serve_iterative(const struct server *srv);
int serve_fork(const struct server *srv);
int serve_epoll_lt(const struct server *srv);
int serve_epoll_et(const struct server *srv);
int serve_thread(const struct server *srv);
int serve_nonblock(const struct server *srv);
int serve_select(const struct server *srv);
int serve_poll(const struct server *srv);
int serve_sigio(const struct server *srv);
int serve_uring(const struct server *srv);

/* models.c: the table of models, in the order of CONTRACT.md § Models. */
extern const struct model models[];
const struct model *find_model(const char *name);

/* A set of open descriptors, indexed by fd, so a model can close them all when it stops. */
struct fdset {
    unsigned char *open;
    int cap;
};

/* common.c */
int fdset_add(struct fdset *set, int fd);
void fdset_del(struct fdset *set, int fd);
void fdset_close_all(struct fdset *set);
void close_other_fds(const int *keep, int n);
int open_runtime_fds(void);

int open_listener(int port, int errfd);
int listener_port(int listenfd);
int set_nonblock(int fd);
int parse_port(const char *s);
int wait_readable(int fd, int stopfd);
int stop_requested(int stopfd);

/*
 * The accept step every model shares (common.c): accept4 with the model's flags, the
 * errors to retry, the "accept_listenfd error" line, and the pause at the descriptor
 * limit. A model holds one acceptor from start to stop.
 */
struct acceptor {
    int flags;     /* accept4's: SOCK_CLOEXEC, plus SOCK_NONBLOCK for the non-blocking models */
    int paused;    /* 1 from EMFILE/ENFILE until the model watches its listener again */
    int exhausted; /* 1 once this episode of descriptor exhaustion is logged */
};

/*
 * How long a paused model waits before it accepts again when none of its own connections
 * closed meanwhile (the descriptor may be freed by another process).
 */
#define ACCEPT_PAUSE_MS 100

/* What accept_conn returns when it returns no connection. */
enum {
    ACCEPT_EMPTY = -1,  /* nothing is queued (EAGAIN: only a non-blocking listener says so) */
    ACCEPT_RETRY = -2,  /* nothing accepted, but more may be queued: call again */
    ACCEPT_FAILED = -3, /* an error, logged as "accept_listenfd error: ..." */
    ACCEPT_STOPPED = -4, /* accept_blocking only: a stop was requested */
    ACCEPT_PAUSED = -5, /* EMFILE/ENFILE: stop watching the listener for now (a->paused) */
};

void acceptor_open(struct acceptor *a, int flags);
int accept_conn(const struct server *srv, struct acceptor *a, struct sockaddr_in *peer);
int accept_result(const struct server *srv, struct acceptor *a, int res);
int accept_queued(const struct server *srv, struct acceptor *a);
int accept_blocking(const struct server *srv, struct acceptor *a);
void echo_once(const struct server *srv, int connfd);
void echo_reply(const struct server *srv, int connfd, const char *buf, long nbuf);

void abort_sockets(void);
void die_of_sigpipe(void);
void log_nonblocking(int fd);
void log_stop_on(int stopfd);
unsigned long log_lost_lines(void);
void log_listening(int errfd, int port);
void log_new_conn(int outfd, const struct sockaddr_in *peer, int parens);
void log_msg(int fd, const char *prefix, const char *buf, size_t n);
void log_line(int fd, const char *text);
void log_errno(int errfd, const char *what, int err);

#endif
