//go:build linux && cgo

#include "../csrc/fork.c"
