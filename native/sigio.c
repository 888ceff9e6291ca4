//go:build linux && cgo

#include "../csrc/sigio.c"
