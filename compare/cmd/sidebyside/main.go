//go:build linux

// Command sidebyside writes the side-by-side view of every model, for readers: one HTML
// page per model and an index, in a directory (generated, not committed). A page aligns
// the model's C file and Go file on its steps (the `step:` marker comments of both twins),
// shows beside them the system calls of one connection in each language (the traces
// stored in compare/testdata/traces, each call linked to its step and source line, the
// runtime's own calls apart and named), and the model's picture, an SVG drawn from
// compare/internal/sidebyside/pictures/MODEL.pic.
//
//	go run ./compare/cmd/sidebyside                    # writes bin/sidebyside/index.html and a page per model
//	go run ./compare/cmd/sidebyside -o DIR             # elsewhere
//	go run ./compare/cmd/sidebyside -model epoll-et    # prints the aligned steps of one model instead
//
// The benchmark table, C beside Go, is another command: compare/cmd/benchreport.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/iomodels/iomodels/compare/internal/sidebyside"
	"github.com/iomodels/iomodels/gosrv"
)

func main() {
	os.Exit(run())
}

func run() int {
	out := flag.String("o", "", "the `directory` to write the pages into (default bin/sidebyside under the repository)")
	model := flag.String("model", "", "print the aligned steps of this `model` on the terminal instead")
	width := flag.Int("width", 72, "with -model: the `columns` of each language")
	traces := flag.String("traces", "", "the stored traces' `directory` (default compare/testdata/traces)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "sidebyside: no arguments expected; see -h")
		return 2
	}

	root, err := sidebyside.Root(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		return 1
	}
	if *model != "" {
		if _, ok := gosrv.FindModel(*model); !ok {
			fmt.Fprintf(os.Stderr, "sidebyside: no model %q (models: %s)\n", *model, names())
			return 2
		}
		m, err := sidebyside.LoadModel(root, *model)
		if err == nil {
			err = sidebyside.WriteText(os.Stdout, m, max(*width, 30))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sidebyside:", err)
			return 1
		}
		return 0
	}

	cfg := sidebyside.DefaultConfig(root)
	if *traces != "" {
		abs, err := filepath.Abs(*traces)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sidebyside:", err)
			return 1
		}
		cfg.Traces = abs
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(root, "bin", "sidebyside")
	}
	pages, warnings, err := sidebyside.WriteSite(cfg, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		return 1
	}
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "sidebyside: warning:", w)
	}
	fmt.Printf("wrote %d pages: %s\n", len(pages), filepath.Join(dir, "index.html"))
	return 0
}

func names() string {
	s := ""
	for i, m := range gosrv.Models() {
		if i > 0 {
			s += ", "
		}
		s += m.Name
	}
	return s
}
