//go:build linux && cgo

#include "../csrc/common.c"
