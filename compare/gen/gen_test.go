//go:build linux

package gen_test

// gen_test.go - Search against servers in this process: two that differ are told apart
// and the script shrinks to the cause, a budget bounds the search, reference noise is the
// model's failure, and rapid's flags are left as they were.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/gen"
	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/iomodels/iomodels/native"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inProcess is native.Server or gosrv.Running as an engine.Target.
type inProcess struct {
	s interface {
		Port() int
		Stop() (int, error)
		Stdout() []byte
		Stderr() []byte
	}
}

func (p inProcess) Port() int      { return p.s.Port() }
func (p inProcess) Stdout() []byte { return p.s.Stdout() }
func (p inProcess) Stderr() []byte { return p.s.Stderr() }
func (inProcess) ServerPid() int   { return os.Getpid() }
func (p inProcess) Stop() (string, error) {
	status, err := p.s.Stop()
	return fmt.Sprintf("exited %d", min(status&1, 1)), err
}

// cServer and goServer start model in process, whatever label the scenario gives.
func cServer(model string) engine.Impl {
	return engine.Impl{Name: "C " + model, Start: func(string) (engine.Target, error) {
		s, err := native.Start(model)
		if err != nil {
			return nil, err
		}
		return inProcess{s}, nil
	}}
}

func goServer(model string) engine.Impl {
	return engine.Impl{Name: "Go " + model, Start: func(string) (engine.Target, error) {
		s, err := gosrv.Start(model)
		if err != nil {
			return nil, err
		}
		return inProcess{s}, nil
	}}
}

func forModel(t *testing.T, model string) gen.Config {
	cfg, err := gen.ForModel(model)
	require.NoError(t, err)
	return cfg
}

// shrinkBound bounds the shrinking in the tests that check what a divergence shrinks to.
// Shrinking ends when nothing smaller fails (a few seconds on an idle machine); the bound
// only stops a runaway. A bound of 2-3 s made the result depend on the machine's load:
// under load TestSearchShrinksToTheCause once stopped at 1000 bytes instead of 511.
const shrinkBound = time.Minute

// Two different servers: iterative logs "new conn(IP:PORT)", epoll-lt "new conn IP:PORT".
// Under iterative's rules (which epoll-lt serves alike) the first script differs, and it
// shrinks to the one connection that shows it.
func TestSearchTellsApart(t *testing.T) {
	cfg := forModel(t, "iterative")
	cfg.Checks, cfg.ShrinkTime = 20, shrinkBound
	d, stats, err := gen.Search(cfg, cServer("iterative"), cServer("epoll-lt"))
	require.NoError(t, err)
	require.NotNil(t, d, "iterative and epoll-lt told apart (%+v)", stats)
	assert.Equal(t, gen.PortDiffers, d.Kind)
	assert.LessOrEqual(t, len(d.Ops), 2, "shrunk:\n%s", d.Script)
	assert.Equal(t, "connect", d.Ops[0].Op)
	assert.Contains(t, d.Found, "new conn(127.0.0.1:<a>)")
	assert.Contains(t, d.Row, "gen.Script{")
	assert.NotNil(t, d.Outcome.Port)
	assert.Equal(t, 1, stats.Scripts, "the first script differs")
	assert.Positive(t, stats.Reruns, "reproduced and shrunk")

	// The shrunk script replays, and its seed draws the same failure again.
	again, err := gen.Replay(cfg, d.Ops, cServer("iterative"), cServer("epoll-lt"))
	require.NoError(t, err)
	require.NotNil(t, again)
	assert.Equal(t, d.Found, again.Found)
	require.NotZero(t, d.Seed, "rapid's report names the seed:\n%s", d.Rapid)
}

// A port that is wrong only for long messages (its log cuts a recv_msg line at 510
// characters, as a port with a short buffer would): the script shrinks to one connection
// and one send of at least 511 bytes.
func TestSearchShrinksToTheCause(t *testing.T) {
	cfg := forModel(t, "epoll-lt")
	cfg.Checks = 100
	cfg.ShrinkTime = shrinkBound
	port := goServer("epoll-lt")
	port.Name = "cut"
	port.Normalize = append([]engine.Normalizer{engine.Replace(regexp.MustCompile(`(recv_msg: [^\n]{500})[^\n]+`), "$1")}, engine.DefaultNormalizers...)
	d, stats, err := gen.Search(cfg, cServer("epoll-lt"), port)
	require.NoError(t, err)
	require.NotNil(t, d, "the cut port is found (%+v)", stats)
	assert.Equal(t, gen.PortDiffers, d.Kind)
	require.Len(t, d.Ops, 2, "shrunk:\n%s", d.Script)
	assert.Equal(t, gen.Op{Op: "connect", Conn: "a"}, d.Ops[0])
	assert.Equal(t, gen.Op{Op: "send", Conn: "a", Kind: "text", Size: 511, Parts: 1}, d.Ops[1], "the smallest size that shows it")
	assert.Contains(t, d.Found, "stdout differs")
	t.Logf("found after %d scripts, %v shrinking (%d reruns):\n%s", stats.Scripts, stats.Shrinking, stats.Reruns, d.Script)
}

