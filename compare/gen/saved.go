//go:build linux

package gen

// saved.go - a divergence kept as a file, to be replayed by later runs.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Saved is a divergence as a JSON file (the suite keeps them in
// compare/testdata/generated and replays each one).
type Saved struct {
	Model string `json:"model"`
	// Protocol and Serial are the rules the script was drawn under; a file without them
	// takes its model's (ForModel).
	Protocol string `json:"protocol,omitempty"`
	Serial   bool   `json:"serial,omitempty"`
	Found    string `json:"found"`    // what differed when it was found, its first lines
	Scenario string `json:"scenario"` // the script as Go, to paste into a table
	Ops      Script `json:"ops"`
}

// Saved is d as a file's content; its Scenario is d.Row.
func (d *Divergence) Saved() Saved {
	found := d.Found
	if lines := strings.SplitN(found, "\n", 8); len(lines) == 8 {
		found = strings.Join(lines[:7], "\n") + "\n..."
	}
	return Saved{Model: d.Config.Model, Protocol: d.Config.Protocol, Serial: d.Config.Serial,
		Found: found, Scenario: d.Row, Ops: d.Ops}
}

// Write writes s to path as indented JSON, making its directory.
func (s Saved) Write(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Load reads a saved divergence.
func Load(path string) (Saved, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Saved{}, err
	}
	var s Saved
	if err := json.Unmarshal(b, &s); err != nil {
		return Saved{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.Ops) == 0 {
		return Saved{}, fmt.Errorf("%s: no ops", path)
	}
	return s, nil
}

// Config is the rules s was drawn under: its own, or its model's.
func (s Saved) Config() (Config, error) {
	if s.Protocol == "" {
		return ForModel(s.Model)
	}
	cfg := Config{Protocol: s.Protocol, Model: s.Model, Serial: s.Serial}
	return cfg, cfg.check()
}
