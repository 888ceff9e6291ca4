/*
 * models.c - the table of models, in the order of SPEC §1. The Go twin is gosrv/models.go.
 */
#include "echo.h"

#include <string.h>

const struct model models[] = {
    { "iterative", "blocking (iterative)", serve_iterative },
    { "fork", "blocking (process per connection)", serve_fork },
    { "epoll-lt", "multiplexing (epoll, level-triggered)", serve_epoll_lt },
    { "epoll-et", "multiplexing (epoll, edge-triggered)", serve_epoll_et },
    { "thread", "blocking (thread per connection)", serve_thread },
    { "nonblock", "non-blocking (polling O_NONBLOCK descriptors)", serve_nonblock },
    { "select", "multiplexing (select)", serve_select },
    { "poll", "multiplexing (poll)", serve_poll },
    { "sigio", "signal-driven (O_ASYNC, real-time signal)", serve_sigio },
    { "uring", "asynchronous (io_uring completions)", serve_uring },
    { NULL, NULL, NULL },
};

const struct model *find_model(const char *name)
{
    for (const struct model *m = models; m->name != NULL; m++) {
        if (strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}
