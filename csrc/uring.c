/*
 * uring.c - asynchronous I/O with io_uring (seed: 异步IO).
 *
 * The epoll models ask the kernel "which descriptor is ready?" and then make the call
 * themselves; here the server hands the kernel the calls themselves (accept, recv, send,
 * shutdown, close) as requests in a shared ring, and later reads their results from a
 * second ring: completions, not readiness. Both phases of I/O, waiting and copying, are the
 * kernel's: when a recv completes, the bytes are already in the connection's buffer. The
 * buffer must therefore stay put and untouched from submission to completion, so each
 * connection owns a slot with its own buffer, and each connection has exactly one request
 * in flight at any time, its next step: RECV -> SEND -> SHUTDOWN -> CLOSE. The slot's index
 * travels in the request's user_data and comes back in the completion. One ACCEPT is in
 * flight while a slot is free; with every slot busy, new connections wait in the listen
 * backlog, and so they do at the descriptor limit (an ACCEPT that completes with -EMFILE):
 * the next ACCEPT waits for a connection to close, or for a TIMEOUT request of
 * ACCEPT_PAUSE_MS. At a stop every
 * request still in flight is cancelled, and the buffers are unmapped only after the last
 * completion (stop). Where io_uring is missing or disabled (ENOSYS, EPERM), serve_uring
 * logs and returns -1. Go twin: gosrv/uring.go; the ring itself is in uring_ring.c.
 */
#include "echo.h"
#include "uring_ring.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * While serving, at most URING_SLOTS + 2 requests are in flight (one per connection, the
 * ACCEPT, the stop's POLL_ADD), under the CQ's 512 entries. Only cancel_each's worst case
 * (a cancel per request) could exceed it, and then the kernel (IORING_FEAT_NODROP, 5.5)
 * keeps the extra completions aside and posts them as the CQ drains: none is lost.
 */
#define URING_ENTRIES 256 /* SQ size; the kernel makes the CQ twice as large */
#define URING_SLOTS 256   /* connections in flight at once */

/* What a completion is for: user_data = op | slot << 8. */
enum { OP_STOP = 1, OP_CANCEL, OP_CANCEL_ONE, OP_ACCEPT, OP_RECV, OP_SEND, OP_SHUTDOWN, OP_CLOSE, OP_PAUSE };

struct uconn {
    int fd; /* -1: the slot is free */
    int op; /* the request in flight */
    int len;
    char *buf; /* BUF_SIZE bytes of the mapped region */
};

/* The mapped region the kernel writes into: accept's sockaddr and socklen_t, then one
 * buffer per slot (the Go twin's layout: its buffers must live outside Go's heap). */
#define MEM_PEERADDR 0
#define MEM_PEERLEN sizeof(struct sockaddr_in)
#define MEM_PAUSE 32 /* the pause's TIMEOUT timespec */
#define MEM_BUFS 64
#define MEM_SIZE (MEM_BUFS + URING_SLOTS * BUF_SIZE)

struct userver {
    const struct server *srv;
    struct ring ring;
    struct uconn *conns;
    char *mem; /* mapped: what the kernel writes into */
    struct acceptor acc;
    int inflight;  /* requests submitted whose completion has not been read */
    int accepting; /* an ACCEPT is in flight */
    int pausing;   /* the pause's TIMEOUT is in flight */
    int stopping;
};

/* step: submit a request */
/* A free SQE for opcode, submitting what is queued first if the SQ is full. */
static struct io_uring_sqe *get_sqe(struct userver *us, uint8_t opcode, int op, int slot)
{
    struct io_uring_sqe *sqe;
    while ((sqe = ring_get_sqe(&us->ring)) == NULL)
        ring_submit_and_wait(&us->ring, 0);
    sqe->opcode = opcode;
    sqe->user_data = (uint64_t)op | (uint64_t)slot << 8;
    us->inflight++;
    return sqe;
}

/*
 * accept4(listenfd, &peer, &peerlen, SOCK_CLOEXEC), as a request. One ACCEPT is in
 * flight while a slot is free; with every slot busy, new connections wait in the listen
 * backlog.
 */
static void submit_accept(struct userver *us)
{
    socklen_t *peerlen = (socklen_t *)(us->mem + MEM_PEERLEN);
    *peerlen = sizeof(struct sockaddr_in);
    struct io_uring_sqe *sqe = get_sqe(us, IORING_OP_ACCEPT, OP_ACCEPT, 0);
    sqe->fd = us->srv->listenfd;
    sqe->addr = (uint64_t)(uintptr_t)(us->mem + MEM_PEERADDR);
    sqe->addr2 = (uint64_t)(uintptr_t)peerlen;
    sqe->accept_flags = SOCK_CLOEXEC;
    us->accepting = 1;
}

