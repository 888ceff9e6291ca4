//go:build linux

package sidebyside

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadTrace(t *testing.T) {
	f, err := os.Open("testdata/demo/traces/demo.go.trace")
	require.NoError(t, err)
	defer f.Close()
	tr, err := ReadTrace("demo.go.trace", f)
	require.NoError(t, err)
	assert.Equal(t, "demo, Go: one read, then end of stream", tr.Title())
	require.Len(t, tr.Calls, 7)
	assert.Equal(t, "runtime:futex-park", tr.Calls[0].Class)
	assert.Equal(t, "futex-park", tr.Calls[0].Housekeeping())
	assert.False(t, tr.Calls[0].IsModel())
	assert.Equal(t, Site{}, tr.Calls[0].Site, "an empty site")
	assert.Equal(t, Site{Path: "gosrv/common.go", Line: 9, Func: "demo.sharedRead"}, tr.Calls[1].Site)
	assert.Equal(t, `read(d3, "hello", 16) = 5`, tr.Calls[1].Text)
	assert.Equal(t, 4, tr.Calls[1].N, "its line in the file")
	assert.Equal(t, "p1", tr.Calls[6].Process)
}

func TestReadTraceErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"p0\tmodel\tclose(d3) = 0", "3 tab-separated fields"},
		{"p0\tmodel\tclose(d3) = 0\tx\ty", "5 tab-separated fields"},
		{"server\tmodel\tclose(d3) = 0\t", `process "server"`},
		{"p0\tkernel\tclose(d3) = 0\t", `class "kernel"`},
		{"p0\truntime:\tclose(d3) = 0\t", `class "runtime:"`},
		{"p0\tmodel\t\t", "no call"},
		{"p0\tmodel\tclose(d3) = 0\tcsrc/x.c serve", "want path:line function"},
		{"p0\tmodel\tclose(d3) = 0\tcsrc/x.c:0 serve", "bad line number"},
	} {
		_, err := ReadTrace("t.trace", strings.NewReader("# title\n"+tc.line+"\n"))
		if assert.Error(t, err, "%q", tc.line) {
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "t.trace:2:", "the error names the line")
		}
	}
}

func TestFuncName(t *testing.T) {
	for in, want := range map[string]string{
		"serve_epoll_et":                              "serve_epoll_et",
		"gosrv.serveEpollET":                          "serveEpollET",
		"gosrv.serveEpollET.func1":                    "serveEpollET",
		"gosrv.(*forkChild).serveChild":               "serveChild",
		"gosrv.rawCalls.Close":                        "Close",
		"github.com/iomodels/iomodels/gosrv.echoOnce": "echoOnce",
	} {
		assert.Equal(t, want, funcName(in), in)
	}
}

// TestLink follows a call's site to the step that made it: directly in the model's file,
// through the callers of a shared function otherwise.
func TestLink(t *testing.T) {
	m, err := LoadModel("testdata/demo", "demo")
	require.NoError(t, err)
	l := NewLinker("testdata/demo", m)
	steps := Names(m.C.Sequence())

	lk := l.Link(Site{Path: "csrc/common.c", Line: 6, Func: "shared_read"})
	require.GreaterOrEqual(t, lk.Step, 0, lk.Note)
	assert.Equal(t, "read once", steps[lk.Step], "shared_read is called by helper, in step read once")
	assert.Equal(t, []string{"shared_read"}, lk.Via)

	lk = l.Link(Site{Path: "gosrv/common.go", Line: 9, Func: "demo.sharedRead"})
	require.GreaterOrEqual(t, lk.Step, 0, lk.Note)
	assert.Equal(t, "read once", steps[lk.Step])

	lk = l.Link(Site{Path: "gosrv/demo.go", Line: 19, Func: "demo.serveDemo"})
	require.GreaterOrEqual(t, lk.Step, 0, lk.Note)
	assert.Equal(t, "clean up", steps[lk.Step], "the deferred close")

	lk = l.Link(Site{Path: "csrc/demo.c", Line: 21, Func: "serve_demo"})
	assert.Equal(t, "wait", steps[lk.Step])

	assert.Equal(t, -1, l.Link(Site{}).Step)
	lk = l.Link(Site{Path: "csrc/common.c", Line: 1, Func: "nobody_calls_this"})
	assert.Equal(t, -1, lk.Step)
	assert.Contains(t, lk.Note, "outside the model: no step of csrc/demo.c calls nobody_calls_this")
}

// TestLinkAll: a call in a helper several steps call goes to the step of the calls around
// it, and says it is a choice.
func TestLinkAll(t *testing.T) {
	c, err := ParseSource("csrc/m.c", `#include "x.h"

static int set_ev(int fd)
{
    return ctl(fd);
}

int serve(void)
{
    /* step: watch */
    create();
    set_ev(1);
    /* step: accept */
    take();
    set_ev(2);
}
`)
	require.NoError(t, err)
	g, err := ParseSource("gosrv/m.go", "package m\n\n// step: watch\n// step: accept\n")
	require.NoError(t, err)
	m := &Model{Name: "m", C: c, Go: g}
	l := NewLinker(t.TempDir(), m)
	at := func(line int, fn string) Call {
		return Call{Class: "model", Site: Site{Path: "csrc/m.c", Line: line, Func: fn}}
	}
	links := l.LinkAll([]Call{at(5, "set_ev"), at(11, "serve"), at(5, "set_ev"), at(14, "serve"), at(5, "set_ev")})
	steps := Names(c.Sequence())
	var got []string
	for _, lk := range links {
		if lk.Step < 0 {
			got = append(got, "none")
			continue
		}
		got = append(got, steps[lk.Step])
	}
	assert.Equal(t, []string{"none", "watch", "watch", "accept", "accept"}, got, "the first call has nothing to go by")
	assert.Equal(t, []bool{false, false, true, false, true}, []bool{links[0].Guess, links[1].Guess, links[2].Guess, links[3].Guess, links[4].Guess})
	assert.Equal(t, []int{0, 1}, links[0].Candidates)
	assert.Contains(t, links[0].Note, "set_ev is called from several steps")
}

// TestLinkInlined: a site named for the function a helper was inlined into is linked by the
// function whose lines hold it.
func TestLinkInlined(t *testing.T) {
	m, err := LoadModel("testdata/demo", "demo")
	require.NoError(t, err)
	l := NewLinker("testdata/demo", m)
	lk := l.Link(Site{Path: "csrc/common.c", Line: 6, Func: "serve_demo"})
	require.GreaterOrEqual(t, lk.Step, 0, lk.Note)
	assert.Equal(t, "read once", Names(m.C.Sequence())[lk.Step], "line 6 is shared_read's, whatever the site's name")
}
