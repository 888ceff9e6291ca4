//go:build linux && cgo

/*
 * call.c - the one line of C that native.go needs beyond csrc/: Go cannot call a C
 * function pointer, so it hands the table row to this function, which calls its serve.
 */
#include "../csrc/echo.h"

int native_serve(const struct model *m, const struct server *srv)
{
    return m->serve(srv);
}
