//go:build linux

package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
