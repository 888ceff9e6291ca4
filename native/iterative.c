//go:build linux && cgo

#include "../csrc/iterative.c"
