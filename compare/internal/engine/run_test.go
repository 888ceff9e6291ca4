//go:build linux

package engine

import (
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaky is a toy whose descriptors are this process's, and which keeps every connection
// it served open: a leak.
type leaky struct {
	*toy
	mu   sync.Mutex
	kept []net.Conn
}

func (l *leaky) ServerPid() int { return os.Getpid() }

func (l *leaky) Stop() (string, error) {
	status, err := l.toy.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.kept {
		c.Close()
	}
	return status, err
}

func startLeaky() (Target, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &leaky{toy: &toy{l: l, reply: echo}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.kept = append(s.kept, c)
			s.mu.Unlock()
			c.Write([]byte("hi"))
			c.(*net.TCPConn).CloseWrite()
		}
	}()
	return s, nil
}

// A descriptor leak fails the run, on the reference as on the port: two servers that
// leak alike are not at parity.
func TestLeakFails(t *testing.T) {
	leak := Impl{Name: "leaky", Start: func(string) (Target, error) { return startLeaky() }, Deadline: time.Second}
	sc := Scenario{Name: "one", Steps: func(string) []Step { return []Step{Connect("a"), AwaitEnd("a")} }}
	_, err := Differential(sc, "", leak, leak)
	require.Error(t, err, "both sides leak")
	assert.Contains(t, err.Error(), "descriptor leak")
}

// A half-close that finds the connection already reset (ENOTCONN) is an outcome the
// transcript records, not an error swallowed.
func TestHalfCloseAfterResetNoted(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err == nil {
			c.Read(make([]byte, 1)) // the client is connected: its byte came
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // RST
		}
	}()
	tg := listening{"127.0.0.1", l.Addr().(*net.TCPAddr).Port}
	sc := Scenario{Name: "reset-first", Steps: func(string) []Step {
		return []Step{Connect("a"), Send("a", []byte("x")), AwaitEnd("a"), HalfClose("a")}
	}}
	tr, err := Execute(sc, "", tg, Options{Deadline: 5 * time.Second})
	l.Close()
	<-done
	require.NoError(t, err)
	assert.Equal(t, []string{"a: half-close: the connection was already reset (ENOTCONN)"}, tr.Notes)
	a, _ := tr.Conn("a")
	assert.Equal(t, "reset", a.End)
}

// A failed SIOCINQ is an error of the step, not an empty queue read as 0.
func TestUnreadQueueIoctlErrorSurfaces(t *testing.T) {
	f, err := os.Open(os.DevNull) // not a socket: ioctl SIOCINQ fails with ENOTTY
	require.NoError(t, err)
	defer f.Close()
	r := newRun(listening{"127.0.0.1", 1}, time.Now().Add(2*time.Second))
	_, err = r.AddConn("a", f, 0, false)
	require.NoError(t, err)
	err = AwaitUnreadStable("a", 1).Do(r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ioctl SIOCINQ")
}
