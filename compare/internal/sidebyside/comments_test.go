//go:build linux

package sidebyside

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// perfDoc is the performance document: measurements live there, and comments point into
// it by section name.
const perfDoc = "compare/cmd/benchreport/README.md"

// figure matches what a comment citing a measurement says: a percentage, perf samples, a
// ratio to C, the runtime's counters, CPU time per connection or sleep.
var figure = regexp.MustCompile(`\d\s?%|\bsamples?\b|\d(\.\d+)?[x×] C's|(preemptone|handoffp|retake|goschedImpl) \d|\d\s?(µs|us|ms) of CPU|\bper cent\b`)

// TestCommentsCiteNoFigures holds the comments of csrc/ and gosrv/ to explaining the code:
// a measurement (a percentage, sample counts, a ratio to C, a CPU cost) belongs to the
// performance document, and a comment that gives a measurement as its reason says where it
// is there (the document's path and a section name that exists).
func TestCommentsCiteNoFigures(t *testing.T) {
	root, err := Root(".")
	require.NoError(t, err)
	doc, err := os.ReadFile(filepath.Join(root, perfDoc))
	require.NoError(t, err)
	sections := map[string]bool{}
	for _, l := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(l, "#") {
			sections[strings.TrimSpace(strings.TrimLeft(l, "#"))] = true
		}
	}
	pointer := regexp.MustCompile(regexp.QuoteMeta(perfDoc) + `,?\s+"([^"]+)"`)

	var files []string
	for _, pat := range []string{"csrc/*.c", "csrc/*.h", "gosrv/*.go", "gosrv/*.s"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, f)
		for _, blk := range commentBlocks(string(b)) {
			text := strings.Join(strings.Fields(blk.text), " ")
			if m := figure.FindString(text); m != "" {
				assert.Fail(t, "a comment cites a measured figure", "%s:%d: %q in: %s", rel, blk.line, m, text)
			}
			if strings.Contains(strings.ToLower(text), "measured") && !strings.Contains(text, perfDoc) &&
				!strings.Contains(text, "the same section of the performance document") {
				assert.Fail(t, "a comment gives a measurement as its reason without saying where it is", "%s:%d: %s", rel, blk.line, text)
			}
			for _, m := range pointer.FindAllStringSubmatch(text, -1) {
				assert.True(t, sections[m[1]], "%s:%d: %s has no section %q", rel, blk.line, perfDoc, m[1])
			}
		}
	}
}

type commentBlock struct {
	line int
	text string
}

// commentBlocks is a source's comments, consecutive comment lines joined (// and /* */ in
// C, Go and Go's assembly), roughly: string contents are not told apart.
func commentBlocks(src string) []commentBlock {
	var out []commentBlock
	var cur *commentBlock
	inBlock := false
	flush := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	add := func(n int, text string) {
		if cur == nil {
			cur = &commentBlock{line: n}
		}
		cur.text += " " + text
	}
	for i, l := range strings.Split(src, "\n") {
		n := i + 1
		switch {
		case inBlock:
			text := l
			if j := strings.Index(l, "*/"); j >= 0 {
				text, inBlock = l[:j], false
			}
			add(n, strings.TrimPrefix(strings.TrimSpace(text), "*"))
		case strings.Contains(l, "/*"):
			j := strings.Index(l, "/*")
			rest := l[j+2:]
			if k := strings.Index(rest, "*/"); k >= 0 {
				rest = rest[:k]
			} else {
				inBlock = true
			}
			add(n, rest)
		case strings.Contains(l, "//"):
			add(n, l[strings.Index(l, "//")+2:])
		default:
			flush()
		}
	}
	flush()
	return out
}
