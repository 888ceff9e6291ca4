//go:build linux && cgo

package native

// table.go - what native reads from the C side besides running a model: csrc/models.c's
// table (so a model added there is known here without any Go change) and glibc's error texts.

/*
#include "../csrc/echo.h"
#include <string.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// table is csrc/models.c's models[], up to (not including) its NULL row.
func table() []C.struct_model {
	first := (*C.struct_model)(unsafe.Pointer(&C.models))
	n := 0
	for unsafe.Slice(first, n+1)[n].name != nil {
		n++
	}
	return unsafe.Slice(first, n)
}

// Models lists the model names of csrc/models.c, in its order (CONTRACT.md § Models).
func Models() []string {
	var names []string
	for _, m := range table() {
		names = append(names, C.GoString(m.name))
	}
	return names
}

// IOModel is the table's description of the model's I/O model, "" for an unknown name.
func IOModel(name string) string {
	if m := findModel(name); m != nil {
		return C.GoString(m.iomodel)
	}
	return ""
}

// Model is a row of csrc/models.c with its traits, in Go's words (the twin of gosrv.Model,
// without the serve function).
type Model struct {
	Name        string
	IOModel     string
	Stream      bool // protocol STREAM rather than ONE_SHOT
	Parens      bool // conn_log CONN_PARENS: "new conn(IP:PORT)"
	Multiplexes bool
	NeedsUring  bool
}

// Table is csrc/models.c's table, row by row, with every trait.
func Table() []Model {
	var rows []Model
	for _, m := range table() {
		rows = append(rows, Model{
			Name:        C.GoString(m.name),
			IOModel:     C.GoString(m.iomodel),
			Stream:      m.protocol == C.STREAM,
			Parens:      m.conn_log == C.CONN_PARENS,
			Multiplexes: m.multiplexes != 0,
			NeedsUring:  m.needs_uring != 0,
		})
	}
	return rows
}

func findModel(name string) *C.struct_model {
	rows := table()
	for i := range rows {
		if C.GoString(rows[i].name) == name {
			return &rows[i]
		}
	}
	return nil
}

// Strerror is glibc's text for errno n, as the C side's log_errno prints it:
// strerrordesc_np(n), or "Unknown error N" where glibc has none.
func Strerror(n int) string {
	if desc := C.strerrordesc_np(C.int(n)); desc != nil {
		return C.GoString(desc)
	}
	return fmt.Sprintf("Unknown error %d", n)
}
