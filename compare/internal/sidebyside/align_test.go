//go:build linux

package sidebyside

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/iomodels/iomodels/gosrv"
)

// TestEveryRunExplained: in every model's view, each run of code lines of one language
// alone gets a sentence that says why, from a rule, not the generic one.
func TestEveryRunExplained(t *testing.T) {
	root, err := Root(".")
	require.NoError(t, err)
	for _, gm := range gosrv.Models() {
		t.Run(gm.Name, func(t *testing.T) {
			m, err := LoadModel(root, gm.Name)
			require.NoError(t, err)
			paired := 0
			for _, b := range Align(m) {
				for i, r := range b.Rows {
					if r.Only() == "" {
						paired++
					}
					if r.Why == Unexplained && RunEnds(b.Rows, i) {
						assert.Fail(t, "a line of one language alone has no explanation", "%s, %s: %s line %d %q",
							gm.Name, b.Title, r.Only(), r.line().N, r.line().Text)
					}
				}
			}
			assert.Greater(t, paired, 20, "%s: C and Go share rows", gm.Name)
		})
	}
}

func TestAlignPairsTwins(t *testing.T) {
	c := []Line{{N: 1, Text: "    int connfd = accept_conn(srv, &acc, &peeraddr);"}, {N: 2, Text: "    free(buf);"}, {N: 3, Text: "    echo_once(srv, connfd);"}}
	g := []Line{{N: 1, Text: "\tslice.yield() // Go only: see timeSlice"}, {N: 2, Text: "\tconnFd, peer := acceptConn(srv, &acc)"}, {N: 3, Text: "\techoOnce(srv, connFd)"}}
	rows := alignLines(c, g)
	require.Len(t, rows, 4)
	assert.Equal(t, 1, rows[0].Go.N, "Go's yield alone first")
	assert.Equal(t, Go, rows[0].Only())
	assert.Contains(t, rows[0].Why, "time slice")
	assert.Equal(t, [2]int{1, 2}, [2]int{rows[1].C.N, rows[1].Go.N}, "accept_conn beside acceptConn")
	assert.Equal(t, C, rows[2].Only(), "free alone")
	assert.Contains(t, rows[2].Why, "memory by hand")
	assert.Equal(t, [2]int{3, 3}, [2]int{rows[3].C.N, rows[3].Go.N}, "echo_once beside echoOnce")
}
