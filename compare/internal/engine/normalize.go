//go:build linux

package engine

// normalize.go - what differs between two correct runs, rewritten before comparison:
// the ports the kernel picked, and whatever else a server's log carries that no two runs
// share (pids, timestamps), by regular expression.

import (
	"regexp"
	"strconv"
)

// A Normalizer rewrites a server's stdout or stderr after a run: r is the run, whose
// connections know their local ports.
type Normalizer func(log string, r *Run) string

// DefaultNormalizers name the clients' ports and the listening port.
var DefaultNormalizers = []Normalizer{ClientPorts, ListenPort}

var (
	peerRE   = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
	listenRE = regexp.MustCompile(`0\.0\.0\.0:(\d+)`)
	// reportRE is the line a server reports its listening port in.
	reportRE = regexp.MustCompile(`(?m)^listening on 0\.0\.0\.0:(\d+)$`)
)

// ClientPorts replaces each client's port (127.0.0.1:PORT) by its connection's name. A
// port that several connections used in turn (loopback reuses a port whose connection is
// in TIME_WAIT) names them in connection order, one per occurrence (each connection
// appears in one "new conn" line); the last name is kept for any further occurrence.
func ClientPorts(log string, r *Run) string {
	ports := map[int][]string{}
	for _, name := range r.names {
		c := r.conns[name]
		ports[c.port] = append(ports[c.port], name)
	}
	return nameClientPorts(log, ports)
}

// NamePorts is ClientPorts then ListenPort given the ports' names, for a check that made
// its connections without a Run: the listening port is the one the log itself reports
// ("listening on 0.0.0.0:PORT", the first stderr line), and a log without that line (a
// stdout) has none to rewrite.
func NamePorts(log string, ports map[int][]string) string {
	log = nameClientPorts(log, ports)
	if m := reportRE.FindStringSubmatch(log); m != nil {
		port, _ := strconv.Atoi(m[1])
		return listenPort(log, port)
	}
	return log
}

func nameClientPorts(log string, ports map[int][]string) string {
	used := map[int]int{}
	return peerRE.ReplaceAllStringFunc(log, func(m string) string {
		p, _ := strconv.Atoi(m[len("127.0.0.1:"):])
		names, ok := ports[p]
		if !ok {
			return "127.0.0.1:<unknown port>"
		}
		i := min(used[p], len(names)-1)
		used[p]++
		return "127.0.0.1:<" + names[i] + ">"
	})
}

// ListenPort replaces the listening address 0.0.0.0:PORT, PORT being the port the server
// listens on (its target's Port: what it reported), by 0.0.0.0:PORT literally. Any other
// port after 0.0.0.0 is left as it is, for the comparison to see.
func ListenPort(log string, r *Run) string {
	if r == nil {
		return log
	}
	return listenPort(log, r.target.Port())
}

func listenPort(log string, port int) string {
	return listenRE.ReplaceAllStringFunc(log, func(m string) string {
		if p, err := strconv.Atoi(m[len("0.0.0.0:"):]); err == nil && p == port {
			return "0.0.0.0:PORT"
		}
		return m
	})
}

// Replace is a Normalizer that replaces every match of re by repl (regexp.ReplaceAllString
// syntax: $1 names a group): for pids, timestamps, addresses a port prints its own way.
func Replace(re *regexp.Regexp, repl string) Normalizer {
	return func(log string, _ *Run) string { return re.ReplaceAllString(log, repl) }
}
