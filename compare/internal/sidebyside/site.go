package sidebyside

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/iomodels/iomodels/gosrv"
)

// Config says where the view's inputs are.
type Config struct {
	Root     string        // the repository's root
	Pictures string        // the pictures' descriptions (MODEL.pic), relative to Root or absolute
	Traces   string        // the stored traces (MODEL.c.trace, MODEL.go.trace), the same
	Models   []gosrv.Model // the models to show, in order
}

// DefaultConfig is the repository at root: every model, its pictures and stored traces.
func DefaultConfig(root string) Config {
	return Config{Root: root, Pictures: "compare/internal/sidebyside/pictures", Traces: "compare/testdata/traces", Models: gosrv.Models()}
}

func (c Config) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Root, p)
}

// WriteSite writes the view of cfg's models into out: index.html, MODEL.html and MODEL.svg
// per model, and a page per shared source file a trace's call was made in. It returns the
// pages written (relative to out) and, for each model without a stored trace, a warning.
func WriteSite(cfg Config, out string) (pages, warnings []string, err error) {
	root := cfg.Root
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, nil, err
	}
	write := func(name, text string) error {
		return os.WriteFile(filepath.Join(out, name), []byte(text), 0o644)
	}
	var nav []string
	for _, m := range cfg.Models {
		nav = append(nav, m.Name)
	}
	var entries []IndexEntry
	sources := map[string]bool{}
	for _, m := range cfg.Models {
		v, err := NewView(cfg, m.Name, m.IOModel)
		if err != nil {
			return nil, nil, err
		}
		for _, tv := range v.Traces {
			if tv.Trace == nil {
				warnings = append(warnings, fmt.Sprintf("%s: %s", m.Name, tv.Missing))
			}
		}
		if err := write(m.Name+".svg", v.Picture.SVG(func(step string) string {
			return fmt.Sprintf("%s.html#step-%d", m.Name, indexOf(Names(v.Model.C.Sequence()), step))
		})); err != nil {
			return nil, nil, err
		}
		if err := write(m.Name+".html", v.HTML(nav)); err != nil {
			return nil, nil, err
		}
		pages = append(pages, m.Name+".html")
		for _, p := range v.SourcePages() {
			sources[p] = true
		}
		entries = append(entries, IndexEntry{Name: m.Name, IOModel: m.IOModel, Steps: len(v.Model.C.Sequence()),
			Calls: [2]int{v.Traces[0].ModelCalls(), v.Traces[1].ModelCalls()}})
	}
	for p := range sources {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			return nil, nil, fmt.Errorf("a trace names %s as a call's site: %w", p, err)
		}
		if err := write(SourcePageName(p), SourceHTML(p, string(b))); err != nil {
			return nil, nil, err
		}
	}
	if err := write("index.html", IndexHTML(entries)); err != nil {
		return nil, nil, err
	}
	return append([]string{"index.html"}, pages...), warnings, nil
}