// A budget: scripts are drawn until it passes, and Search returns within it plus one
// script's deadline; rapid's flags are as they were.
func TestSearchBudget(t *testing.T) {
	checks := flag.Lookup("rapid.checks").Value.String()
	cfg := forModel(t, "epoll-lt")
	cfg.Budget = 2 * time.Second
	start := time.Now()
	d, stats, err := gen.Search(cfg, cServer("epoll-lt"), goServer("epoll-lt"))
	took := time.Since(start)
	require.NoError(t, err)
	require.Nil(t, d, "C and Go epoll-lt at parity: %v", d)
	assert.Less(t, took, cfg.Budget+gen.DefaultDeadline, "returned within the budget plus one script's deadline")
	assert.GreaterOrEqual(t, took, cfg.Budget, "the budget is used")
	assert.Positive(t, stats.Scripts)
	assert.Equal(t, 0, stats.Reruns)
	t.Logf("%d scripts in %d rounds, %v", stats.Scripts, stats.Rounds, took)

	assert.Equal(t, checks, flag.Lookup("rapid.checks").Value.String(), "-rapid.checks restored")
	flag.Visit(func(f *flag.Flag) { assert.NotEqual(t, "rapid.checks", f.Name, "-rapid.checks not marked set") })

	cfg.Checks = 3
	cfg.Budget = time.Minute
	_, stats, err = gen.Search(cfg, cServer("epoll-lt"), goServer("epoll-lt"))
	require.NoError(t, err)
	assert.Equal(t, 3, stats.Scripts, "Checks bounds a budgeted search")

	cfg.Checks = 100000
	cfg.Budget = time.Second
	start = time.Now()
	_, stats, err = gen.Search(cfg, cServer("epoll-lt"), goServer("epoll-lt"))
	took = time.Since(start)
	require.NoError(t, err)
	assert.Less(t, stats.Scripts, cfg.Checks)
	assert.Less(t, took, cfg.Budget+gen.DefaultDeadline, "the budget bounds a search with Checks too")
}

// A reference that disagrees with itself is the model's failure: an error wrapping
// ErrModel, the port never run, and the script shrunk all the same.
func TestSearchReferenceNoise(t *testing.T) {
	// Every other run of the reference (told apart by its *engine.Run, since the
	// normalisers also serve the waits for log lines) ends its logs with a "!".
	var mu sync.Mutex
	runs := map[*engine.Run]int{}
	ref := cServer("epoll-lt")
	ref.Normalize = append([]engine.Normalizer{func(log string, r *engine.Run) string {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := runs[r]; !ok {
			runs[r] = len(runs)
		}
		return log + strings.Repeat("!", runs[r]%2)
	}}, engine.DefaultNormalizers...)
	cfg := forModel(t, "epoll-lt")
	cfg.Checks, cfg.ShrinkTime = 5, shrinkBound
	d, _, err := gen.Search(cfg, ref, goServer("epoll-lt"))
	require.ErrorIs(t, err, gen.ErrModel)
	require.NotNil(t, d)
	assert.Equal(t, gen.ReferenceNoise, d.Kind)
	assert.Nil(t, d.Outcome.Port, "the port is not judged")
	assert.Contains(t, d.Found, "reference is not deterministic")
	assert.Len(t, d.Ops, 1, "shrunk:\n%s", d.Script)
}

// Scripts that break the model's rules, bad configs, and servers that cannot run a
// generated script are refused, not run.
func TestRefused(t *testing.T) {
	iterative := forModel(t, "iterative")
	two := gen.Script{{Op: "connect", Conn: "a"}, {Op: "connect", Conn: "b"}}
	assert.Error(t, two.Valid(iterative), "iterative: one connection at a time")
	assert.NoError(t, two.Valid(forModel(t, "epoll-lt")))
	assert.Error(t, gen.Script{{Op: "send", Conn: "a", Size: 1}}.Valid(iterative), "send before connect")
	_, err := gen.Replay(iterative, two, cServer("iterative"), goServer("iterative"))
	assert.Error(t, err)
	_, _, err = gen.Search(gen.Config{Protocol: "udp", Checks: 1}, cServer("iterative"), goServer("iterative"))
	assert.Error(t, err)
	_, _, err = gen.Search(iterative, cServer("iterative"), goServer("iterative"))
	assert.Error(t, err, "neither Budget nor Checks")

	// Servers that cannot run a generated script are refused before any script.
	broken := engine.Impl{Name: "broken", Start: func(string) (engine.Target, error) { return nil, errors.New("no such server") }}
	cfg := forModel(t, "epoll-lt")
	cfg.Checks = 1
	_, _, err = gen.Search(cfg, cServer("epoll-lt"), broken)
	assert.ErrorContains(t, err, "broken does not start: no such server")
	assert.NotErrorIs(t, err, gen.ErrModel)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, _, err = gen.Search(cfg, engine.Address("there", l.Addr().String()), goServer("epoll-lt"))
	assert.ErrorContains(t, err, "there has no process to look at")
}

// Search in a program that is not a test (paritydiff's case): testdata/outside parses its
// flags on a FlagSet of its own and never calls testing.Init; rapid, which reads
// testing.Short, must work all the same.
func TestOutsideGoTest(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		ciskip.Skipf(t, ciskip.Because, "no go command to build testdata/outside with")
	}
	bin := filepath.Join(t.TempDir(), "outside")
	build := exec.Command(goTool, "build", "-o", bin, "./testdata/outside")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err = exec.CommandContext(ctx, bin, "-budget", "1s").CombinedOutput()
	require.NoError(t, err, "outside:\n%s", out)
	assert.Contains(t, string(out), "2. send a text 511 bytes seed=0")
	t.Logf("%s", out)
}
