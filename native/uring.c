//go:build linux && cgo

#include "../csrc/uring.c"
