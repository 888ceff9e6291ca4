//go:build linux

package load

import (
	"fmt"
	"os"
	"os/exec"
	"time"
)

// ProcessLoop runs argv n times, one after the other, as the seed's shell loop does
// (`for ((i=0; i<1000; i++)); do ./client MSG > /dev/null; done`), and returns the wall
// time. A run that fails counts as a run when allowFail is set (a client against a closed
// port, which measures only process start-up and a refused connect).
func ProcessLoop(n int, allowFail bool, argv ...string) (time.Duration, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	start := time.Now()
	for i := 0; i < n; i++ {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = devnull, devnull
		if err := cmd.Run(); err != nil && !allowFail {
			return 0, fmt.Errorf("run %d of %v: %v", i, argv, err)
		}
	}
	return time.Since(start), nil
}
