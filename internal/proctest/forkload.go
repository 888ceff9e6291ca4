//go:build linux

package proctest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ForkLoad runs the fork model in this process under load, clients connections with at most
// parallel at once, while two goroutines keep running `/bin/sh -c "exit 3"` through os/exec.
// It requires every echo to come back, every command to report its own exit status 3 (the
// model reaps only its own children by pid, so it never steals another's status, and never
// sets SIGCHLD to SIG_IGN, which would make wait fail with ECHILD), the stdout lines of every
// client intact, and after Stop no child process (zombie or not) and no extra descriptor.
func ForkLoad(t *testing.T, start func(model string) (Server, error), clients, parallel int) {
	t.Helper()
	const timeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // the watchdog
	defer cancel()
	shell := func() error {
		cctx, ccancel := context.WithTimeout(ctx, timeout)
		defer ccancel()
		err := exec.CommandContext(cctx, "/bin/sh", "-c", "exit 3").Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("want exit status 3, got %v", err)
		}
		if exit.ExitCode() != 3 {
			return fmt.Errorf("want exit status 3, got %d", exit.ExitCode())
		}
		return nil
	}

	// Warm-up, so that the baseline includes the runtime's poller and os/exec's first use.
	require.NoError(t, shell(), "warm-up command")
	warm, err := start("fork")
	require.NoError(t, err, "warm-up Start")
	_, err = Echo(warm.Port(), "warm-up", false, timeout)
	require.NoError(t, err, "warm-up echo")
	_, err = warm.Stop()
	require.NoError(t, err, "warm-up Stop")
	fds := Fds()

	s, err := start("fork")
	require.NoError(t, err, "Start")
	t.Cleanup(func() { s.Stop() })

	// The commands run until the clients are done (at most 1000 each, a bound on the loop).
	clientsDone := make(chan struct{})
	var commands atomic.Int64
	var shells sync.WaitGroup
	for g := 0; g < 2; g++ {
		shells.Add(1)
		go func() {
			defer shells.Done()
			for i := 0; i < 1000 && ctx.Err() == nil; i++ {
				select {
				case <-clientsDone:
					return
				default:
				}
				assert.NoError(t, shell(), "command %d beside the fork server", i)
				commands.Add(1)
			}
		}()
	}

	began := time.Now()
	want := make([]string, 0, 2*clients)
	var wantMu sync.Mutex
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := 0; i < clients && ctx.Err() == nil; i++ {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			msg := fmt.Sprintf("client %d", i)
			ex, err := Echo(s.Port(), msg, false, timeout)
			if !assert.NoError(t, err, "client %d: echo exchange", i) {
				return
			}
			assert.Equal(t, msg, ex.Reply, "client %d: echo reply", i)
			wantMu.Lock()
			want = append(want, strings.TrimSuffix(NewConnLine("fork", ex.Local), "\n"), "recv_msg: "+msg)
			wantMu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(began)
	close(clientsDone)
	shells.Wait()
	require.NoError(t, ctx.Err(), "the load finished within the watchdog")
	assert.Positive(t, commands.Load(), "commands ran beside the server")

	status, err := s.Stop()
	require.NoError(t, err, "Stop")
	assert.Equal(t, 0, status, "serve status")

	// Each line left in one write(2) on a pipe, so lines from concurrent children interleave
	// but never mix: the sorted lines are exactly the clients' lines.
	got := strings.Split(strings.TrimSuffix(string(s.Stdout()), "\n"), "\n")
	slices.Sort(got)
	slices.Sort(want)
	assert.Equal(t, want, got, "stdout lines of %d clients", clients)
	assert.Equal(t, fmt.Sprintf("listening on 0.0.0.0:%d\n", s.Port()), string(s.Stderr()), "stderr: nothing failed")

	kids, err := Children()
	require.NoError(t, err, "list child processes")
	for _, k := range kids {
		assert.NotEqual(t, "Z", k.State, "child %d is a zombie", k.Pid)
	}
	assert.Empty(t, kids, "child processes after Stop")
	gotFds := Settle(Fds, fds, 5*time.Second)
	assert.Equal(t, fds, gotFds, "open descriptors after Stop: %s", fdList())
	t.Logf("fork: %d clients (%d at once) in %v beside %d commands; fds %d -> %d, children %d",
		clients, parallel, took.Round(time.Millisecond), commands.Load(), fds, gotFds, len(kids))
}
