// echo.go - echo.c ported with package net: the same log lines in the same order. C's
// select loop does every write, close and log line itself; here one goroutine (the loop)
// does them too, fed by a reader goroutine per connection and the acceptor, so that a
// "closed" line is written before the next event is taken, as in C.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

type event struct {
	c    *client
	data []byte
	err  error
	conn net.Conn // a new connection
}

type client struct {
	conn   net.Conn
	addr   string
	total  int64
	closed bool // C's fd = -1: its reader's last events are not taken
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s PORT\n", os.Args[0])
		os.Exit(2)
	}
	l, err := net.Listen("tcp4", "0.0.0.0:"+os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bind: %v\n", err)
		os.Exit(1)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	events := make(chan event)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				fmt.Fprintf(os.Stderr, "accept: %v\n", err)
				continue
			}
			events <- event{conn: c}
		}
	}()
	for {
		select {
		case <-term:
			fmt.Println("bye")
			os.Exit(0)
		case ev := <-events:
			switch {
			case ev.c != nil && ev.c.closed:
			case ev.conn != nil:
				c := &client{conn: ev.conn, addr: ev.conn.RemoteAddr().String()}
				fmt.Printf("accepted %s\n", c.addr)
				go read(c, events)
			case ev.err != nil:
				why := ""
				if !errors.Is(ev.err, net.ErrClosed) && ev.err.Error() != "EOF" {
					why = strerror(ev.err)
				}
				drop(ev.c, why)
			default:
				ev.c.total += int64(len(ev.data))
				if _, err := ev.c.conn.Write(ev.data); err != nil {
					fmt.Fprintln(os.Stderr, "send: short or failed")
					drop(ev.c, "")
				}
			}
		}
	}
}

// read sends what the connection receives to the loop, and how it ended; it waits for
// the loop to take each piece, as C reads again only after it echoed.
func read(c *client, events chan<- event) {
	for {
		buf := make([]byte, 4096)
		n, err := c.conn.Read(buf)
		if n > 0 {
			events <- event{c: c, data: buf[:n]}
		}
		if err != nil {
			events <- event{c: c, err: err}
			return
		}
	}
}

func drop(c *client, why string) {
	if why != "" {
		fmt.Fprintf(os.Stderr, "recv: %s\n", why)
	}
	c.conn.Close()
	c.closed = true
	fmt.Printf("closed %s after %d bytes\n", c.addr, c.total)
}

// strerror is glibc's text for the error's errno ("Connection reset by peer").
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	s := errno.Error()
	return strings.ToUpper(s[:1]) + s[1:]
}
