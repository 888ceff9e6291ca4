//go:build linux

package sidebyside

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/iomodels/iomodels/gosrv"
)

// TestWriteSiteDemo writes the demo's view (no browser needed) and reads it back: the
// index, the page with both sources, both traces with their links and the runtime's calls
// named, the picture, and a page for the shared source a call was made in.
func TestWriteSiteDemo(t *testing.T) {
	cfg := Config{Root: "testdata/demo", Pictures: "pictures", Traces: "traces",
		Models: []gosrv.Model{{Name: "demo", IOModel: "a made-up model"}}}
	out := t.TempDir()
	pages, warnings, err := WriteSite(cfg, out)
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, []string{"index.html", "demo.html"}, pages)
	for _, f := range []string{"index.html", "demo.html", "demo.svg", SourcePageName("csrc/common.c"), SourcePageName("gosrv/common.go")} {
		_, err := os.Stat(filepath.Join(out, f))
		assert.NoError(t, err, "%s written", f)
	}
	page, err := os.ReadFile(filepath.Join(out, "demo.html"))
	require.NoError(t, err)
	html := string(page)
	assert.Contains(t, html, `id="step-0"`, "a row per step")
	assert.Contains(t, html, "return shared_read(fd);", "the C source")
	assert.Contains(t, html, "return sharedRead(fd)", "the Go source")
	assert.Contains(t, html, "(Go writes it earlier, with <code>defer</code>", "the deferred step said so")
	assert.Contains(t, html, `read(d3, &#34;hello&#34;, 16) = 5`, "a call of the trace")
	assert.Contains(t, html, `<a href="#step-0"`, "a call linked to its step")
	assert.Contains(t, html, SourcePageName("csrc/common.c")+"#L6", "a call linked to its shared source line")
	assert.Contains(t, html, "runtime: sigaltstack ×1, futex-park ×1", "the runtime's calls in place, named")
	assert.Contains(t, html, "runtime housekeeping", "and apart")
	assert.Equal(t, 1, strings.Count(html, `<img id="picture" src="demo.svg"`))

	// The terminal form: the steps in order, a line of one language alone with its reason.
	m, err := LoadModel("testdata/demo", "demo")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, m, 60))
	text := b.String()
	for _, want := range []string{"== step: read once", "== step: set up", "== step: wait", "== step: clean up  (Go writes it earlier, with defer)", "Go only: The loop ends its goroutine's scheduler time slice"} {
		assert.Contains(t, text, want)
	}
	assert.Less(t, strings.Index(text, "step: read once"), strings.Index(text, "step: clean up"))
}
