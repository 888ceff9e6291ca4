//go:build linux && cgo

#include "../csrc/models.c"
