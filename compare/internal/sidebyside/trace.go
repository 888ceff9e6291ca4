package sidebyside

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Call is one system call of a stored trace (compare/testdata/traces/MODEL.{c,go}.trace):
// a line of four tab-separated fields, process, class, call, site.
type Call struct {
	N       int    // its line in the trace file
	Process string // p0 the server, p1... its children in order of creation
	Class   string // "model", or "runtime:NAME" (housekeeping of the language's runtime)
	Text    string // strace's text, descriptors renamed dN
	Site    Site   // the innermost frame in the project's own code; zero when none
}

// Site is where in the project's sources a call was made.
type Site struct {
	Path string // relative to the repository's root
	Line int
	Func string // as the trace names it (C: serve_epoll_et; Go: gosrv.(*forkChild).serveChild)
}

// Housekeeping is the name of the runtime row that explains the call, "" for a model call.
func (c Call) Housekeeping() string {
	return strings.TrimPrefix(c.Class, "runtime:")
}

// IsModel tells a call of the model from the runtime's housekeeping.
func (c Call) IsModel() bool { return c.Class == "model" }

// Trace is one stored trace: its comment lines (the first is its title) and its calls.
type Trace struct {
	Comments []string // without the leading "# "
	Calls    []Call
}

var siteRE = regexp.MustCompile(`^(\S+):([0-9]+) (\S+)$`)

// ReadTrace reads a stored trace; name is for error messages.
func ReadTrace(name string, r io.Reader) (*Trace, error) {
	tr := &Trace{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			tr.Comments = append(tr.Comments, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("%s:%d: %d tab-separated fields, want 4 (process, class, call, site)", name, n, len(f))
		}
		c := Call{N: n, Process: f[0], Class: f[1], Text: f[2]}
		if !regexp.MustCompile(`^p[0-9]+$`).MatchString(c.Process) {
			return nil, fmt.Errorf("%s:%d: process %q, want p0, p1, ...", name, n, c.Process)
		}
		if c.Class != "model" && (!strings.HasPrefix(c.Class, "runtime:") || c.Class == "runtime:") {
			return nil, fmt.Errorf("%s:%d: class %q, want model or runtime:NAME", name, n, c.Class)
		}
		if c.Text == "" {
			return nil, fmt.Errorf("%s:%d: no call", name, n)
		}
		if site := strings.TrimSpace(f[3]); site != "" {
			m := siteRE.FindStringSubmatch(site)
			if m == nil {
				return nil, fmt.Errorf("%s:%d: site %q, want path:line function", name, n, site)
			}
			ln, err := strconv.Atoi(m[2])
			if err != nil || ln <= 0 {
				return nil, fmt.Errorf("%s:%d: site %q: bad line number", name, n, site)
			}
			c.Site = Site{Path: m[1], Line: ln, Func: m[3]}
		}
		tr.Calls = append(tr.Calls, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return tr, nil
}

// Title is the trace's first comment line, or "".
func (t *Trace) Title() string {
	if len(t.Comments) == 0 {
		return ""
	}
	return t.Comments[0]
}

// funcName is the bare name of a site's function: C's as it is; Go's without its package,
// receiver and closure suffixes (gosrv.(*userver).step -> step, gosrv.rawCalls.Close ->
// Close, gosrv.serveEpollET.func1 -> serveEpollET).
func funcName(f string) string {
	if i := strings.LastIndex(f, "/"); i >= 0 {
		f = f[i+1:]
	}
	parts := strings.Split(f, ".")
	if len(parts) == 1 {
		return f
	}
	var names []string
	for _, p := range parts[1:] { // parts[0] is the package
		if strings.HasPrefix(p, "(") || isDigits(strings.TrimPrefix(p, "func")) {
			continue // a receiver, a closure
		}
		names = append(names, p)
	}
	switch len(names) {
	case 0:
		return f
	case 1:
		return names[0]
	}
	return names[len(names)-1] // Type.Method
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
