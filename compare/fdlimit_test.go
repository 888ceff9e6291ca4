//go:build linux

package compare

// fdlimit_test.go - descriptors, C against Go on the standalone servers: what each holds
// (the same numbers, the same kinds), and what each does when it runs out (a lowered
// RLIMIT_NOFILE with more clients than fit): which clients are served, which closed
// unanswered, how many log lines, how much CPU at the limit, and recovery.

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fdTable is pid's descriptor table: "FD KIND" lines in descriptor order, where KIND is
// the link's target with inode numbers dropped (socket, pipe, anon_inode:[eventfd],
// /dev/null, ...).
func fdTable(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type entry struct {
		fd   int
		kind string
	}
	var es []entry
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if i := strings.Index(link, ":["); i > 0 && !strings.HasPrefix(link, "anon_inode:") {
			link = link[:i] // socket:[123] -> socket, pipe:[456] -> pipe
		}
		es = append(es, entry{fd, link})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].fd < es[j].fd })
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%d %s", e.fd, e.kind)
	}
	return out, nil
}

// settled: pid holds what a server of model holds with held clients: the listener and a
// socket per client, or (fork) the listener alone and a pidfd per client.
func settled(pid int, model string, held int) bool {
	table, err := fdTable(pid)
	if err != nil {
		return false
	}
	kinds := map[string]int{}
	for _, e := range table {
		kinds[e[strings.IndexByte(e, ' ')+1:]]++
	}
	if model == "fork" {
		return kinds["socket"] == 1 && kinds["anon_inode:[pidfd]"] == held
	}
	return kinds["socket"] == 1+held
}

// stdoutLines is how many lines p has written to stdout.
func stdoutLines(p *standalone.Process) int { return strings.Count(p.Stdout(), "\n") }

// TestDescriptorTables: after start, and with n clients connected and held, the C and the
// Go server list the same descriptors, number for number and kind for kind (the contract:
// 3 epoll and 4 eventfd, the Go runtime's poller and their C counterparts, 5 the stop
// eventfd, 6 the listener, then the model's own, the reserve, the connections). No
// side is padded: a descriptor the Go runtime opened on its own, now or later, fails it.
func TestDescriptorTables(t *testing.T) {
	c, g := sides(t)
	const n = 5
	for _, model := range models(t) {
		t.Run(model, func(t *testing.T) {
			if reason := unavailable(model); reason != "" {
				t.Skipf("%s unavailable: %s", model, reason)
			}
			// iterative holds one connection at a time, the rest wait in the backlog.
			held := n
			if model == "iterative" {
				held = 1
			}
			var tables [2][]string
			for i, s := range []side{c, g} {
				p, err := standalone.StartServer(s.server, processTimeout, model, "0")
				require.NoError(t, err, "%s server", s.name)
				var clients []net.Conn
				func() {
					defer func() {
						for _, cl := range clients {
							cl.Close()
						}
						status, err := p.Signal(syscall.SIGTERM, processTimeout)
						assert.NoError(t, err, "%s: stopping", s.name)
						assert.Equal(t, "exited 0", status, "%s: exit status; stderr %q", s.name, p.Stderr())
					}()
					for j := 0; j < n; j++ {
						cl, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(p.Port))
						require.NoError(t, err, "%s: client %d", s.name, j)
						clients = append(clients, cl)
					}
					require.True(t, waitFor(time.Now().Add(processTimeout), func() bool { return stdoutLines(p) >= held }),
						"%s: %d new conn lines; stdout %q", s.name, held, p.Stdout())
					// The model's own descriptors are made before its first accept; a
					// fork child's pidfd right after its fork, and the parent closes its
					// copy of the connection (Go: and the exec's pipe) once the child runs.
					require.True(t, waitFor(time.Now().Add(processTimeout), func() bool {
						return settled(p.Pid(), model, held)
					}), "%s: %d connections held", s.name, held)
					tables[i], err = fdTable(p.Pid())
					require.NoError(t, err, "%s: descriptor table", s.name)
				}()
			}
			assert.Equal(t, tables[0], tables[1], "descriptor tables with %d clients, C then Go", n)
			t.Logf("%s: %q", model, tables[0])
		})
	}
}
