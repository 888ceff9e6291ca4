//go:build linux

package contract

import (
	"github.com/iomodels/iomodels/compare/gen"
	"github.com/iomodels/iomodels/compare/internal/engine"
)

// genScript is a generated script as a row of the scenario table writes it:
// Steps: genScript{...}.steps (the suite's TestGenerated prints a divergence so).
type genScript []gen.Op

// steps are the script's steps under model's rules (gen.ForModel).
func (gs genScript) steps(model string) []engine.Step {
	cfg, err := gen.ForModel(model)
	if err != nil {
		panic(err) // the table's own model names only
	}
	return gen.Script(gs).Steps(cfg)
}
