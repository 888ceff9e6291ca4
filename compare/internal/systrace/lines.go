//go:build linux

package systrace

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"sort"
)

// LineTable finds the source line of a frame, from the executable's symbols and DWARF
// line table.
type LineTable struct {
	syms  map[string]uint64 // function -> address
	rows  []lineRow         // by address
	data  *dwarf.Data
	subs  []subprogram // by address
	files map[dwarf.Offset][]*dwarf.LineFile
}

// subprogram is a function's DWARF entry, where its inlined calls are described.
type subprogram struct {
	low, high uint64
	name      string
	off, cu   dwarf.Offset
}

type lineRow struct {
	addr uint64
	file string
	line int
	end  bool // the end of a sequence: no line covers addr
}

// ReadLines reads path's line table. A binary without DWARF gives sites without lines.
func ReadLines(path string) (*LineTable, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lt := &LineTable{syms: map[string]uint64{}}
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 {
			lt.syms[s.Name] = s.Value
		}
	}
	d, err := f.DWARF()
	if err != nil {
		return lt, nil
	}
	lt.data, lt.files = d, map[dwarf.Offset][]*dwarf.LineFile{}
	r := d.Reader()
	for {
		cu, err := r.Next()
		if err != nil || cu == nil {
			break
		}
		if cu.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		lt.readSubprograms(r, cu.Offset)
		lr, err := d.LineReader(cu)
		if err == nil && lr != nil {
			lt.files[cu.Offset] = lr.Files()
			var e dwarf.LineEntry
			for {
				if err := lr.Next(&e); err != nil {
					if !errors.Is(err, io.EOF) {
						break
					}
					break
				}
				row := lineRow{addr: e.Address, line: e.Line, end: e.EndSequence}
				if e.File != nil {
					row.file = e.File.Name
				}
				lt.rows = append(lt.rows, row)
			}
		}
	}
	sort.SliceStable(lt.rows, func(i, j int) bool { return lt.rows[i].addr < lt.rows[j].addr })
	sort.Slice(lt.subs, func(i, j int) bool { return lt.subs[i].low < lt.subs[j].low })
	return lt, nil
}

// readSubprograms records the functions of the compile unit r is in, leaving r after it.
func (lt *LineTable) readSubprograms(r *dwarf.Reader, cu dwarf.Offset) {
	depth := 1
	for depth > 0 {
		e, err := r.Next()
		if err != nil || e == nil {
			return
		}
		if e.Tag == 0 {
			depth--
			continue
		}
		if e.Tag == dwarf.TagSubprogram {
			if rs, err := lt.data.Ranges(e); err == nil && len(rs) > 0 {
				name, _ := e.Val(dwarf.AttrName).(string)
				if name == "" {
					if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
						name = lt.nameAt(o)
					}
				}
				for _, rg := range rs {
					lt.subs = append(lt.subs, subprogram{low: rg[0], high: rg[1], name: name, off: e.Offset, cu: cu})
				}
			}
		}
		if e.Children {
			depth++
		}
	}
}

// nameAt is the name of the DWARF entry at off.
func (lt *LineTable) nameAt(off dwarf.Offset) string {
	r := lt.data.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil || e == nil {
		return ""
	}
	name, _ := e.Val(dwarf.AttrName).(string)
	return name
}

// location is a place in the source: a line of a function's body.
type location struct {
	file string
	line int
	fn   string
}

// inlined lists, from the outermost, the places a pc is at through the calls inlined
// there: the function's own line where it calls an inlined function, that function's
// line, and so on, ending at the line table's.
func (lt *LineTable) inlined(pc uint64, innermost location) []location {
	i := sort.Search(len(lt.subs), func(i int) bool { return lt.subs[i].low > pc }) - 1
	if lt.data == nil || i < 0 || pc >= lt.subs[i].high {
		return []location{innermost}
	}
	sub := lt.subs[i]
	files := lt.files[sub.cu]
	var chain []location
	fn := sub.name
	r := lt.data.Reader()
	r.Seek(sub.off)
	if e, err := r.Next(); err != nil || e == nil || !e.Children {
		return []location{innermost}
	}
	for depth := 1; depth > 0; {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == 0 {
			depth--
			continue
		}
		in := false
		if e.Tag == dwarf.TagInlinedSubroutine {
			if rs, err := lt.data.Ranges(e); err == nil {
				for _, rg := range rs {
					if pc >= rg[0] && pc < rg[1] {
						in = true
					}
				}
			}
		}
		if !in {
			if e.Children {
				r.SkipChildren()
			}
			continue
		}
		// pc is in this inlined call: the caller is at its call line.
		loc := location{fn: fn}
		if f, ok := e.Val(dwarf.AttrCallFile).(int64); ok && int(f) < len(files) && files[f] != nil {
			loc.file = files[f].Name
		}
		loc.line = int(asInt(e.Val(dwarf.AttrCallLine)))
		chain = append(chain, loc)
		if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
			fn = lt.nameAt(o)
		}
		if !e.Children {
			break
		}
		// Its children are the calls inlined into it: go on among them.
		depth = 1
	}
	innermost.fn = fn
	return append(chain, innermost)
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case uint64:
		return int64(x)
	}
	return 0
}

// site names a frame as "path:line function", the path relative to the repository: the
// innermost place in the repository's own source, through the calls inlined there. The
// frame's address is a return address (or the instruction after SYSCALL): the line is
// that of the byte before it, the call itself.
func (lt *LineTable) site(srv Server, f Frame) (site, fn string) {
	name := shortFunc(f.Func)
	if lt == nil {
		return name, name
	}
	base, ok := lt.syms[f.Func]
	if !ok {
		return name, name
	}
	pc := base + f.Off
	if f.Off > 0 {
		pc--
	}
	i := sort.Search(len(lt.rows), func(i int) bool { return lt.rows[i].addr > pc }) - 1
	if i < 0 || lt.rows[i].end || lt.rows[i].file == "" {
		return name, name
	}
	chain := lt.inlined(pc, location{file: lt.rows[i].file, line: lt.rows[i].line})
	best := chain[0]
	for _, l := range chain {
		if l.file != "" && relPath(srv.Root, l.file) != l.file {
			best = l
		}
	}
	fn = shortFunc(best.fn)
	if fn == "" {
		fn = name
	}
	return fmt.Sprintf("%s:%d %s", relPath(srv.Root, best.file), best.line, fn), fn
}
