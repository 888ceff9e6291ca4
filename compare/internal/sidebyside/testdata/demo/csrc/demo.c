/*
 * demo.c - a made-up model for the tests of compare/internal/sidebyside: reads until end
 * of stream, then closes. Go twin: gosrv/demo.go.
 */
#include <unistd.h>

int shared_read(int fd);

/* step: read once */
static int helper(int fd)
{
    return shared_read(fd);
}

int serve_demo(int fd)
{
    /* step: set up */
    int n = 0;
    /* step: wait */
    for (;;) {
        n = helper(fd);
        if (n <= 0)
            break;
    }
    /* step: clean up */
    close(fd);
    return n;
}
