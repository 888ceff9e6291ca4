//go:build linux

package compare

// mutants_test.go - does the suite catch bugs? `go test ./compare -run Mutants` builds the
// Go standalone programs again with one deliberate bug each, through `go build -overlay`
// (the mutated copy of one gosrv file lives in t.TempDir(); the tree is never edited), runs
// the standalone checks - the command line, then every scenario of every model - C
// against the mutant, and requires that some check fails for every mutant. Each mutant is
// one textual replacement whose old text must occur exactly once, so that a change to
// gosrv cannot silently turn a mutant into a no-op.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/stretchr/testify/require"
)

type mutant struct {
	name     string
	file     string // relative to the repository root
	old, new string
	// within, if set, is the start of the function (unique in the file) whose body holds
	// old exactly once; otherwise old must be unique in the whole file.
	within string
}

var mutants = []mutant{
	{"bufsize-511", "gosrv/common.go",
		"BufSize     = 512", "BufSize     = 511", ""},
	{"iterative-log-without-parens", "gosrv/iterative.go",
		"logNewConn(srv.OutFd, peer, true)", "logNewConn(srv.OutFd, peer, false)", ""},
	{"fork-log-without-parens", "gosrv/fork.go",
		"logNewConn(srv.OutFd, peer, true)", "logNewConn(srv.OutFd, peer, false)", ""},
	{"recv-msg-without-space", "gosrv/common.go",
		`LogMsg(srv.OutFd, "recv_msg: ", buf[:n])`, `LogMsg(srv.OutFd, "recv_msg:", buf[:n])`, "func echoReply("},
	{"log-not-cut-at-nul", "gosrv/common.go",
		"if c == 0 {", "if c == 0 && false {", ""},
	{"go-error-text", "gosrv/common.go",
		"\t\treturn msg\n", "\t\treturn msg[:0] + err.Error()\n", ""},
	{"echo-reply-leaks-fd", "gosrv/common.go",
		"\tunix.Shutdown(connFd, unix.SHUT_WR)\n\tunix.Close(connFd)", "\tunix.Shutdown(connFd, unix.SHUT_WR)\n\t_ = connFd // mutant: never closed", "func echoReply("},
	{"recv-error-not-closed", "gosrv/common.go",
		"logErrno(srv.ErrFd, \"recv_connfd\", err)\n\t\tunix.Close(connFd)", "logErrno(srv.ErrFd, \"recv_connfd\", err)\n\t\t_ = connFd // mutant: never closed", "func echoReply("},
	{"epoll-et-no-drain", "gosrv/epoll_et.go",
		"\t\tif c.pending != nil {\n\t\t\t// The peer reads slower",
		"\t\tif c.pending == nil {\n\t\t\treturn // mutant: one recv per edge\n\t\t}\n\t\tif c.pending != nil {\n\t\t\t// The peer reads slower", ""},
	{"epoll-et-peer-close-text", "gosrv/epoll_et.go",
		`LogLine(srv.ErrFd, "peer close conn...")`, `LogLine(srv.ErrFd, "peer close conn..")`, ""},
	{"iterative-blocks-in-recv", "gosrv/iterative.go",
		"ready, err = waitReadable(connFd, srv.StopFd)", "ready, err = 1, nil // mutant: recv blocks, a stop cannot wake it", ""},
	{"parse-port-accepts-65536", "gosrv/common.go",
		"if v > 65535 {", "if v > 65536 {", ""},
	{"usage-exit-2", "gosrv/cmd/server/main.go",
		"gosrv.LogLine(2, strings.Join(names, \" \"))\n\treturn 1", "gosrv.LogLine(2, strings.Join(names, \" \"))\n\treturn 2", ""},
	{"signal-line-format", "gosrv/cmd/server/main.go",
		`"signal: %s(%d)   close server ... done"`, `"signal: %s(%d) close server ... done"`, ""},
	{"quote-cut-at-63", "gosrv/cmd/server/main.go",
		"if len(arg) > 64 {\n\t\targ = arg[:64]", "if len(arg) > 63 {\n\t\targ = arg[:63]", ""},
}

// mutantDeadline bounds a scenario against a mutant: a mutant that hangs is caught sooner.
const mutantDeadline = 5 * time.Second

// check is one standalone comparison: it runs a side and returns its transcript.
type check struct {
	name string
	run  func(s side) (*transcript, error)
}

