package sidebyside

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Twins is a model's two sources, relative to the repository's root.
func Twins(model string) (cPath, goPath string) {
	base := strings.ReplaceAll(model, "-", "_")
	return "csrc/" + base + ".c", "gosrv/" + base + ".go"
}

// Model is one model's twins, read from the repository at root and checked against each
// other.
type Model struct {
	Name  string
	C, Go *Source
}

// LoadModel reads and checks a model's twins.
func LoadModel(root, name string) (*Model, error) {
	cPath, goPath := Twins(name)
	c, err := loadSource(root, cPath)
	if err != nil {
		return nil, err
	}
	g, err := loadSource(root, goPath)
	if err != nil {
		return nil, err
	}
	if err := CheckTwins(c, g); err != nil {
		return nil, fmt.Errorf("%s: the twins' steps differ: %w", name, err)
	}
	return &Model{Name: name, C: c, Go: g}, nil
}

func loadSource(root, path string) (*Source, error) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
	if err != nil {
		return nil, err
	}
	return ParseSource(path, string(b))
}

// Root is the repository's root: the nearest directory above dir holding go.mod and csrc/.
func Root(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(d, "go.mod")) && fileExists(filepath.Join(d, "csrc")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no repository root (go.mod beside csrc/) above %s", dir)
		}
		d = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
