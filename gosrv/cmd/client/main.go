//go:build linux

// Command client is the Go twin of csrc/client.c: `client MSG [PORT [HOST]]` sends MSG,
// half-closes, reads the reply (up to 512 bytes or end of stream) and prints
// "echo_msg: REPLY".
package main

import (
	"net/netip"
	"os"

	"github.com/iomodels/iomodels/gosrv"
	"golang.org/x/sys/unix"
)

const servAddr = "127.0.0.1"

func usage() int {
	gosrv.LogLine(2, "usage: client MSG [PORT [HOST]]")
	return 1
}

func fail(what string, err error, sockFd int) int {
	gosrv.LogLine(2, what+" error: "+gosrv.Strerror(err))
	if sockFd >= 0 {
		unix.Close(sockFd)
	}
	return 1
}

// parseIPv4 accepts what inet_pton(AF_INET) accepts: a dotted quad of decimal octets.
func parseIPv4(s string) ([4]byte, bool) {
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is4() {
		return [4]byte{}, false
	}
	return addr.As4(), true
}

func run(args []string) int {
	if len(args) < 2 || len(args) > 4 {
		return usage()
	}
	port := gosrv.DefaultPort
	if len(args) >= 3 {
		if port = gosrv.ParsePort(args[2]); port < 0 {
			arg := args[2]
			if len(arg) > 64 {
				arg = arg[:64]
			}
			gosrv.LogLine(2, `client: bad port "`+arg+`": want a number from 0 to 65535`)
			return usage()
		}
	}
	host := servAddr
	if len(args) == 4 {
		host = args[3]
	}
	ip, ok := parseIPv4(host)
	if !ok {
		gosrv.LogLine(2, "inet_pton_servaddr error: The address format is wrong")
		return 1
	}

	sockFd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail("create_sockfd", err, -1)
	}
	if err := unix.Connect(sockFd, &unix.SockaddrInet4{Port: port, Addr: ip}); err != nil {
		return fail("connect_sockfd", err, sockFd)
	}

	msg := []byte(args[1])
	for len(msg) > 0 {
		var n int
		err := gosrv.IgnoringEINTR(func() (err error) { n, err = unix.SendmsgN(sockFd, msg, nil, nil, unix.MSG_NOSIGNAL); return err })
		if err != nil {
			return fail("send_sockfd", err, sockFd)
		}
		msg = msg[n:]
	}
	// ENOTCONN: a one-shot server that read only the first BufSize bytes has already
	// answered and closed with our unread bytes queued, which sends RST; the answer is
	// still in our receive queue, so read it rather than fail on a race we cannot lose.
	if err := unix.Shutdown(sockFd, unix.SHUT_WR); err != nil && err != unix.ENOTCONN {
		return fail("shutdown_sockfd", err, sockFd)
	}

	var buf [gosrv.BufSize]byte
	nbuf := 0
	for nbuf < len(buf) {
		var n int
		err := gosrv.IgnoringEINTR(func() (err error) { n, _, err = unix.Recvfrom(sockFd, buf[nbuf:], 0); return err })
		if err != nil {
			return fail("recv_sockfd", err, sockFd)
		}
		if n == 0 {
			break
		}
		nbuf += n
	}
	gosrv.LogMsg(1, "echo_msg: ", buf[:nbuf])
	unix.Close(sockFd)
	return 0
}

func main() {
	os.Exit(run(os.Args))
}
