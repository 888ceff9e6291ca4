//go:build linux

// outside runs gen.Search in a program that is not a test, as paritydiff does: its own
// flags parsed on a FlagSet of its own, flag.CommandLine never parsed, no testing.Init.
// gen's TestOutsideGoTest builds and runs it; it prints what it found and exits 0 when
// every search did what it should.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/iomodels/iomodels/compare/gen"
	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/gosrv"
)

type inProcess struct{ *gosrv.Running }

func (inProcess) ServerPid() int { return os.Getpid() }
func (p inProcess) Stop() (string, error) {
	status, err := p.Running.Stop()
	return fmt.Sprintf("exited %d", min(status&1, 1)), err
}

func goServer(name string) engine.Impl {
	return engine.Impl{Name: name, Start: func(model string) (engine.Target, error) {
		s, err := gosrv.Start(model)
		if err != nil {
			return nil, err
		}
		return inProcess{s}, nil
	}}
}

func main() {
	fs := flag.NewFlagSet("outside", flag.ExitOnError)
	budget := fs.Duration("budget", time.Second, "search budget")
	fs.Parse(os.Args[1:])

	cfg, err := gen.ForModel("epoll-lt")
	if err != nil {
		fail("%v", err)
	}
	cfg.Budget = *budget
	d, stats, err := gen.Search(cfg, goServer("A"), goServer("B"))
	if err != nil || d != nil {
		fail("budget: %v %v", err, d)
	}
	fmt.Printf("budget %v: %d scripts in %v\n", *budget, stats.Scripts, stats.Elapsed.Round(time.Millisecond))

	port := goServer("cut")
	port.Normalize = append([]engine.Normalizer{engine.Replace(regexp.MustCompile(`(recv_msg: [^\n]{500})[^\n]+`), "$1")}, engine.DefaultNormalizers...)
	cfg.Budget, cfg.Checks, cfg.ShrinkTime = 0, 100, 2*time.Second
	d, stats, err = gen.Search(cfg, goServer("A"), port)
	if err != nil || d == nil || d.Kind != gen.PortDiffers {
		fail("divergence: %v %+v", err, d)
	}
	fmt.Printf("divergence after %d scripts, shrunk in %v:\n%s", stats.Scripts, stats.Shrinking.Round(time.Millisecond), d.Script)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "outside: "+format+"\n", args...)
	os.Exit(1)
}
