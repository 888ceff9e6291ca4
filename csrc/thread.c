/*
 * thread.c - blocking I/O, one thread per connection (seed: 多线程 + 阻塞IO, named in the
 * text without code).
 *
 * The accept loop is iterative's; each accepted connection gets a detached pthread that
 * blocks in its own recv, so a silent client holds only its own thread, as fork's child
 * holds only its own process, but the threads share one address space and one descriptor
 * table (a thread is a clone(2) that shares them). The thread waits in poll on its
 * connection and the stop eventfd, which is what makes a blocked thread stoppable.
 * Detached threads cannot be joined, so a count of live threads under a mutex, with a
 * condition variable, tells the accept loop when the last one has finished: the model
 * returns only then, and no thread outlives the srv it reads. Go twin: gosrv/thread.go.
 */
#include "echo.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * A connection thread needs a few KiB (echo_once's 512-byte buffer, one log line); the
 * default 8 MiB stack is only reserved address space, but a thousand of them add up.
 */
#define THREAD_STACK (256 * 1024)

/* The live connection threads: the accept loop waits on it for zero before returning. */
struct threads {
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when live drops to zero */
    int live;
};

struct conn_job {
    const struct server *srv;
    struct threads *threads;
    int connfd;
};

/* step: serve on the connection's thread */
/* One connection's thread: block until it speaks (or a stop), answer once, finish. */
static void *serve_conn(void *arg)
{
    struct conn_job *job = arg;
    const struct server *srv = job->srv;
    struct threads *threads = job->threads;
    int connfd = job->connfd;
    free(job);

    int ready = wait_readable(connfd, srv->stopfd);
    if (ready == 1) {
        echo_once(srv, connfd);
    } else {
        if (ready < 0)
            log_errno(srv->errfd, "poll_connfd", errno);
        close(connfd);
    }

    /* The last access to shared state: after the unlock the model may return, while
     * this thread still has a return to make; it touches nothing of the model's. */
    pthread_mutex_lock(&threads->mu);
    if (--threads->live == 0)
        pthread_cond_signal(&threads->idle);
    pthread_mutex_unlock(&threads->mu);
    return NULL;
}

/* Starts a detached thread for connfd; on failure logs, closes connfd. */
static void start_conn(const struct server *srv, struct threads *threads,
                       const pthread_attr_t *attr, int connfd)
{
    struct conn_job *job = malloc(sizeof(*job));
    if (job == NULL) {
        log_errno(srv->errfd, "pthread_create", ENOMEM);
        close(connfd);
        return;
    }
    *job = (struct conn_job){ .srv = srv, .threads = threads, .connfd = connfd };

    pthread_mutex_lock(&threads->mu);
    threads->live++;
    pthread_mutex_unlock(&threads->mu);

    pthread_t tid;
    int err = pthread_create(&tid, attr, serve_conn, job);
    if (err != 0) { /* pthread_create returns the error, it does not set errno */
        log_errno(srv->errfd, "pthread_create", err);
        free(job);
        close(connfd);
        pthread_mutex_lock(&threads->mu);
        threads->live--;
        pthread_mutex_unlock(&threads->mu);
    }
}

/* Blocks until every connection thread has finished. */
static void wait_threads(struct threads *threads)
{
    pthread_mutex_lock(&threads->mu);
    while (threads->live > 0)
        pthread_cond_wait(&threads->idle, &threads->mu);
    pthread_mutex_unlock(&threads->mu);
}

int serve_thread(const struct server *srv)
{
    /* step: set up */
    struct threads threads = {
        .mu = PTHREAD_MUTEX_INITIALIZER,
        .idle = PTHREAD_COND_INITIALIZER,
        .live = 0,
    };
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err == 0)
        err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (err == 0)
        err = pthread_attr_setstacksize(&attr, THREAD_STACK);
    if (err != 0) {
        log_errno(srv->errfd, "pthread_attr", err);
        return -1;
    }

    struct acceptor acc;
    acceptor_open(&acc, SOCK_CLOEXEC);
    int connfd;

    /* step: accept */
    /* accept blocks (in poll, so that a stop can wake it: accept_blocking). */
    while ((connfd = accept_blocking(srv, &acc)) >= 0) {
        /* step: start a thread */
        /* The connection is the thread's from here: it closes it. */
        start_conn(srv, &threads, &attr, connfd);
    }

    /* step: stop */
    /*
     * Every thread sees the same stop eventfd in its poll and finishes; after a failed
     * poll (ACCEPT_FAILED) they still end when their clients speak or the stop comes.
     */
    wait_threads(&threads);
    pthread_attr_destroy(&attr);
    pthread_cond_destroy(&threads.idle);
    pthread_mutex_destroy(&threads.mu);
    return connfd == ACCEPT_FAILED ? -1 : 0;
}
