//go:build linux

package parity_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/iomodels/iomodels/compare/parity"
)

// The command-line pair: this test binary, run again as `echo-server PORT` (TestMain), is
// both the reference and the candidate. Every built-in one-shot scenario runs: the
// reference twice, the candidate once.
func Example() {
	ref := parity.Command(os.Args[0], "echo-server", "{port}")
	cand := parity.Command(os.Args[0], "echo-server", "{port}")
	err := parity.Test(ref, cand, parity.Builtin(parity.OneShot))
	fmt.Println("differences:", err)
	// Output: differences: <nil>
}

// An in-process pair: the candidate answers in upper case, which the first connection
// shows. The scenario is built in code.
func Example_inProcess() {
	ref := parity.InProcess(func() (parity.Server, error) { return startEcho(nil) })
	cand := parity.InProcess(func() (parity.Server, error) { return startEcho(bytes.ToUpper) })
	sc := parity.Scenario{Name: "hello", Steps: []parity.Step{
		{Op: parity.Connect, Conn: "a"},
		{Op: parity.Send, Conn: "a", Data: [][]byte{[]byte("hello")}},
		{Op: parity.HalfClose, Conn: "a"},
		{Op: parity.AwaitEnd, Conn: "a"},
	}}
	o, err := parity.Differential(sc, ref, cand)
	if err != nil {
		fmt.Println(err)
		return
	}
	a, _ := o.Candidate.Conn("a")
	fmt.Printf("candidate received %q, then %s\n", a.Data, a.End)
	fmt.Println(strings.SplitN(o.Diff, "\n", 2)[0])
	// Output:
	// candidate received "HELLO", then EOF
	// bytes received on a differs at byte 0:
}

// A scenario file, run once: the transcript names each client's port after its
// connection.
func ExampleParseScenario() {
	src := `# Two clients, one after the other.
name: two-clients
protocol: oneshot
connect a
send a "one"
half-close a
await-end a
connect b
send b text:7:5
half-close b
await-end b
await-stdout 4
`
	sc, err := parity.ParseScenario("two-clients.scenario", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	tr, err := parity.Run(sc, parity.InProcess(func() (parity.Server, error) { return startEcho(nil) }))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range tr.Conns {
		fmt.Printf("%s: %q %s\n", c.Name, c.Data, c.End)
	}
	fmt.Print(tr.Stdout)
	// Output:
	// a: "one" EOF
	// b: "aqmbc" EOF
	// new conn 127.0.0.1:<a>
	// recv_msg: one
	// new conn 127.0.0.1:<b>
	// recv_msg: aqmbc
}

// A custom normaliser: each server logs its own start number, which no two runs share.
// Without the normaliser the reference disagrees with itself (noise).
func ExampleNormalize() {
	var mu sync.Mutex
	starts := 0
	numbered := parity.InProcess(func() (parity.Server, error) {
		mu.Lock()
		starts++
		n := starts
		mu.Unlock()
		s, err := startEcho(nil)
		if err == nil {
			fmt.Fprintf(&s.stderr, "start number %d\n", n)
		}
		return s, err
	})
	sc := parity.Builtin(parity.OneShot)[0]

	o, _ := parity.Differential(sc, numbered, numbered)
	fmt.Println("noise without the normaliser:", o.Noise != "")

	startNumber := regexp.MustCompile(`start number \d+`)
	hide := parity.Normalizer(func(log string) string { return startNumber.ReplaceAllString(log, "start number N") })
	err := parity.Test(numbered, numbered, []parity.Scenario{sc}, parity.Normalize(hide))
	fmt.Println("differences with it:", err)
	// Output:
	// noise without the normaliser: true
	// differences with it: <nil>
}

// echo is a one-shot echo server in the manner of this repository's: per connection, one
// read of at most 512 bytes, logged, answered (through reply when not nil), then a
// half-close and a close; a failed read is logged on stderr.
type echo struct {
	l      net.Listener
	reply  func([]byte) []byte
	wg     sync.WaitGroup
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr lockedBuffer
}

func startEcho(reply func([]byte) []byte) (*echo, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &echo{l: l, reply: reply}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		serve(l, &s.mu, &s.stdout, &s.stderr, reply)
	}()
	return s, nil
}

func (s *echo) Port() int { return s.l.Addr().(*net.TCPAddr).Port }
func (s *echo) Stop() (int, error) {
	s.l.Close()
	s.wg.Wait()
	return 0, nil
}
func (s *echo) Stdout() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.stdout.Bytes())
}
func (s *echo) Stderr() []byte { return s.stderr.Bytes() }

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// serve serves l's connections one at a time until l is closed.
func serve(l net.Listener, mu *sync.Mutex, stdout io.Writer, stderr io.Writer, reply func([]byte) []byte) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		fmt.Fprintf(stdout, "new conn %s\n", c.RemoteAddr())
		mu.Unlock()
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "recv_connfd error: %v\n", errors.Unwrap(errors.Unwrap(err)))
			c.Close()
			continue
		}
		msg := buf[:n]
		logged, _, _ := bytes.Cut(msg, []byte{0})
		mu.Lock()
		fmt.Fprintf(stdout, "recv_msg: %s\n", logged)
		mu.Unlock()
		if reply != nil {
			msg = reply(msg)
		}
		c.Write(msg)
		c.(*net.TCPConn).CloseWrite()
		c.Close()
	}
}

// echoServerMain is `echo-server PORT`: the example's servers as processes, which log on
// stdout and stderr as the in-process ones do and print "listening on" first.
func echoServerMain(port string) {
	if _, err := strconv.Atoi(port); err != nil {
		fmt.Fprintf(os.Stderr, "echo-server: port %q: %v\n", port, err)
		os.Exit(2)
	}
	l, err := net.Listen("tcp4", "0.0.0.0:"+port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bind_listenfd error: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "listening on 0.0.0.0:%s\n", port)
	serve(l, new(sync.Mutex), os.Stdout, os.Stderr, nil)
}
