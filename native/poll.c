//go:build linux && cgo

#include "../csrc/poll.c"
