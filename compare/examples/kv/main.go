// Command kv is the Go port of c/kv.c, a key-value store with a line protocol, written with
// package net the way an ordinary Go program would be: a goroutine per connection, a
// bufio.Reader for the lines, a map behind a mutex. The protocol and the log are c/kv.c's
// (its first comment says them); paritydiff compares the two (README.md).
//
//	go build -o kvgo ./compare/examples/kv && ./kvgo 0
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

const (
	maxLine  = 1024
	maxKey   = 64
	maxValue = 256
	maxKeys  = 256
)

// store is the keys and values, and the log, which one lock keeps in the order of the
// requests.
type store struct {
	mu sync.Mutex
	m  map[string]string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kv PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp4", ":"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "listening on 0.0.0.0:%d\n", ln.Addr().(*net.TCPAddr).Port)
	s := &store{m: map[string]string{}}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		s.mu.Lock()
		fmt.Fprintf(os.Stderr, "stop: %d keys\n", len(s.m))
		os.Exit(0)
	}()

	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			fmt.Fprintln(os.Stderr, "accept:", err)
			continue
		}
		s.mu.Lock()
		fmt.Printf("new conn %s\n", c.RemoteAddr())
		s.mu.Unlock()
		go s.serve(c)
	}
}

// serve answers every line of c until its end; a line of maxLine bytes without a newline
// is refused and ends the connection.
func (s *store) serve(c net.Conn) {
	defer c.Close()
	peer := c.RemoteAddr().String()
	r := bufio.NewReaderSize(c, maxLine)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.reply(c, peer, "?", "ERROR line too long")
			return
		}
		if err != nil {
			return // end of stream, or a reset: a partial line is dropped
		}
		if !s.request(c, peer, line[:len(line)-1]) {
			return
		}
	}
}

// request answers one line (without its newline); false when the reply could not be sent.
func (s *store) request(c net.Conn, peer string, line []byte) bool {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if bytes.IndexByte(line, 0) >= 0 {
		return s.reply(c, peer, "?", "ERROR bad request")
	}
	cmd, rest, _ := bytes.Cut(line, []byte(" "))
	switch string(cmd) {
	case "SET", "GET", "DEL":
	default:
		return s.reply(c, peer, "?", "ERROR unknown command")
	}
	key, value, hasValue := bytes.Cut(rest, []byte(" "))
	if len(key) == 0 || len(key) > maxKey || (hasValue && string(cmd) != "SET") {
		return s.reply(c, peer, string(cmd), "ERROR bad key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, found := s.m[string(key)]
	switch string(cmd) {
	case "GET":
		if !found {
			return s.replyLocked(c, peer, "GET", "NOT_FOUND")
		}
		return s.replyLocked(c, peer, "GET", "VALUE "+v)
	case "DEL":
		if !found {
			return s.replyLocked(c, peer, "DEL", "NOT_FOUND")
		}
		delete(s.m, string(key))
		return s.replyLocked(c, peer, "DEL", "DELETED")
	}
	switch {
	case !hasValue:
		return s.replyLocked(c, peer, "SET", "ERROR bad request")
	case len(value) > maxValue:
		return s.replyLocked(c, peer, "SET", "ERROR value too long")
	case !found && len(s.m) == maxKeys:
		return s.replyLocked(c, peer, "SET", "ERROR store full")
	}
	s.m[string(key)] = string(value)
	return s.replyLocked(c, peer, "SET", "OK")
}

func (s *store) reply(c net.Conn, peer, cmd, text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replyLocked(c, peer, cmd, text)
}

// replyLocked logs the request's outcome (the reply's first word), then sends the reply.
func (s *store) replyLocked(c net.Conn, peer, cmd, text string) bool {
	word, _, _ := bytes.Cut([]byte(text), []byte(" "))
	fmt.Printf("%s: %s -> %s\n", peer, cmd, word)
	_, err := c.Write([]byte(text + "\n"))
	return err == nil
}
