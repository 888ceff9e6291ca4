//go:build linux && cgo

#include "../csrc/thread.c"
