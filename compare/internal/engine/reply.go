//go:build linux

package engine

// reply.go - the steps of a request/response protocol, where a client does not know how
// long the reply is: until the connection goes quiet, until a newline, until a delimiter,
// or until the bytes a recording saw. Each takes the connection's bytes from where the
// previous one of them stopped, and each is bounded by the run's deadline.

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// DefaultReplyQuiet is how long AwaitReply waits after the last byte before it takes the
// reply as whole.
const DefaultReplyQuiet = 200 * time.Millisecond

// AwaitReply waits for a reply of unknown length on name: at least one byte beyond those
// the previous reply step took, then no further byte for quiet (DefaultReplyQuiet when
// 0). The connection's end ends the wait too. A reply that never starts, or never goes
// quiet, fails at the deadline with what arrived.
func AwaitReply(name string, quiet time.Duration) Step {
	if quiet <= 0 {
		quiet = DefaultReplyQuiet
	}
	return ConnStep(fmt.Sprintf("await a reply on %s (then %v quiet)", name, quiet), name, func(r *Run, c *Conn) error {
		c.StartReading(r)
		from := c.awaited
		if err := r.awaitData(c, from, "a reply", func(data []byte, end string) bool {
			return len(data) > from || end != ""
		}); err != nil {
			return err
		}
		last, since := -1, time.Now()
		err := r.awaitData(c, from, fmt.Sprintf("%v of quiet after the reply", quiet), func(data []byte, end string) bool {
			if len(data) != last {
				last, since = len(data), time.Now()
			}
			return end != "" || time.Since(since) >= quiet
		})
		c.awaited = max(c.awaited, last)
		return err
	})
}

// AwaitLine waits until name received a newline beyond the bytes the previous reply step
// took, or ended.
func AwaitLine(name string) Step {
	return awaitUntil("await a line on "+name, name, []byte("\n"))
}

// AwaitUntil waits until name received delim beyond the bytes the previous reply step
// took, or ended.
func AwaitUntil(name string, delim []byte) Step {
	return awaitUntil(fmt.Sprintf("await %s on %s", strconv.Quote(string(delim)), name), name, delim)
}

func awaitUntil(desc, name string, delim []byte) Step {
	return ConnStep(desc, name, func(r *Run, c *Conn) error {
		if len(delim) == 0 {
			return fmt.Errorf("an empty delimiter")
		}
		c.StartReading(r)
		from := c.awaited
		return r.awaitData(c, from, strconv.Quote(string(delim)), func(data []byte, end string) bool {
			if i := bytes.Index(data[from:], delim); i >= 0 {
				c.awaited = from + i + len(delim)
				return true
			}
			if end != "" {
				c.awaited = len(data)
				return true
			}
			return false
		})
	})
}

// AwaitRecorded waits for the reply a recording saw, want, beyond the bytes the previous
// reply step took. It ends as soon as want has come whole; at the first byte that differs
// from it; at the connection's end; or when the bytes stop short of it for quiet
// (DefaultReplyQuiet when 0). Each of the last three is noted ("a: the reply differs from
// the recording at byte 12"), so that the transcripts of two servers that answer alike
// agree and the replay says where it left the recording. The next reply step starts
// where want ends, as in the recording.
func AwaitRecorded(name string, want []byte, quiet time.Duration) Step {
	if quiet <= 0 {
		quiet = DefaultReplyQuiet
	}
	return ConnStep(fmt.Sprintf("await the recorded reply %s on %s", clipQuote(want, 40), name), name, func(r *Run, c *Conn) error {
		c.StartReading(r)
		from := c.awaited
		c.awaited = from + len(want)
		var note string
		last, since := -1, time.Now()
		err := r.awaitData(c, from, "the recorded reply "+clipQuote(want, 40), func(data []byte, end string) bool {
			got := data[from:]
			n := min(len(got), len(want))
			if i := firstDiff(got[:n], want[:n]); i >= 0 {
				note = fmt.Sprintf("%s: the reply differs from the recording at byte %d", name, from+i)
				return true
			}
			if n == len(want) {
				return true
			}
			if end != "" {
				note = fmt.Sprintf("%s: the connection ended %d bytes into a recorded reply of %d", name, n, len(want))
				return true
			}
			if len(data) != last {
				last, since = len(data), time.Now()
			}
			if time.Since(since) >= quiet {
				note = fmt.Sprintf("%s: the reply stopped %d bytes into a recorded reply of %d (quiet for %v)", name, n, len(want), quiet)
				return true
			}
			return false
		})
		if note != "" {
			r.Note("%s", note)
		}
		return err
	})
}

// firstDiff is the first index where a and b (of one length) differ, or -1.
func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// awaitData polls c's bytes and ending until done holds or the deadline passes; the
// deadline's error says what arrived since byte from.
func (r *Run) awaitData(c *Conn, from int, what string, done func(data []byte, end string) bool) error {
	var data []byte
	var end string
	ok := WaitFor(r.deadline, func() bool {
		c.mu.Lock()
		data, end = c.data, c.end
		c.mu.Unlock()
		return done(data, end)
	})
	if ok {
		return nil
	}
	got := "nothing"
	if len(data) > from {
		got = fmt.Sprintf("%d bytes, %s", len(data)-from, clipQuote(data[from:], 60))
	}
	return fmt.Errorf("watchdog: %s on %s did not come before the scenario's deadline: since the previous reply %s arrived (%d bytes in all), and the connection is open%s", what, c.name, got, len(data), r.childrenNote())
}

// clipQuote is b quoted, cut after n bytes.
func clipQuote(b []byte, n int) string {
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}
