//go:build linux

package engine

// diff.go - comparing two transcripts, and describing a difference in brief
// (lengths, digests, the first differing byte or log line), never megabytes.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// ---- comparing transcripts ----

// summarize describes bytes by length, digest and their first few bytes.
func summarize(b []byte) string {
	sum := sha256.Sum256(b)
	head := b
	if len(head) > 24 {
		head = head[:24]
	}
	return fmt.Sprintf("%d bytes sha256:%s head %q", len(b), hex.EncodeToString(sum[:6]), head)
}

// FirstDiff is the first offset where a and b differ (or the shorter length).
func FirstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func DescribeBytesDiff(what string, a, b []byte, an, bn string) string {
	off := FirstDiff(a, b)
	ctx := func(x []byte) []byte {
		lo, hi := max(0, off-16), min(len(x), off+16)
		if lo > hi {
			return nil
		}
		return x[lo:hi]
	}
	return fmt.Sprintf("%s differs at byte %d:\n  %s: %s, around it %q\n  %s: %s, around it %q",
		what, off, an, summarize(a), ctx(a), bn, summarize(b), ctx(b))
}

// Diff is "" when a and b agree, else a short account of the first differences.
func Diff(a, b *Transcript, an, bn string) string {
	var out []string
	if len(a.Conns) != len(b.Conns) {
		out = append(out, fmt.Sprintf("connections: %s has %d, %s has %d", an, len(a.Conns), bn, len(b.Conns)))
	} else {
		for i := range a.Conns {
			ca, cb := a.Conns[i], b.Conns[i]
			if !bytes.Equal(ca.Data, cb.Data) {
				out = append(out, DescribeBytesDiff("bytes received on "+ca.Name, ca.Data, cb.Data, an, bn))
			}
			if ca.End != cb.End {
				out = append(out, fmt.Sprintf("ending of %s: %s %s, %s %s", ca.Name, an, ca.End, bn, cb.End))
			}
			if len(out) >= 4 {
				out = append(out, "(more connections not compared)")
				break
			}
		}
	}
	if strings.Join(a.Notes, "\n") != strings.Join(b.Notes, "\n") {
		out = append(out, fmt.Sprintf("observations:\n  %s: %q\n  %s: %q", an, a.Notes, bn, b.Notes))
	}
	for _, s := range []struct{ what, x, y string }{{"stdout", a.Stdout, b.Stdout}, {"stderr", a.Stderr, b.Stderr}} {
		if s.x != s.y {
			out = append(out, describeLogDiff(s.what, s.x, s.y, an, bn))
		}
	}
	if a.Status != b.Status {
		out = append(out, fmt.Sprintf("status: %s %s, %s %s", an, a.Status, bn, b.Status))
	}
	return strings.Join(out, "\n")
}

// describeLogDiff shows the line counts and the first differing line.
func describeLogDiff(what, x, y, an, bn string) string {
	lx, ly := logLines(x), logLines(y)
	i := 0
	for i < len(lx) && i < len(ly) && lx[i] == ly[i] {
		i++
	}
	line := func(l []string) string {
		if i >= len(l) {
			return "(no line)"
		}
		s, partial := strings.CutSuffix(l[i], noNewline)
		if len(s) > 120 {
			s = s[:120] + "..."
		}
		if partial {
			return strconv.Quote(s) + noNewline
		}
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s differs at line %d: %s has %d lines, %s has %d\n  %s: %s\n  %s: %s",
		what, i+1, an, strings.Count(x, "\n"), bn, strings.Count(y, "\n"), an, line(lx), bn, line(ly))
}

// noNewline marks a log's last line that has no newline at its end.
const noNewline = " [no newline at the end]"

// logLines is a log's lines, without their newlines: a last line without one is marked
// noNewline, and the empty text after a final newline is no line.
func logLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if last := len(lines) - 1; lines[last] == "" {
		lines = lines[:last]
	} else {
		lines[last] += noNewline
	}
	return lines
}

// Brief is a compact rendering of a transcript for failure messages.
func (tr *Transcript) Brief() string {
	var b strings.Builder
	for i, c := range tr.Conns {
		if i == 8 {
			fmt.Fprintf(&b, "  ... %d more connections\n", len(tr.Conns)-8)
			break
		}
		fmt.Fprintf(&b, "  %s: %s, %s\n", c.Name, summarize(c.Data), c.End)
	}
	for _, n := range tr.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	clip := func(s string) string {
		if len(s) > 600 {
			return s[:600] + fmt.Sprintf("...(%d bytes)", len(s))
		}
		return s
	}
	fmt.Fprintf(&b, "  stdout (%d lines): %q\n  stderr: %q\n  status: %s", strings.Count(tr.Stdout, "\n"), clip(tr.Stdout), clip(tr.Stderr), tr.Status)
	return b.String()
}
