//go:build linux && cgo

#include "../csrc/epoll_et.c"
