//go:build linux

package parity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/parity"
)

// The reply steps parse, print back to themselves, and say what is wrong with a bad line.
func TestParseReplySteps(t *testing.T) {
	src := `name: kv
protocol: any
log: ordered
connect a
send a "GET k\n"
await-line a
await-bytes a until "\r\n"
await-bytes a 3
await-reply a
await-reply a 50ms
await-reply a "VALUE 1\n"
await-reply a 1s hex:00ff
`
	sc, err := parity.ParseScenario("kv.scenario", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(sc.Format()); got != src {
		t.Errorf("Format:\n%s\nwant:\n%s", got, src)
	}
	want := []parity.Step{
		{Op: parity.AwaitLine, Conn: "a"},
		{Op: parity.AwaitBytes, Conn: "a", Data: [][]byte{[]byte("\r\n")}},
		{Op: parity.AwaitBytes, Conn: "a", N: 3},
		{Op: parity.AwaitReply, Conn: "a"},
		{Op: parity.AwaitReply, Conn: "a", For: 50 * time.Millisecond},
		{Op: parity.AwaitReply, Conn: "a", Data: [][]byte{[]byte("VALUE 1\n")}},
		{Op: parity.AwaitReply, Conn: "a", For: time.Second, Data: [][]byte{{0, 0xff}}},
	}
	for i, w := range want {
		g := sc.Steps[i+2]
		if g.Op != w.Op || g.Conn != w.Conn || g.N != w.N || g.For != w.For || len(g.Data) != len(w.Data) || (len(w.Data) > 0 && string(g.Data[0]) != string(w.Data[0])) {
			t.Errorf("step %d: got %+v, want %+v", i+3, g, w)
		}
	}

	for _, c := range []struct{ line, want string }{
		{`await-bytes a until`, `x:2: await-bytes wants NAME N or NAME until PAYLOAD, got 2 argument(s)`},
		{`await-bytes a until "x" y`, `x:2: await-bytes wants NAME N or NAME until PAYLOAD, got 4 argument(s)`},
		{`await-bytes a until ""`, `x:2: await-bytes a until: an empty delimiter`},
		{`await-bytes a until nope`, `x:2: await-bytes a until: payload nope: want a Go string literal`},
		{`await-reply a "x" 1s`, `x:2: await-reply a: the payload comes last`},
		{`await-reply a 1s 2s`, `x:2: await-reply a: 2s: want a quiet time`},
		{`await-reply a 0s`, `x:2: await-reply a: 0s: want a quiet time`},
		{`await-reply a hex:zz`, `x:2: await-reply a: payload hex:zz: bad hexadecimal`},
		{`await-reply a 1s "x" "y"`, `x:2: await-reply wants NAME [DURATION] [PAYLOAD], got 4 argument(s)`},
		{`await-line a b`, `x:2: await-line wants NAME, got 2 argument(s)`},
		{`await-line b`, `x:2: await-line b: no connection b (connect it first)`},
	} {
		_, err := parity.ParseScenario("x", []byte("connect a\n"+c.line+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got error %v, want one starting %q", c.line, err, c.want)
		}
	}
}