/* The next step of connection slot: one request, whose completion comes to step(). */
static void submit_conn(struct userver *us, int op, int slot)
{
    struct uconn *c = &us->conns[slot];
    struct io_uring_sqe *sqe;
    c->op = op;
    switch (op) {
    case OP_RECV:
        sqe = get_sqe(us, IORING_OP_RECV, op, slot);
        sqe->addr = (uint64_t)(uintptr_t)c->buf;
        sqe->len = BUF_SIZE;
        break;
    case OP_SEND:
        sqe = get_sqe(us, IORING_OP_SEND, op, slot);
        sqe->addr = (uint64_t)(uintptr_t)c->buf;
        sqe->len = (uint32_t)c->len;
        sqe->msg_flags = MSG_NOSIGNAL; /* a reset peer gives -EPIPE, not SIGPIPE */
        break;
    case OP_SHUTDOWN:
        sqe = get_sqe(us, IORING_OP_SHUTDOWN, op, slot);
        sqe->len = SHUT_WR; /* shutdown's "how" travels in len */
        break;
    default:
        sqe = get_sqe(us, IORING_OP_CLOSE, OP_CLOSE, slot);
        break;
    }
    sqe->fd = c->fd;
}

static int free_slot(struct userver *us)
{
    for (int i = 0; i < URING_SLOTS; i++) {
        if (us->conns[i].fd < 0)
            return i;
    }
    return -1;
}

/* step: a connection's next request */
/* A connection's request completed with res: submit its next step. */
static void step(struct userver *us, int op, int slot, int res)
{
    struct uconn *c = &us->conns[slot];
    if (us->stopping) {
        /* Cancelled or not, this connection ends here, without a further request. */
        if (op != OP_CLOSE || res == -ECANCELED)
            close(c->fd);
        c->fd = -1;
        return;
    }
    switch (op) {
    case OP_RECV:
        if (res < 0) {
            log_errno(us->srv->errfd, "recv_connfd", -res);
            submit_conn(us, OP_CLOSE, slot);
            return;
        }
        c->len = res;
        log_msg(us->srv->outfd, "recv_msg: ", c->buf, (size_t)res);
        submit_conn(us, OP_SEND, slot);
        return;
    case OP_SEND:
        if (res < 0) {
            log_errno(us->srv->errfd, "send_connfd", -res);
            submit_conn(us, OP_CLOSE, slot);
            return;
        }
        submit_conn(us, OP_SHUTDOWN, slot);
        return;
    case OP_SHUTDOWN:
        /* Not logged, as in echo_once: the close that follows ends the connection. */
        submit_conn(us, OP_CLOSE, slot);
        return;
    case OP_CLOSE:
        c->fd = -1;
        /* Every slot was busy, or the descriptor limit bound: accepting resumes. */
        us->acc.paused = 0;
        if (!us->accepting)
            submit_accept(us);
        return;
    }
}

/* step: accept */
static void accepted(struct userver *us, int res)
{
    us->accepting = 0;
    if (us->stopping) {
        if (res >= 0)
            close(res);
        return;
    }
    /* accept_conn's handling of what accept4 returned (no ACCEPT is in flight now). */
    struct sockaddr_in *peer = (struct sockaddr_in *)(us->mem + MEM_PEERADDR);
    int connfd = accept_result(us->srv, &us->acc, res);
    if (connfd == ACCEPT_PAUSED) {
        /* A closing connection resumes accepting (step), or the end of this pause. */
        if (!us->pausing) {
            struct __kernel_timespec *pause = (struct __kernel_timespec *)(us->mem + MEM_PAUSE);
            *pause = (struct __kernel_timespec){ .tv_sec = 0, .tv_nsec = ACCEPT_PAUSE_MS * 1000000L };
            struct io_uring_sqe *sqe = get_sqe(us, IORING_OP_TIMEOUT, OP_PAUSE, 0);
            sqe->addr = (uint64_t)(uintptr_t)pause;
            sqe->len = 1; /* one timespec; off 0: a pure timeout, no completion count */
            us->pausing = 1;
        }
        return;
    }
    if (connfd < 0) {
        /* EINVAL, EBADF: the listener no longer listens; only a stop can follow. */
        if (connfd != ACCEPT_FAILED || (res != -EINVAL && res != -EBADF))
            submit_accept(us);
        return;
    }
    log_new_conn(us->srv->outfd, peer, 0);
    int slot = free_slot(us); /* there is one: ACCEPT is in flight only then */
    us->conns[slot].fd = connfd;
    submit_conn(us, OP_RECV, slot);
    if (free_slot(us) >= 0)
        submit_accept(us);
}

/* The pause's TIMEOUT completed (-ETIME), or was cancelled by a stop. */
static void paused(struct userver *us)
{
    us->pausing = 0;
    us->acc.paused = 0;
    if (!us->stopping && !us->accepting && free_slot(us) >= 0)
        submit_accept(us);
}

