//go:build linux

package parity_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateAPI = flag.Bool("update-api", false, "rewrite api.txt from go doc -all")

// maxNames bounds the library's functions and types (methods not counted): a core an
// engineer reads in five minutes.
const maxNames = 45

// TestAPI: api.txt is the package's exported API as `go doc -all` prints it, so that a
// change of the API is a change of api.txt, seen in review. -update-api rewrites it.
func TestAPI(t *testing.T) {
	cmd := exec.Command("go", "doc", "-all", ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("go doc -all: %v", err)
	}
	if *updateAPI {
		if err := os.WriteFile("api.txt", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("api.txt")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := string(got), string(want); g != w {
		gl, wl := strings.Split(g, "\n"), strings.Split(w, "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		line := func(l []string) string {
			if i < len(l) {
				return l[i]
			}
			return "(no line)"
		}
		t.Errorf("the API differs from api.txt at line %d (run go test -run TestAPI -update-api to accept it):\n  go doc:  %q\n  api.txt: %q", i+1, line(gl), line(wl))
	}
	names := regexp.MustCompile(`(?m)^(func [A-Z]\w*|type \w+|    func [A-Z]\w*)`).FindAllString(string(got), -1)
	if len(names) > maxNames {
		t.Errorf("%d functions and types, more than %d: %q", len(names), maxNames, names)
	}
	if len(names) < 10 {
		t.Errorf("only %d functions and types found in go doc's output: %q", len(names), names)
	}
}

// TestImportersGetNoTestFramework: a program outside this module that imports the
// library depends on neither package testing nor a test framework.
func TestImportersGetNoTestFramework(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list on a module of its own")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/importer\n\ngo 1.24\n\nrequire github.com/iomodels/iomodels v0.0.0\n\nreplace github.com/iomodels/iomodels => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	write("main.go", `package main

import (
	"fmt"

	"github.com/iomodels/iomodels/compare/parity"
)

func main() { fmt.Println(len(parity.Builtin(parity.OneShot))) }
`)
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	seen := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		d, std, _ := strings.Cut(line, " ")
		if d == "github.com/iomodels/iomodels/compare/parity" {
			seen = true
		}
		if d == "testing" || strings.HasPrefix(d, "testing/") || strings.Contains(d, "testify") ||
			strings.Contains(d, "go-spew") || strings.Contains(d, "difflib") || strings.Contains(d, "yaml") {
			t.Errorf("an importer of compare/parity depends on %s", d)
		}
		if std != "true" && !strings.HasPrefix(d, "github.com/iomodels/iomodels/") &&
			!strings.HasPrefix(d, "golang.org/x/sys/") && !strings.HasPrefix(d, "example.com/importer") {
			t.Errorf("an importer of compare/parity depends on %s: the library needs the standard library and x/sys alone", d)
		}
	}
	if !seen {
		t.Errorf("go list -deps does not list compare/parity:\n%s", out)
	}
}
