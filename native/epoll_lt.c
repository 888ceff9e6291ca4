//go:build linux && cgo

#include "../csrc/epoll_lt.c"
