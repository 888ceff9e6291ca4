//go:build linux

package enginetest

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echo is a one-shot echo server in this process that logs nothing.
type echo struct {
	l  net.Listener
	wg sync.WaitGroup
}

func startEcho() (*echo, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &echo{l: l}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			msg, _ := io.ReadAll(c)
			c.Write(msg)
			c.Close()
		}
	}()
	return s, nil
}

func (s *echo) Port() int { return s.l.Addr().(*net.TCPAddr).Port }
func (s *echo) Stop() (string, error) {
	s.l.Close()
	s.wg.Wait()
	return "exited 0", nil
}
func (s *echo) Stdout() []byte { return nil }
func (s *echo) Stderr() []byte { return nil }

// Test runs each scenario that applies to the model, the reference twice and the port once,
// and passes the others over.
func TestTest(t *testing.T) {
	client := func(string) []engine.Step { return engine.Client("a", []byte("x")) }
	all := engine.Scenario{Name: "all", Steps: client}
	onlyX := engine.Scenario{Name: "only-x", Models: func(m string) bool { return m == "x" }, Steps: client}
	starts := map[string]int{}
	counted := func(name string) engine.Impl {
		return engine.Impl{Name: name, Start: func(model string) (engine.Target, error) {
			starts[name+" "+model]++
			return startEcho()
		}}
	}
	Test(t, counted("ref"), counted("port"), "y", all, onlyX)
	require.False(t, t.Failed(), "an echo server is at parity with itself")
	assert.Equal(t, map[string]int{"ref y": 2, "port y": 1}, starts, "servers started per model")
}
