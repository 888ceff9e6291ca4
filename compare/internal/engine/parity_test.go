//go:build linux

package engine

// parity_test.go - the engine on its own, against toy servers in this process: what it
// sees as equal, what it tells apart, how it names ports, when its watchdog fires, and the
// targets that are processes or addresses.

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// toy is a one-shot echo server in this process: it reads a connection to its end, logs
// the peer and the message, and answers with reply(msg).
type toy struct {
	l      net.Listener
	reply  func(msg []byte) []byte
	mu     sync.Mutex
	stdout bytes.Buffer
	wg     sync.WaitGroup
}

func startToy(reply func([]byte) []byte) (*toy, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &toy{l: l, reply: reply}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.serve(c)
		}
	}()
	return s, nil
}

func (s *toy) serve(c net.Conn) {
	defer c.Close()
	msg, _ := io.ReadAll(c)
	s.mu.Lock()
	fmt.Fprintf(&s.stdout, "%s sent %q\n", c.RemoteAddr(), msg)
	s.mu.Unlock()
	c.Write(s.reply(msg))
}

func (s *toy) Port() int { return s.l.Addr().(*net.TCPAddr).Port }
func (s *toy) Stop() (string, error) {
	s.l.Close()
	s.wg.Wait()
	return "exited 0", nil
}
func (s *toy) Stdout() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.stdout.Bytes())
}
func (s *toy) Stderr() []byte { return nil }

func toyImpl(name string, reply func([]byte) []byte) Impl {
	return Impl{Name: name, Start: func(string) (Target, error) { return startToy(reply) }}
}

var (
	echo  = func(msg []byte) []byte { return msg }
	upper = func(msg []byte) []byte { return bytes.ToUpper(msg) }
)

func twoClients() Scenario {
	return Scenario{Name: "two-clients", Steps: func(string) []Step {
		return Seq(Client("a", []byte("one")), Client("b", []byte("two")), AwaitStdoutLines(2))
	}}
}

func TestDifferentialEqual(t *testing.T) {
	o, err := Differential(twoClients(), "", toyImpl("ref", echo), toyImpl("port", echo))
	require.NoError(t, err)
	assert.Empty(t, o.Noise)
	assert.Empty(t, o.Diff)
	a, ok := o.Port.Conn("a")
	require.True(t, ok)
	assert.Equal(t, "one", string(a.Data))
	assert.Equal(t, "EOF", a.End)
	// The clients' ports became their names, in both logs.
	assert.Equal(t, "127.0.0.1:<a> sent \"one\"\n127.0.0.1:<b> sent \"two\"\n", o.Ref.Stdout)
	assert.Equal(t, o.Ref.Stdout, o.Port.Stdout)
	assert.Equal(t, "exited 0", o.Port.Status)
}

func TestDifferentialTellsApart(t *testing.T) {
	o, err := Differential(twoClients(), "", toyImpl("ref", echo), toyImpl("port", upper))
	require.NoError(t, err)
	assert.Empty(t, o.Noise)
	assert.Contains(t, o.Diff, "bytes received on a differs at byte 0")
	assert.Contains(t, o.Diff, "bytes received on b differs at byte 0")
}

// A reference whose answer depends on chance disagrees with itself: noise, and the port
// is not run.
func TestDifferentialFindsNoise(t *testing.T) {
	dice := func([]byte) []byte { return []byte(fmt.Sprint(rand.Uint64())) }
	ported := false
	port := Impl{Name: "port", Start: func(string) (Target, error) { ported = true; return startToy(echo) }}
	o, err := Differential(twoClients(), "", toyImpl("ref", dice), port)
	require.NoError(t, err)
	assert.Contains(t, o.Noise, "bytes received on a")
	assert.False(t, ported, "the port was run against a reference that disagrees with itself")
	assert.Nil(t, o.Port)
}

func TestReplaceNormalizer(t *testing.T) {
	stamp := func(msg []byte) []byte { return []byte(time.Now().Format(time.RFC3339Nano)) }
	sc := Scenario{Name: "stamp", Steps: func(string) []Step { return Client("a", []byte("x")) }}
	o, err := Differential(sc, "", toyImpl("ref", stamp), toyImpl("port", stamp))
	require.NoError(t, err)
	require.NotEmpty(t, o.Noise, "timestamps differ from run to run")

	norm := []Normalizer{ClientPorts, ListenPort}
	tr, err := Execute(sc, "", must(startToy(stamp)), Options{Normalize: norm})
	require.NoError(t, err)
	a, _ := tr.Conn("a")
	assert.Regexp(t, `^\d{4}-`, string(a.Data), "normalizers rewrite the logs only, never what a client received")

	// Logs with a pid or a time in them agree once a Replace normalizer names them.
	pidLog := func(msg []byte) []byte { return msg }
	i := 0
	start := func(string) (Target, error) {
		i++
		s, err := startToy(pidLog)
		if err == nil {
			fmt.Fprintf(&s.stdout, "pid %d started\n", 1000+i)
		}
		return s, err
	}
	pid := Replace(regexp.MustCompile(`pid \d+`), "pid PID")
	ref := Impl{Name: "ref", Start: start, Normalize: []Normalizer{ClientPorts, pid}}
	o, err = Differential(sc, "", ref, ref)
	require.NoError(t, err)
	assert.Empty(t, o.Noise)
	assert.Empty(t, o.Diff)
	assert.True(t, strings.HasPrefix(o.Ref.Stdout, "pid PID started\n"), o.Ref.Stdout)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A server that never answers fails the run at the scenario's deadline, with what did
// not happen.
func TestWatchdog(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	mute := listening{"127.0.0.1", l.Addr().(*net.TCPAddr).Port} // accepted by the backlog, never read
	sc := Scenario{Name: "mute", Steps: func(string) []Step { return Client("a", []byte("hello?")) }}
	start := time.Now()
	_, err = Execute(sc, "", mute, Options{Deadline: 300 * time.Millisecond})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "watchdog: the end of a did not happen")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestAddress(t *testing.T) {
	s, err := startToy(echo)
	require.NoError(t, err)
	defer s.Stop()
	im := Address("running", fmt.Sprintf("127.0.0.1:%d", s.Port()))
	tr, err := RunOnce(Scenario{Name: "one", Steps: func(string) []Step { return Client("a", []byte("hi")) }}, "", im)
	require.NoError(t, err)
	a, _ := tr.Conn("a")
	assert.Equal(t, "hi", string(a.Data))
	assert.Equal(t, "running", tr.Status, "an address's server is not stopped by the engine")
	assert.Empty(t, tr.Stdout, "an address's logs are not seen")

	for _, bad := range []string{"localhost", "127.0.0.1:x", "10.1.2.3:80", "[::1]:80"} {
		_, err := Address("bad", bad).Start("")
		assert.Error(t, err, bad)
	}
}

func TestCommand(t *testing.T) {
	_, err := Command("none", nil).Start("")
	assert.ErrorContains(t, err, "empty command line")
	start := time.Now()
	_, err = Command("false", []string{"false", "{port}"}).Start("")
	assert.ErrorContains(t, err, "did not start")
	assert.Less(t, time.Since(start), ProcessTimeout, "a server that exits is noticed at once")
}