// standaloneChecks lists the command-line cases, then every scenario of every model
// (process-level ones included): cheap checks first, so most mutants are caught fast.
func standaloneChecks(t *testing.T) []check {
	var cs []check
	for _, cc := range cliCases() {
		cs = append(cs, check{cc.name, cc.run})
	}
	all := append(append([]scenario(nil), scenarios...), processScenarios()...)
	for _, model := range models(t) {
		if unavailable(model) != "" {
			continue
		}
		for _, sc := range all {
			if !sc.appliesTo(model) {
				continue
			}
			cs = append(cs, check{model + "/" + sc.name, func(s side) (*transcript, error) {
				im := s.impl()
				im.deadline = mutantDeadline
				return runOnce(sc, model, im)
			}})
		}
	}
	return cs
}

// buildMutant builds the Go server and client with m applied into dir.
func buildMutant(ctx context.Context, m mutant, dir string) (side, error) {
	root := standalone.RepoRoot()
	src := filepath.Join(root, m.file)
	b, err := os.ReadFile(src)
	if err != nil {
		return side{}, err
	}
	text := string(b)
	region := text
	if m.within != "" {
		if n := strings.Count(text, m.within); n != 1 {
			return side{}, fmt.Errorf("mutant %s: %q occurs %d times in %s, want exactly once (has gosrv changed?)", m.name, m.within, n, m.file)
		}
		start := strings.Index(text, m.within)
		end := strings.Index(text[start:], "\n}\n")
		if end < 0 {
			return side{}, fmt.Errorf("mutant %s: no end of %q in %s", m.name, m.within, m.file)
		}
		region = text[start : start+end+3]
	}
	if n := strings.Count(region, m.old); n != 1 {
		return side{}, fmt.Errorf("mutant %s: %q occurs %d times in %s (%s), want exactly once (has gosrv changed?)", m.name, m.old, n, m.file, m.within)
	}
	mutatedText := strings.Replace(text, region, strings.Replace(region, m.old, m.new, 1), 1)
	mutated := filepath.Join(dir, filepath.Base(m.file))
	if err := os.WriteFile(mutated, []byte(mutatedText), 0o644); err != nil {
		return side{}, err
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {src: mutated}})
	if err != nil {
		return side{}, err
	}
	overlayPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayPath, overlay, 0o644); err != nil {
		return side{}, err
	}
	bin := filepath.Join(dir, "bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-overlay", overlayPath, "-o", bin+"/", "./gosrv/cmd/server", "./gosrv/cmd/client")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return side{}, fmt.Errorf("go build %s: %v\n%s", m.name, err, out)
	}
	return side{name: "mutant " + m.name, server: filepath.Join(bin, "server"), client: filepath.Join(bin, "client")}, nil
}

func TestMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("mutants take a minute; not in -short")
	}
	require.GreaterOrEqual(t, len(mutants), 12, "at least 12 mutants")
	c, _ := sides(t)
	checks := standaloneChecks(t)

	// The reference's transcripts, computed once and shared by every mutant.
	refs := make([]struct {
		once sync.Once
		tr   *transcript
		err  error
	}, len(checks))
	reference := func(i int) (*transcript, error) {
		refs[i].once.Do(func() { refs[i].tr, refs[i].err = checks[i].run(c) })
		return refs[i].tr, refs[i].err
	}

	slots := make(chan struct{}, 2) // two cores
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			slots <- struct{}{}
			defer func() { <-slots }()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			mut, err := buildMutant(ctx, m, t.TempDir())
			require.NoError(t, err)
			for i, ch := range checks {
				ref, err := reference(i)
				require.NoError(t, err, "reference check %s", ch.name)
				got, err := ch.run(mut)
				if err != nil {
					t.Logf("caught by %s: the mutant's run failed: %v", ch.name, err)
					return
				}
				if d := diffTranscripts(ref, got, "C", "mutant"); d != "" {
					lines := strings.SplitN(d, "\n", 4)
					for i := range lines {
						if len(lines[i]) > 160 {
							lines[i] = lines[i][:160] + "..."
						}
					}
					t.Logf("caught by %s: %s", ch.name, strings.Join(lines[:min(3, len(lines))], " | "))
					return
				}
			}
			require.Failf(t, "mutant survived", "no standalone check tells %s from the C reference (%d checks)", m.name, len(checks))
		})
	}
}
