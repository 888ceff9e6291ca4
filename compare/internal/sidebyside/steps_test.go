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

	"github.com/iomodels/iomodels/gosrv"
)

// TestMarkers holds every model's twins to the same steps in the same order, and its
// picture to steps the model has.
func TestMarkers(t *testing.T) {
	root, err := Root(".")
	require.NoError(t, err)
	cfg := DefaultConfig(root)
	for _, m := range gosrv.Models() {
		t.Run(m.Name, func(t *testing.T) {
			model, err := LoadModel(root, m.Name)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(model.C.Sequence()), 4, "%s: a model has at least four steps", m.Name)
			pic, err := LoadPicture(cfg.path(cfg.Pictures), m.Name)
			require.NoError(t, err)
			require.NoError(t, pic.CheckSteps(model))
		})
	}
}

var anyMarker = regexp.MustCompile(`^\s*(/\* step: .* \*/|// step: .*)$`)

// TestMarkerMoved deletes each marker of each twin in turn, and swaps each two neighbouring
// markers of different names: every such change must fail the twins' check, naming the step.
func TestMarkerMoved(t *testing.T) {
	root, err := Root(".")
	require.NoError(t, err)
	for _, m := range gosrv.Models() {
		t.Run(m.Name, func(t *testing.T) { markerMoved(t, root, m.Name) })
	}
}

func markerMoved(t *testing.T, root, model string) {
	{
		cPath, goPath := Twins(model)
		for _, paths := range [][2]string{{cPath, goPath}, {goPath, cPath}} {
			changed, other := paths[0], paths[1]
			text, err := os.ReadFile(filepath.Join(root, changed))
			require.NoError(t, err)
			twin, err := loadSource(root, other)
			require.NoError(t, err)
			lines := strings.Split(string(text), "\n")
			var markers []int
			for i, l := range lines {
				if anyMarker.MatchString(l) {
					markers = append(markers, i)
				}
			}
			require.NotEmpty(t, markers, "%s has markers", changed)
			check := func(what string, lines []string) {
				src, err := ParseSource(changed, strings.Join(lines, "\n"))
				if err != nil {
					return // a source with no marker left fails to parse: caught too
				}
				c, g := src, twin
				if src.Lang == Go {
					c, g = twin, src
				}
				assert.Error(t, CheckTwins(c, g), "%s: %s goes unnoticed", changed, what)
			}
			for k, i := range markers {
				del := append(append([]string(nil), lines[:i]...), lines[i+1:]...)
				check("deleting "+strings.TrimSpace(lines[i]), del)
				if k+1 < len(markers) {
					j := markers[k+1]
					if stepOf(lines[i]) == stepOf(lines[j]) || strings.Contains(lines[i]+lines[j], "(deferred)") {
						continue
					}
					swapped := append([]string(nil), lines...)
					indent := func(s string) string { return s[:len(s)-len(strings.TrimLeft(s, " \t"))] }
					swapped[i] = indent(lines[i]) + strings.TrimSpace(lines[j])
					swapped[j] = indent(lines[j]) + strings.TrimSpace(lines[i])
					check("swapping "+strings.TrimSpace(lines[i])+" and "+strings.TrimSpace(lines[j]), swapped)
				}
			}
		}
	}
}

func stepOf(marker string) string {
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(marker[strings.Index(marker, "step:")+5:]), "*/"), " ")
}

func TestParseSourceDemo(t *testing.T) {
	c, err := loadSource("testdata/demo", "csrc/demo.c")
	require.NoError(t, err)
	g, err := loadSource("testdata/demo", "gosrv/demo.go")
	require.NoError(t, err)
	assert.Equal(t, []string{"read once", "set up", "wait", "clean up"}, Names(c.Sequence()))
	assert.Equal(t, []string{"read once", "set up", "wait", "clean up"}, Names(g.Sequence()), "the deferred step moves to the end")
	require.NoError(t, CheckTwins(c, g))

	lineOf := func(src *Source, text string) int {
		for i, l := range src.Lines {
			if strings.TrimSpace(l) == text {
				return i + 1
			}
		}
		t.Fatalf("%s has no line %q", src.Path, text)
		return 0
	}
	// The deferred step is its statement alone; the line after it is set up's again.
	assert.Equal(t, 3, g.StepAt(lineOf(g, "defer unix.Close(fd)"), false), "the defer is clean up's")
	assert.Equal(t, 1, g.StepAt(lineOf(g, "var slice timeSlice"), false), "after the defer, set up resumes")
	assert.Equal(t, 2, g.StepAt(lineOf(g, "n = helper(fd)"), false))
	// A marker in a function ends with it: return n is clean up's in C, wait's in Go.
	assert.Equal(t, 3, c.StepAt(lineOf(c, "return n;"), false))
	assert.Equal(t, 2, g.StepAt(lineOf(g, "return n"), false))
	// A marker at column 0 runs on to the next marker, into the next function's head.
	assert.Equal(t, 0, c.StepAt(lineOf(c, "int serve_demo(int fd)"), false))
	// What leads into the first step (a declaration) is the step's only when asked for.
	assert.Equal(t, -1, c.StepAt(lineOf(c, "int shared_read(int fd);"), false))
	assert.Equal(t, 0, c.StepAt(lineOf(c, "int shared_read(int fd);"), true))
	assert.Len(t, c.Header, 6, "the opening comment, the include and the blank line after it")
}

func TestParseSourceErrors(t *testing.T) {
	for _, tc := range []struct{ path, text, want string }{
		{"x.c", "int f(void)\n{\n    return 0;\n}\n", "no step marker"},
		{"x.c", "/* step: Wait */\n", "step name"},
		{"x.c", "/* step: wait (deferred) */\n", "(deferred) is for Go"},
		{"x.go", "package x\n\n//step: wait\n", "looks like a step marker"},
		{"x.go", "package x\n\n// step:  wait\n", "step name"},
		{"x.go", "package x\n\nfunc f() {\n\t// step: end (deferred)\n\tdefer g()\n\t// step: end\n\tg()\n}\n", "both deferred and not"},
		{"x.txt", "", "neither C nor Go"},
	} {
		_, err := ParseSource(tc.path, tc.text)
		if assert.Error(t, err, "%q", tc.text) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
}

func TestCheckTwinsSays(t *testing.T) {
	c, err := ParseSource("a.c", "/* step: one */\n/* step: two */\n/* step: three */\n")
	require.NoError(t, err)
	g, err := ParseSource("a.go", "package a\n\n// step: one\n// step: three\n// step: two\n")
	require.NoError(t, err)
	err = CheckTwins(c, g)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another order")
	g, err = ParseSource("a.go", "package a\n\n// step: one\n// step: three\n")
	require.NoError(t, err)
	err = CheckTwins(c, g)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"two" is missing from a.go`)
}
