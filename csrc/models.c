/*
 * models.c - the table of models, in the order of CONTRACT.md § Models, with the traits
 * that the tests, the report and the benchmarks read. The Go twin is gosrv/models.go.
 */
#include "echo.h"

#include <string.h>

/* name, I/O model, serve, protocol, log of a new connection, multiplexes, needs io_uring */
const struct model models[] = {
    { "iterative", "blocking (iterative)", serve_iterative, ONE_SHOT, CONN_PARENS, 0, 0 },
    { "fork", "blocking (process per connection)", serve_fork, ONE_SHOT, CONN_PARENS, 0, 0 },
    { "epoll-lt", "multiplexing (epoll, level-triggered)", serve_epoll_lt, ONE_SHOT, CONN_SPACE, 1, 0 },
    { "epoll-et", "multiplexing (epoll, edge-triggered)", serve_epoll_et, STREAM, CONN_SPACE, 1, 0 },
    { "thread", "blocking (thread per connection)", serve_thread, ONE_SHOT, CONN_PARENS, 0, 0 },
    { "nonblock", "non-blocking (polling O_NONBLOCK descriptors)", serve_nonblock, ONE_SHOT, CONN_SPACE, 1, 0 },
    { "select", "multiplexing (select)", serve_select, ONE_SHOT, CONN_SPACE, 1, 0 },
    { "poll", "multiplexing (poll)", serve_poll, ONE_SHOT, CONN_SPACE, 1, 0 },
    { "sigio", "signal-driven (O_ASYNC, real-time signal)", serve_sigio, ONE_SHOT, CONN_SPACE, 1, 0 },
    { "uring", "asynchronous (io_uring completions)", serve_uring, ONE_SHOT, CONN_SPACE, 1, 1 },
    { NULL, NULL, NULL, ONE_SHOT, CONN_SPACE, 0, 0 },
};

const struct model *find_model(const char *name)
{
    for (const struct model *m = models; m->name != NULL; m++) {
        if (strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}
