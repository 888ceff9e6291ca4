//go:build linux && cgo

#include "../csrc/nonblock.c"
