// Command netthread is the thread model (csrc/thread.c: one thread per connection, the
// one-shot protocol) ported to Go the way an ordinary Go programmer would write it: the
// net package, a goroutine per connection, os/signal for the stop. It is the worked
// example for checking a port against the C reference, not a parity port: where it
// differs from `server thread`, and why, is measured in compare/examples/README.md.
//
//	netthread [PORT]    # PORT defaults to 8080; 0 picks a free port
//
// Compare gosrv/thread.go, the raw-syscall port that is at parity: none of its machinery
// (descriptor numbering, the reserve descriptor, signal dispositions) is here.
package main

import (
	"bytes"
	"errors"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The C server's two streams: connections on stdout, errors and its life on stderr.
// A log.Logger writes each line with one Write and is safe for many goroutines.
var (
	stdout = log.New(os.Stdout, "", 0)
	stderr = log.New(os.Stderr, "", 0)
)

var signalNames = map[os.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM",
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	port := 8080
	if len(args) > 1 {
		stderr.Print("usage: netthread [PORT]")
		return 1
	}
	if len(args) == 1 {
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > 65535 {
			stderr.Printf("netthread: bad port %q: want a number from 0 to 65535", args[0])
			stderr.Print("usage: netthread [PORT]")
			return 1
		}
		port = n
	}

	// SIGINT, SIGTERM, SIGHUP stop the server; the first one names the final line.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	// tcp4 and no address: C's AF_INET socket bound to INADDR_ANY. The net package sets
	// SO_REUSEADDR on listeners itself, as the C server does by hand.
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{Port: port})
	if err != nil {
		stderr.Printf("listen error: %v", err)
		return 1
	}
	stderr.Printf("listening on 0.0.0.0:%d", ln.Addr().(*net.TCPAddr).Port)

	var sig os.Signal
	stopped := make(chan struct{})
	go func() {
		sig = <-stop // later signals wait in the channel, unread, and change nothing
		ln.Close()   // ends the accept loop below
		close(stopped)
	}()

	s := server{conns: make(map[*net.TCPConn]bool)}
	s.acceptLoop(ln)
	<-stopped
	s.closeAll() // wakes every goroutine blocked in Read: its client sees end of stream
	s.wg.Wait()
	stderr.Printf("signal: %s(%d)   close server ... done", signalNames[sig], sig.(syscall.Signal))
	return 0
}

// server keeps the open connections, so that a stop can close them, and counts their
// goroutines, so that it can wait for them (C: a counter and a condition variable).
type server struct {
	mu    sync.Mutex
	conns map[*net.TCPConn]bool
	wg    sync.WaitGroup
}

// acceptLoop accepts until the listener is closed, one goroutine per connection.
func (s *server) acceptLoop(ln *net.TCPListener) {
	var delay time.Duration
	for {
		c, err := ln.AcceptTCP()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of descriptors (EMFILE) and the like: the connection stays queued and
			// we try again after a pause, as net/http's Server.Serve does.
			stderr.Printf("accept_listenfd error: %v", err)
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		stdout.Printf("new conn(%s)", c.RemoteAddr())
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.forget(c)
			echoOnce(c)
		}()
	}
}

// forget closes c and drops it from the open connections.
func (s *server) forget(c *net.TCPConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// echoOnce is the one-shot protocol: one read of at most 512 bytes, log it, write it
// back, half-close. The caller closes c.
func echoOnce(c *net.TCPConn) {
	buf := make([]byte, 512)
	n, err := c.Read(buf) // one read(2), after the runtime's poller says c is readable
	if err != nil && err != io.EOF {
		if !errors.Is(err, net.ErrClosed) { // closed by a stop: nothing to report
			stderr.Printf("recv_connfd error: %v", err)
		}
		return
	}
	msg := buf[:n]
	if i := bytes.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i] // C prints the message with %s, which stops at a NUL byte
	}
	stdout.Printf("recv_msg: %s", msg)
	if _, err := c.Write(buf[:n]); err != nil {
		stderr.Printf("send_connfd error: %v", err)
		return
	}
	c.CloseWrite()
}
