//go:build linux && cgo

#include "../csrc/select.c"