/* step: the stop */
/*
 * The stop eventfd became readable (its POLL_ADD completed; it does not read the
 * counter): cancel every request in flight, start none. The server then waits for all
 * their completions before it unmaps the buffers and the ring: the kernel may write
 * into them until it has completed.
 */
static void stop(struct userver *us)
{
    us->stopping = 1;
    struct io_uring_sqe *sqe = get_sqe(us, IORING_OP_ASYNC_CANCEL, OP_CANCEL, 0);
    /* ANY: whatever its user_data; ALL: every match, not only the first. */
    sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
    sqe->fd = -1;
}

/*
 * Before Linux 5.19 ASYNC_CANCEL knows no flags and fails with -EINVAL: cancel each request
 * in flight by its user_data instead (one that completed meanwhile gives -ENOENT).
 */
static void cancel_each(struct userver *us)
{
    struct io_uring_sqe *sqe;
    if (us->accepting) {
        sqe = get_sqe(us, IORING_OP_ASYNC_CANCEL, OP_CANCEL_ONE, 0);
        sqe->addr = OP_ACCEPT;
    }
    if (us->pausing) {
        sqe = get_sqe(us, IORING_OP_ASYNC_CANCEL, OP_CANCEL_ONE, 0);
        sqe->addr = OP_PAUSE;
    }
    for (int i = 0; i < URING_SLOTS; i++) {
        if (us->conns[i].fd < 0)
            continue;
        sqe = get_sqe(us, IORING_OP_ASYNC_CANCEL, OP_CANCEL_ONE, 0);
        sqe->addr = (uint64_t)us->conns[i].op | (uint64_t)i << 8;
    }
}

int serve_uring(const struct server *srv)
{
    /* step: create the ring */
    struct userver us = { .srv = srv };
    int err = ring_setup(&us.ring, URING_ENTRIES);
    if (err < 0) {
        log_errno(srv->errfd, "io_uring_setup", -err);
        return -1;
    }
    /* step: set up */
    us.mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    us.conns = malloc(URING_SLOTS * sizeof(struct uconn));
    if (us.mem == MAP_FAILED || us.conns == NULL) {
        log_errno(srv->errfd, "malloc_conns", ENOMEM);
        if (us.mem != MAP_FAILED)
            munmap(us.mem, MEM_SIZE);
        free(us.conns);
        ring_close(&us.ring);
        return -1;
    }
    for (int i = 0; i < URING_SLOTS; i++) {
        us.conns[i].fd = -1;
        us.conns[i].buf = us.mem + MEM_BUFS + (size_t)i * BUF_SIZE;
    }

    /* step: submit the stop and the accept */
    /* A one-shot poll: it completes once, when the eventfd's counter is non-zero. */
    struct io_uring_sqe *sqe = get_sqe(&us, IORING_OP_POLL_ADD, OP_STOP, 0);
    sqe->fd = srv->stopfd;
    sqe->poll32_events = POLLIN;
    acceptor_open(&us.acc, SOCK_CLOEXEC);
    submit_accept(&us);

    int status = 0;
    /* step: wait */
    while (us.inflight > 0) {
        err = ring_submit_and_wait(&us.ring, 1);
        if (err < 0) {
            log_errno(srv->errfd, "io_uring_enter", -err);
            status = -1;
            break;
        }
        struct io_uring_cqe *cqe;
        while ((cqe = ring_peek_cqe(&us.ring)) != NULL) {
            uint64_t ud = cqe->user_data;
            int res = cqe->res;
            ring_cqe_seen(&us.ring); /* copied out: the kernel may reuse the slot */
            us.inflight--;
            int op = (int)(ud & 0xff), slot = (int)(ud >> 8);
            if (op == OP_STOP)
                stop(&us);
            else if (op == OP_ACCEPT)
                accepted(&us, res);
            else if (op == OP_PAUSE)
                paused(&us);
            else if (op == OP_CANCEL && res == -EINVAL)
                cancel_each(&us);
            else if (op != OP_CANCEL && op != OP_CANCEL_ONE)
                step(&us, op, slot, res);
        }
    }

    /* step: clean up */
    /*
     * Every request has completed: nothing writes the buffers now. If io_uring_enter
     * failed instead, closing the ring cancels what is left, but asynchronously, in a
     * kernel worker: the buffers are then not freed (a leak, on a path that should
     * never run) rather than reused while a request might still write into them.
     */
    ring_close(&us.ring);
    for (int i = 0; i < URING_SLOTS; i++) {
        if (us.conns[i].fd >= 0)
            close(us.conns[i].fd);
    }
    if (status == 0)
        munmap(us.mem, MEM_SIZE);
    free(us.conns);
    return status;
}
