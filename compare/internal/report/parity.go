//go:build linux

// parity.go - the parity column: quick probes against each model's standalone binaries,
// C beside Go.

package report

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
)

// Probe is a quick parity check: clients send Msgs (at once when there are several), and
// what the clients and the server's output show is compared between C and Go. It is a
// smoke test for the table; the parity suite proper is `go test ./compare`.
type Probe struct {
	Name string
	Msgs [][]byte
}

// Probes are the built-in parity probes.
func Probes() []Probe {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i + 1) // 1..255 then 0: the log line shows 255 bytes, the echo all
	}
	many := make([][]byte, 20)
	for i := range many {
		many[i] = []byte(fmt.Sprintf("client %02d of 20", i))
	}
	return []Probe{
		{"plain", [][]byte{[]byte("www.zfl9.com")}},
		{"empty", [][]byte{{}}},
		{"512 bytes", [][]byte{pattern(512)}},
		{"513 bytes", [][]byte{pattern(513)}},
		{"NUL inside", [][]byte{[]byte("before\x00after")}},
		{"UTF-8", [][]byte{[]byte("你好，世界 — ünïcödé")}},
		{"binary", [][]byte{binary}},
		{"20 concurrent", many},
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// Outcome is what one probe showed, normalised: peer ports and the listening port are
// replaced by names, and for concurrent clients the lines are sorted (their order is the
// scheduler's, not the model's).
type Outcome struct {
	Replies []string
	Stdout  string
	Stderr  string
	Exit    string // "exited N" or "killed by SIGX"
}

var (
	peerRE   = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	listenRE = regexp.MustCompile(`0\.0\.0\.0:\d+`)
)

func normalise(s string, sortLines bool) string {
	s = peerRE.ReplaceAllString(s, "127.0.0.1:PEER")
	s = listenRE.ReplaceAllString(s, "0.0.0.0:PORT")
	if sortLines {
		lines := strings.Split(s, "\n")
		sort.Strings(lines)
		s = strings.Join(lines, "\n")
	}
	return s
}

// RunProbe starts a fresh server (argv MODEL, port 0), runs the probe, stops it with
// SIGTERM and collects what happened.
func RunProbe(server, model string, p Probe) (Outcome, error) {
	srv, err := standalone.StartServer(server, 10*time.Second, model, "0")
	if err != nil {
		return Outcome{}, err
	}
	replies := make([]string, len(p.Msgs))
	var wg sync.WaitGroup
	for i, msg := range p.Msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := load.Exchange(srv.Port, msg, 5*time.Second)
			replies[i] = fmt.Sprintf("%q", reply)
			if err != nil {
				replies[i] += " then " + err.Error()
			} else {
				replies[i] += " then EOF"
			}
		}()
	}
	wg.Wait()
	code, err := srv.Signal(syscall.SIGTERM, 10*time.Second)
	if err != nil {
		return Outcome{}, err
	}
	concurrent := len(p.Msgs) > 1
	if concurrent {
		sort.Strings(replies)
	}
	return Outcome{
		Replies: replies,
		Stdout:  normalise(srv.Stdout(), concurrent),
		Stderr:  normalise(srv.Stderr(), concurrent),
		Exit:    code,
	}, nil
}

// Parity runs every probe against both servers; it returns how many were equal and, for
// the others, a line saying what differed.
func Parity(bins standalone.Binaries, model string) (equal, total int, diffs []string) {
	for _, p := range Probes() {
		total++
		c, errC := RunProbe(bins.Server(standalone.C), model, p)
		g, errG := RunProbe(bins.Server(standalone.Go), model, p)
		switch {
		case errC != nil || errG != nil:
			diffs = append(diffs, fmt.Sprintf("%s: C: %v; Go: %v", p.Name, errC, errG))
		case strings.Join(c.Replies, "\n") != strings.Join(g.Replies, "\n"):
			diffs = append(diffs, fmt.Sprintf("%s: replies differ: C %.80s, Go %.80s", p.Name, c.Replies, g.Replies))
		case c.Stdout != g.Stdout:
			diffs = append(diffs, fmt.Sprintf("%s: stdout differs: C %.80q, Go %.80q", p.Name, c.Stdout, g.Stdout))
		case c.Stderr != g.Stderr:
			diffs = append(diffs, fmt.Sprintf("%s: stderr differs: C %.80q, Go %.80q", p.Name, c.Stderr, g.Stderr))
		case c.Exit != g.Exit:
			diffs = append(diffs, fmt.Sprintf("%s: exit status C %s, Go %s", p.Name, c.Exit, g.Exit))
		default:
			equal++
		}
	}
	return equal, total, diffs
}
