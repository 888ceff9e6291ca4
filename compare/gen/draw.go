//go:build linux

package gen

// draw.go - drawing a script with rapid, so that rapid can shrink it.

import "pgregory.net/rapid"

var (
	names        = []string{"a", "b", "c", "d"}
	kinds        = []string{"text", "binary", "nul", "utf8"}
	oneShotSizes = []int{1, 5, 511, 512, 513, 100, 1000, 4096, 8192}
	streamSizes  = []int{1, 5, 511, 512, 513, 4096, 65536, 131072, 262145, 1 << 20}
)

// ops are the operations a script draws from, simplest first (rapid shrinks a draw
// toward the first).
var ops = []string{"connect", "send", "halfclose", "read", "close", "reset", "pause", "readsome"}

func isName(n string) bool {
	for _, m := range names {
		if m == n {
			return true
		}
	}
	return false
}

// Draw draws a script valid under cfg's rules. Each operation is drawn whole (what, on
// which connection, with which parameters) and dropped if it is not valid at that point:
// so an operation keeps its meaning when rapid deletes the ones before it, and scripts
// shrink well.
func Draw(t *rapid.T, cfg Config) Script {
	s := newSim(cfg, &genRun{})
	n := rapid.IntRange(4, 30).Draw(t, "draws")
	var script Script
	for i := 0; i < n; i++ {
		op := Op{Op: rapid.SampledFrom(ops).Draw(t, "op"), Conn: rapid.SampledFrom(names).Draw(t, "conn")}
		if len(s.conns) == 0 {
			op = Op{Op: "connect", Conn: names[0]} // nothing else is valid yet
		}
		// A connection that does not exist stands for one that does (connect: for the
		// first name not taken), so that few draws are wasted.
		if (op.Op == "connect") == (s.conn(op.Conn) != nil) && len(s.conns) > 0 {
			if op.Op == "connect" {
				if len(s.conns) < len(names) {
					op.Conn = names[len(s.conns)]
				}
			} else {
				op.Conn = s.conns[int(op.Conn[0]-'a')%len(s.conns)].name
			}
		}
		c := s.conn(op.Conn)
		switch op.Op {
		case "connect":
			op.Quiet = rapid.Bool().Draw(t, "quiet")
			if s.stream && rapid.Bool().Draw(t, "small rcvbuf") {
				op.Rcvbuf = 4096
			}
		case "send":
			op.Kind = rapid.SampledFrom(kinds).Draw(t, "kind")
			sizes := oneShotSizes
			if s.stream {
				sizes = streamSizes
			}
			op.Size = rapid.SampledFrom(sizes).Draw(t, "size")
			op.Seed = rapid.Uint64Range(0, 1000).Draw(t, "seed")
			op.Parts = rapid.IntRange(1, 3).Draw(t, "parts")
		case "readsome":
			op.Size = rapid.IntRange(1, 65536).Draw(t, "bytes")
			if c != nil {
				op.Size = min(op.Size, c.sent-c.readSome)
			}
		case "pause":
			op.Ms = rapid.SampledFrom([]int{10, 50}).Draw(t, "ms")
		}
		if !s.valid(op) {
			continue
		}
		s.apply(op)
		script = append(script, op)
	}
	return script
}
