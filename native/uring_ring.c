//go:build linux && cgo

#include "../csrc/uring_ring.c"
