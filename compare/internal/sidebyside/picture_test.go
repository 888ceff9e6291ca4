//go:build linux

package sidebyside

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePicture(t *testing.T) {
	p, err := LoadPicture("testdata/demo/pictures", "demo")
	require.NoError(t, err)
	assert.Equal(t, "demo: one thread reads until end of stream", p.Title)
	require.Len(t, p.Lanes, 3)
	require.Len(t, p.Events, 5)
	assert.Equal(t, []string{"wait", "read once", "clean up"}, p.Steps())
	assert.Equal(t, Event{Step: "wait", From: 1, To: 2, Dashed: true, Text: "wakes it: 5 bytes", Line: 9}, p.Events[2])
	assert.True(t, p.Events[3].Note)

	m, err := LoadModel("testdata/demo", "demo")
	require.NoError(t, err)
	require.NoError(t, p.CheckSteps(m))
	p.Events[0].Step = "sleep"
	assert.ErrorContains(t, p.CheckSteps(m), `step "sleep" is not a step of the model`)
}

func TestParsePictureErrors(t *testing.T) {
	head := "title t\nlane a A\nlane b B\n"
	for _, tc := range []struct{ text, want string }{
		{head + "a => b call\n", "want title, lane, step, note"},
		{head + "a -> c call\n", `unknown lane`},
		{head + "a -> a call\n", "write a note"},
		{head + "note c x\n", `unknown lane "c"`},
		{head + "lane a again\n", `given twice`},
		{head + "step Wait\n", `a step's name`},
		{"title t\nlane a A\n", "two lanes and an event"},
		{head + "a -> b call\nlane c C\n", "lanes come before"},
	} {
		_, err := ParsePicture("x", "x.pic", tc.text)
		if assert.Error(t, err, "%q", tc.text) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
}

// TestPictureSVG checks the drawing is well-formed XML with a box per lane, an arrow per
// message and a linked label per step.
func TestPictureSVG(t *testing.T) {
	p, err := LoadPicture("testdata/demo/pictures", "demo")
	require.NoError(t, err)
	p.Title = `a <title> & "quotes"`
	svg := p.SVG(func(step string) string { return "page.html#" + strings.ReplaceAll(step, " ", "-") })
	dec := xml.NewDecoder(strings.NewReader(svg))
	count := map[string]int{}
	for {
		tok, err := dec.Token()
		if err != nil {
			require.Equal(t, "EOF", err.Error(), "the SVG parses")
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			count[se.Name.Local]++
		}
	}
	assert.Equal(t, 1, count["svg"])
	assert.Equal(t, 4, count["line"]-3, "a line per message (4), beside the 3 lifelines")
	assert.Equal(t, 3, count["a"], "a link per step")
	assert.Contains(t, svg, `href="page.html#read-once"`)
	assert.Contains(t, svg, "a &lt;title&gt; &amp; &#34;quotes&#34;")
}
