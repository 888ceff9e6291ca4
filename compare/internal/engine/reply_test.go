//go:build linux

package engine

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lineServer answers each line it reads with answer(line), on every connection, until
// the test ends.
func lineServer(t *testing.T, answer func(line string) string) Target {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := c.Write([]byte(answer(sc.Text()))); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return listening{"127.0.0.1", l.Addr().(*net.TCPAddr).Port}
}

func kvAnswer(line string) string {
	switch line {
	case "GET k":
		return "VALUE 1\n"
	case "CRLF":
		return "OK\r\nmore\r\n"
	case "HALF":
		return "VALUE 1" // no newline: the line never ends
	case "SILENT":
		return ""
	}
	return "NOT_FOUND\n"
}

// Each reply step takes its reply and leaves the rest to the next: a line, up to a
// delimiter, until quiet, the bytes a recording saw (which the replay leaves at the first
// differing byte, noted).
func TestReplySteps(t *testing.T) {
	tg := lineServer(t, kvAnswer)
	sc := Scenario{Name: "replies", Steps: func(string) []Step {
		return []Step{
			Connect("a"),
			Send("a", []byte("GET k\nGET x\n")), AwaitLine("a"), AwaitLine("a"),
			Send("a", []byte("CRLF\n")), AwaitUntil("a", []byte("\r\n")), AwaitUntil("a", []byte("\r\n")),
			Send("a", []byte("GET k\n")), AwaitReply("a", 50*time.Millisecond),
			Send("a", []byte("GET k\n")), AwaitRecorded("a", []byte("VALUE 1\n"), 0),
			Send("a", []byte("GET x\n")), AwaitRecorded("a", []byte("VALUE 2\n"), 0),
			Connect("b"), Send("b", []byte("HALF\n")), AwaitRecorded("b", []byte("VALUE 1\n"), 50*time.Millisecond),
		}
	}}
	tr, err := Execute(sc, "", tg, Options{Deadline: 5 * time.Second})
	require.NoError(t, err)
	a, _ := tr.Conn("a")
	assert.Equal(t, "VALUE 1\nNOT_FOUND\nOK\r\nmore\r\nVALUE 1\nVALUE 1\nNOT_FOUND\n", string(a.Data), "the bytes of a")
	b, _ := tr.Conn("b")
	assert.Equal(t, "VALUE 1", string(b.Data), "the bytes of b")
	assert.Equal(t, []string{
		"a: the reply differs from the recording at byte 44",
		"b: the reply stopped 7 bytes into a recorded reply of 8 (quiet for 50ms)",
	}, tr.Notes, "the replay's notes: NOT_FOUND against VALUE 2 from a's byte 44; a line without its newline")
}

// A reply step that runs into the deadline says what arrived.
func TestReplyDeadlineSaysWhatArrived(t *testing.T) {
	tg := lineServer(t, kvAnswer)
	for _, c := range []struct {
		name, send string
		step       Step
		want       string
	}{
		{"line", "HALF\n", AwaitLine("a"), `watchdog: "\n" on a did not come before the scenario's deadline: since the previous reply 7 bytes, "VALUE 1" arrived (7 bytes in all), and the connection is open`},
		{"until", "HALF\n", AwaitUntil("a", []byte("\r\n")), `"\r\n" on a did not come`},
		{"reply", "SILENT\n", AwaitReply("a", 0), `watchdog: a reply on a did not come before the scenario's deadline: since the previous reply nothing arrived (0 bytes in all)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := Scenario{Name: c.name, Steps: func(string) []Step {
				return []Step{Connect("a"), Send("a", []byte(c.send)), c.step}
			}}
			start := time.Now()
			_, err := Execute(sc, "", tg, Options{Deadline: 300 * time.Millisecond})
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Less(t, time.Since(start), 5*time.Second, "bounded by the deadline")
		})
	}
}

// The connection's end ends every reply step: it is the transcript's to compare.
func TestReplyStepsEndAtEnd(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for range 4 {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("bye"))
			c.Close()
		}
	}()
	tg := listening{"127.0.0.1", l.Addr().(*net.TCPAddr).Port}
	for _, st := range []func() Step{
		func() Step { return AwaitLine("a") },
		func() Step { return AwaitUntil("a", []byte("\r\n")) },
		func() Step { return AwaitReply("a", 10*time.Second) },
		func() Step { return AwaitRecorded("a", []byte("bye\n"), 10*time.Second) },
	} {
		sc := Scenario{Name: "end", Steps: func(string) []Step { return []Step{Connect("a"), st()} }}
		tr, err := Execute(sc, "", tg, Options{Deadline: 5 * time.Second})
		require.NoError(t, err, st().Desc)
		a, _ := tr.Conn("a")
		assert.Equal(t, "bye", string(a.Data), st().Desc)
		if st().Desc == AwaitRecorded("a", []byte("bye\n"), 0).Desc {
			assert.Equal(t, []string{"a: the connection ended 3 bytes into a recorded reply of 4"}, tr.Notes)
		}
	}
}
