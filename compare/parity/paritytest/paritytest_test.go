//go:build linux

package paritytest_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/iomodels/iomodels/compare/parity"
	"github.com/iomodels/iomodels/compare/parity/paritytest"
)

// echo answers each connection with what it sent, through reply.
type echo struct {
	l  net.Listener
	wg sync.WaitGroup
}

func target(reply func([]byte) []byte) parity.Target {
	return parity.InProcess(func() (parity.Server, error) {
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
				c.Write(reply(msg))
				c.Close()
			}
		}()
		return s, nil
	})
}

func (s *echo) Port() int { return s.l.Addr().(*net.TCPAddr).Port }
func (s *echo) Stop() (int, error) {
	s.l.Close()
	s.wg.Wait()
	return 0, nil
}
func (s *echo) Stdout() []byte { return nil }
func (s *echo) Stderr() []byte { return nil }

// recorder is a testing.TB that keeps what Test reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()           {}
func (r *recorder) Error(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }

func scenario(name, msg string) parity.Scenario {
	return parity.Scenario{Name: name, Steps: []parity.Step{
		{Op: parity.Connect, Conn: "a"},
		{Op: parity.Send, Conn: "a", Data: [][]byte{[]byte(msg)}},
		{Op: parity.HalfClose, Conn: "a"},
		{Op: parity.AwaitEnd, Conn: "a"},
	}}
}

// Test reports one error per scenario that differs, and none at parity.
func TestTest(t *testing.T) {
	same := func(b []byte) []byte { return b }
	scs := []parity.Scenario{scenario("letters", "abc"), scenario("digits", "123"), scenario("more", "xyz")}

	r := &recorder{TB: t}
	paritytest.Test(r, target(same), target(bytes.ToUpper), scs)
	if len(r.errs) != 2 || !strings.HasPrefix(r.errs[0], "scenario letters: not at parity") || !strings.HasPrefix(r.errs[1], "scenario more: not at parity") {
		t.Errorf("an upper-case candidate: reported %q, want letters and more", r.errs)
	}

	r = &recorder{TB: t}
	paritytest.Test(r, target(same), target(same), scs)
	if len(r.errs) != 0 {
		t.Errorf("an echo against itself: reported %q", r.errs)
	}
}
