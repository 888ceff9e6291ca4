package sidebyside

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the aligned steps for a terminal: per step, the C line and the Go line
// on one row (width columns each), a line of one language alone with its reason below.
func WriteText(w io.Writer, m *Model, width int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s  |  %s\n", m.Name, m.C.Path, m.Go.Path)
	for _, blk := range Align(m) {
		if blk.Name == "" {
			continue // the header and the tail: the files' own paragraph, the same in both
		}
		title := "step: " + blk.Name
		if blk.Deferred {
			title += "  (Go writes it earlier, with defer)"
		}
		fmt.Fprintf(&b, "\n== %s %s\n", title, strings.Repeat("=", max(0, 2*width+3-len(title)-4)))
		for i, r := range blk.Rows {
			if (r.C != nil && r.C.Marker) || (r.Go != nil && r.Go.Marker) {
				continue
			}
			fmt.Fprintf(&b, "%-*s | %s\n", width, cell(r.C, width), cell(r.Go, width))
			if r.Why != "" && RunEnds(blk.Rows, i) {
				fmt.Fprintf(&b, "   ^ %s only: %s\n", r.Only(), r.Why)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(l *Line, width int) string {
	if l == nil {
		return ""
	}
	t := strings.ReplaceAll(l.Text, "\t", "    ")
	t = fmt.Sprintf("%4d %s", l.N, t)
	if len(t) > width {
		t = t[:width-1] + "…"
	}
	return t
}
