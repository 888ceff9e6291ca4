//go:build linux

package contract

import (
	"os"

	"github.com/iomodels/iomodels/compare/parity"
)

// InProcess is a server running in this process (native.Server, gosrv.Running) as the
// engine's target: its descriptors and CPU are this process's.
type InProcess struct{ parity.Server }

// ServerPid is this process.
func (InProcess) ServerPid() int { return os.Getpid() }

// Stop says what the standalone server's exit would be after the model returned this:
// main returns 0 after a clean stop, 1 when the model could not start.
func (s InProcess) Stop() (string, error) {
	status, err := s.Server.Stop()
	if status != 0 {
		return "exited 1", err
	}
	return "exited 0", err
}
