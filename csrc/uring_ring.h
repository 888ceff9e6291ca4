/*
 * uring_ring.h - the smallest io_uring plumbing the uring model needs, on the raw system
 * calls io_uring_setup(2) and io_uring_enter(2) and <linux/io_uring.h> (no liburing).
 *
 * An io_uring is two ring buffers shared between the process and the kernel, in memory
 * the process maps from the ring's descriptor: the submission queue (SQ), where the
 * process writes requests (SQEs) and advances the tail while the kernel consumes at the
 * head; and the completion queue (CQ), where the kernel writes results (CQEs) and
 * advances the tail while the process consumes at the head. Each side only ever writes
 * one index of each ring, so no lock is needed: only memory ordering (see uring_ring.c).
 * Go twin: gosrv/uring_ring.go.
 */
#ifndef IOMODELS_URING_RING_H
#define IOMODELS_URING_RING_H

#include <linux/io_uring.h>
#include <stddef.h>

struct ring {
    int fd;
    /* SQ ring: indices shared with the kernel, and the array of SQE slots it points into */
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned sq_entries;
    unsigned sq_local_tail; /* SQEs filled but not yet published to the kernel */
    struct io_uring_sqe *sqes;
    /* CQ ring */
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    /* the three mappings, for munmap */
    void *sq_map, *cq_map;
    size_t sq_map_len, cq_map_len, sqes_map_len;
};

/* Returns 0, or -errno (ENOSYS or EPERM where io_uring is unavailable or disabled). */
int ring_setup(struct ring *r, unsigned entries);
/* A zeroed SQE to fill, or NULL when the SQ is full (submit first). */
struct io_uring_sqe *ring_get_sqe(struct ring *r);
/* Publishes the filled SQEs and waits for at least wait_nr completions. 0 or -errno. */
int ring_submit_and_wait(struct ring *r, unsigned wait_nr);
/* The oldest unseen completion, or NULL; ring_cqe_seen hands its slot back to the kernel. */
struct io_uring_cqe *ring_peek_cqe(struct ring *r);
void ring_cqe_seen(struct ring *r);
/* Unmaps and closes. Only once no request is in flight: the kernel may still write. */
void ring_close(struct ring *r);

#endif
