//go:build linux

package systrace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Ring records what io_uring requests a process submits and how each completes, which
// strace cannot see (they travel in shared memory): the kernel's io_uring tracepoints, in
// a tracefs instance of its own (a private buffer, so that other tracing is untouched).
type Ring struct {
	dir string
}

// Tracefs is where tracefs is mounted.
const Tracefs = "/sys/kernel/tracing"

// ErrNoTracefs says why the ring cannot be traced here.
var ErrNoTracefs = errors.New("tracefs with io_uring events is not available (needs root)")

// StartRing traces io_uring requests, every process's: RingRequests picks one process's
// (a pid filter would miss the server's first requests, made before its pid is known).
func StartRing() (*Ring, error) {
	if _, err := os.Stat(filepath.Join(Tracefs, "instances")); err != nil {
		// Mounted on demand: a machine that boots without it (root only).
		if err := unix.Mount("nodev", Tracefs, "tracefs", 0, ""); err != nil {
			return nil, fmt.Errorf("%w: mount tracefs: %v", ErrNoTracefs, err)
		}
	}
	if _, err := os.Stat(filepath.Join(Tracefs, "events", "io_uring", "io_uring_submit_req")); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoTracefs, err)
	}
	dir, err := os.MkdirTemp(filepath.Join(Tracefs, "instances"), "iomodels-")
	if err != nil {
		// tracefs instances are made with mkdir; MkdirTemp's random name is fine.
		return nil, fmt.Errorf("%w: %v", ErrNoTracefs, err)
	}
	r := &Ring{dir: dir}
	for _, w := range []struct{ file, value string }{
		{"options/record-tgid", "1"},
		{"events/io_uring/io_uring_submit_req/enable", "1"},
		{"events/io_uring/io_uring_file_get/enable", "1"},
		{"events/io_uring/io_uring_complete/enable", "1"},
		{"tracing_on", "1"},
	} {
		if err := os.WriteFile(filepath.Join(dir, w.file), []byte(w.value), 0); err != nil {
			r.Close()
			return nil, fmt.Errorf("%w: %s: %v", ErrNoTracefs, w.file, err)
		}
	}
	return r, nil
}

// Read is what the instance recorded so far.
func (r *Ring) Read() (string, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, "trace"))
	return string(b), err
}

// Close stops the tracing and removes the instance.
func (r *Ring) Close() {
	os.WriteFile(filepath.Join(r.dir, "tracing_on"), []byte("0"), 0)
	os.Remove(r.dir)
}

var (
	ringLine   = regexp.MustCompile(`^\s*.+?-(\d+)\s+\(\s*(\d+)\)\s+\[\d+\]\s+\S+\s+[\d.]+: (io_uring_\w+): (.*)$`)
	ringReq    = regexp.MustCompile(`req (\S+), user_data (0x[0-9a-f]+)`)
	ringSubmit = regexp.MustCompile(`opcode (\S+), flags (0x[0-9a-f]+)`)
	ringFd     = regexp.MustCompile(`, fd (-?\d+)`)
	ringResult = regexp.MustCompile(`result (-?\d+), cflags (0x[0-9a-f]+)`)
)

// RingRequests lists the requests process tgid submitted, in submission order, each with
// its descriptor and how it completed: "ACCEPT user_data 0x4 flags 0x0 fd 6 -> conn1
// cflags 0x0". The kernel's request pointer is matched from submission to completion.
func RingRequests(trace string, tgid int) []string {
	type req struct {
		text, fd, result string
	}
	var reqs []*req
	open := map[string]*req{} // the kernel's request (hashed pointer) -> its submission
	// Descriptors that ACCEPT made are named by order of creation, as the system calls'
	// are: whether a number was free again when the next ACCEPT completed is timing.
	names := map[string]string{}
	accepted := 0
	name := func(fd string) string {
		if n, ok := names[fd]; ok {
			return n
		}
		return fd
	}
	want := strconv.Itoa(tgid)
	for _, l := range strings.Split(trace, "\n") {
		m := ringLine.FindStringSubmatch(l)
		if m == nil || m[2] != want {
			continue
		}
		id := ringReq.FindStringSubmatch(m[4])
		if id == nil {
			continue
		}
		switch m[3] {
		case "io_uring_submit_req":
			s := ringSubmit.FindStringSubmatch(m[4])
			if s == nil {
				continue
			}
			r := &req{text: fmt.Sprintf("%s user_data %s flags %s", s[1], id[2], s[2])}
			reqs = append(reqs, r)
			open[id[1]] = r
		case "io_uring_file_get":
			if r, ok := open[id[1]]; ok {
				if f := ringFd.FindStringSubmatch(m[4]); f != nil {
					r.fd = name(f[1])
				}
			}
		case "io_uring_complete":
			if r, ok := open[id[1]]; ok {
				if c := ringResult.FindStringSubmatch(m[4]); c != nil {
					res := c[1]
					if strings.HasPrefix(r.text, "ACCEPT ") && !strings.HasPrefix(res, "-") {
						accepted++
						names[res] = fmt.Sprintf("conn%d", accepted)
						res = names[res]
					}
					r.result = fmt.Sprintf("%s cflags %s", res, c[2])
				}
				delete(open, id[1])
			}
		}
	}
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.text
		if r.fd != "" {
			out[i] += " fd " + r.fd
		}
		if r.result == "" {
			r.result = "(no completion)"
		}
		out[i] += " -> " + r.result
	}
	return out
}
