//go:build linux

package gosrv

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestForkChildCallsOnlyRawCode builds the standalone server (with -race when this test is:
// go test strips its own binary's symbols) and requires, reading its machine code, that the functions the fork child runs call nothing but
// each other, the raw system call (syscall.RawSyscall, RawSyscall6: nosplit, norace,
// assembly underneath) and runtime.panicBounds (an index out of range, which cannot
// happen): no race-detector call, no allocation, no scheduler, no function that could grow
// the stack. //go:nosplit and //go:norace on a function do not stop it calling one that is
// neither; this test does.
func TestForkChildCallsOnlyRawCode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "server")
	build := []string{"build", "-o", bin}
	if raceEnabled {
		build = append(build, "-race")
	}
	if out, err := exec.CommandContext(ctx, "go", append(build, "../gosrv/cmd/server")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	child := `gosrv\.\(\*child\)\.|gosrv\.raw[A-Z]\w*$|gosrv\.forkChild$|gosrv\.exitGroup$`
	out, err := exec.CommandContext(ctx, "go", "tool", "objdump", "-s", child, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool objdump: %v\n%s", err, out)
	}
	text := regexp.MustCompile(`(?m)^TEXT (\S+)`)
	funcs := text.FindAllStringSubmatch(string(out), -1)
	if len(funcs) < 8 {
		t.Fatalf("objdump found %d of the child's functions, want every one (serveChild, echoOnce, ...):\n%s", len(funcs), out)
	}
	allowed := regexp.MustCompile(`^(github\.com/iomodels/iomodels/gosrv\.(\(\*child\)\.\w+|raw[A-Z]\w*|exitGroup)|syscall\.RawSyscall6?|runtime\.panicBounds)\(SB\)$`)
	var fn string
	for _, line := range strings.Split(string(out), "\n") {
		if m := text.FindStringSubmatch(line); m != nil {
			fn = m[1]
			continue
		}
		f := strings.Fields(line)
		for i, w := range f {
			if w == "CALL" && i+1 < len(f) && !allowed.MatchString(f[i+1]) {
				t.Errorf("%s calls %s, which the fork child must not run", fn, f[i+1])
			}
		}
	}
}
