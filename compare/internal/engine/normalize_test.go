//go:build linux

package engine

import (
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The listening port is rewritten only where it is the server's own: another port after
// 0.0.0.0 (a server that reports the wrong one, or logs some other) stays for the diff.
func TestListenPortOnlyTheServers(t *testing.T) {
	r := newRun(listening{"127.0.0.1", 8080}, time.Now())
	log := "listening on 0.0.0.0:8080\nbound 0.0.0.0:80 and 0.0.0.0:80801\n"
	assert.Equal(t, "listening on 0.0.0.0:PORT\nbound 0.0.0.0:80 and 0.0.0.0:80801\n", ListenPort(log, r))
	assert.Equal(t, log, ListenPort(log, nil), "no run, no port known: nothing rewritten")

	// NamePorts takes the port from the log's own report.
	assert.Equal(t, "listening on 0.0.0.0:PORT\nagain 0.0.0.0:PORT, not 0.0.0.0:9\n127.0.0.1:<a> 127.0.0.1:<unknown port>\n",
		NamePorts("listening on 0.0.0.0:8080\nagain 0.0.0.0:8080, not 0.0.0.0:9\n127.0.0.1:5000 127.0.0.1:5001\n", map[int][]string{5000: {"a"}}))
	assert.Equal(t, "stdout 0.0.0.0:8080\n", NamePorts("stdout 0.0.0.0:8080\n", nil), "no report, nothing rewritten")
}

// logTarget is a target whose stdout is what the test writes into it.
type logTarget struct {
	mu  sync.Mutex
	out []byte
}

func (l *logTarget) Port() int             { return 0 }
func (l *logTarget) Stop() (string, error) { return "exited 0", nil }
func (l *logTarget) Stderr() []byte        { return nil }
func (l *logTarget) write(s string)        { l.mu.Lock(); l.out = append(l.out, s...); l.mu.Unlock() }
func (l *logTarget) Stdout() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.out...)
}

// TestAwaitLinesCountsNormalised: a line the normalisers delete is not counted, so a wait
// for N lines waits for N lines as they are compared.
func TestAwaitLinesCountsNormalised(t *testing.T) {
	dropDebug := func(log string, _ *Run) string { return regexp.MustCompile(`(?m)^debug.*\n`).ReplaceAllString(log, "") }
	lt := &logTarget{}
	lt.write("debug: 1\nnew conn a\ndebug: 2\n")
	r := newRun(lt, time.Now().Add(300*time.Millisecond))
	r.normalize = []Normalizer{dropDebug}
	err := AwaitStdoutLines(2).Do(r)
	require.Error(t, err, "3 raw lines, 1 once normalised: the wait for 2 must not end")
	lt.write("new conn b\n")
	r = newRun(lt, time.Now().Add(5*time.Second))
	r.normalize = []Normalizer{dropDebug}
	require.NoError(t, AwaitStdoutLines(2).Do(r))
}
