/*
 * uring_ring.c - io_uring setup, submission and completion on the raw system calls.
 * See uring_ring.h for the picture; Go twin: gosrv/uring_ring.go.
 *
 * Memory ordering. The process and the kernel run at once on different CPUs, and each
 * ring index is the signal that the entries before it are ready to read:
 * - SQ tail (written by us): the SQE contents must be visible before the kernel sees the
 *   new tail, so the tail is stored with release semantics; the kernel loads it with
 *   acquire (smp_load_acquire in io_uring.c).
 * - SQ head (written by the kernel): loaded with acquire, so that we reuse a slot only
 *   after the kernel has finished reading it.
 * - CQ tail (written by the kernel with release): loaded with acquire, so that the CQE
 *   we then read is the one the kernel wrote, not stale memory.
 * - CQ head (written by us): stored with release, so that our reads of a CQE happen
 *   before the kernel may reuse its slot.
 * An index a side writes itself is read without ordering: only that side changes it.
 */
#include "uring_ring.h"
#include "echo.h" /* NO_EINTR */

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

int ring_setup(struct ring *r, unsigned entries)
{
    memset(r, 0, sizeof(*r));
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    /* The kernel sizes the rings (CQ twice the SQ) and says where each field lies. */
    int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (fd < 0)
        return -errno;
    r->fd = fd;

    /* The three regions, each at its fixed offset of the ring descriptor. */
    r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    r->sqes_map_len = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     fd, IORING_OFF_SQ_RING);
    r->cq_map = mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     fd, IORING_OFF_CQ_RING);
    void *sqes = mmap(NULL, r->sqes_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      fd, IORING_OFF_SQES);
    if (r->sq_map == MAP_FAILED || r->cq_map == MAP_FAILED || sqes == MAP_FAILED) {
        int err = errno;
        if (r->sq_map != MAP_FAILED)
            munmap(r->sq_map, r->sq_map_len);
        if (r->cq_map != MAP_FAILED)
            munmap(r->cq_map, r->cq_map_len);
        if (sqes != MAP_FAILED)
            munmap(sqes, r->sqes_map_len);
        close(fd);
        return -err;
    }
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->sq_entries = p.sq_entries;
    r->sqes = sqes;
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    /*
     * The SQ ring holds indices into the SQE array, not SQEs: slot i always names SQE i
     * here, so the array is filled once and the tail alone says what is new.
     */
    for (unsigned i = 0; i < p.sq_entries; i++)
        r->sq_array[i] = i;
    r->sq_local_tail = *r->sq_tail;
    return 0;
}

struct io_uring_sqe *ring_get_sqe(struct ring *r)
{
    if (r->sq_local_tail - load_acquire(r->sq_head) >= r->sq_entries)
        return NULL;
    struct io_uring_sqe *sqe = &r->sqes[r->sq_local_tail & *r->sq_mask];
    r->sq_local_tail++;
    memset(sqe, 0, sizeof(*sqe));
    return sqe;
}

int ring_submit_and_wait(struct ring *r, unsigned wait_nr)
{
    store_release(r->sq_tail, r->sq_local_tail);
    /*
     * A signal may interrupt the wait (EINTR) after the SQEs were consumed: NO_EINTR
     * evaluates the call again, arguments included, so the retry submits what the kernel
     * has not consumed yet (possibly nothing) and waits again.
     */
    long ret = NO_EINTR(syscall(__NR_io_uring_enter, r->fd, r->sq_local_tail - load_acquire(r->sq_head),
                                wait_nr, wait_nr > 0 ? IORING_ENTER_GETEVENTS : 0, NULL, 0));
    return ret >= 0 ? 0 : -errno;
}

struct io_uring_cqe *ring_peek_cqe(struct ring *r)
{
    unsigned head = *r->cq_head;
    if (head == load_acquire(r->cq_tail))
        return NULL;
    return &r->cqes[head & *r->cq_mask];
}

void ring_cqe_seen(struct ring *r)
{
    store_release(r->cq_head, *r->cq_head + 1);
}

void ring_close(struct ring *r)
{
    munmap(r->sqes, r->sqes_map_len);
    munmap(r->cq_map, r->cq_map_len);
    munmap(r->sq_map, r->sq_map_len);
    close(r->fd);
}
