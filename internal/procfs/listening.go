//go:build linux

package procfs

// listening.go - is a port listening? Asked of the kernel through sock_diag (netlink),
// which walks the listening sockets only: /proc/net/tcp lists every TCP socket of the
// namespace, TIME_WAIT included, and a machine that runs load tests holds up to
// net.ipv4.tcp_max_tw_buckets of them (131072 measured: one read of /proc/net/tcp took
// 5.7 s, so a server's start was "not listening within 10s").

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const (
	tcpListen        = 10 // include/net/tcp_states.h: TCP_LISTEN
	nlmsgHdrLen      = 16 // struct nlmsghdr
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgSport = 4  // offset of id.idiag_sport (big-endian) in struct inet_diag_msg
)

// listeningDiag reports whether a TCP socket listens on port, IPv4 or IPv6, from one
// sock_diag dump of the listening sockets per family.
func listeningDiag(port int) (bool, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return false, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(time.Second)) // a dump answers at once; bounded all the same
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return false, os.NewSyscallError("setsockopt", err)
	}
	buf := make([]byte, 32<<10)
	for seq, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := make([]byte, nlmsgHdrLen+inetDiagReqLen)
		binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
		binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
		binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
		binary.NativeEndian.PutUint32(req[8:], uint32(seq+1))
		req[nlmsgHdrLen] = family
		req[nlmsgHdrLen+1] = unix.IPPROTO_TCP
		binary.NativeEndian.PutUint32(req[nlmsgHdrLen+4:], 1<<tcpListen) // idiag_states
		if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return false, os.NewSyscallError("sendto", err)
		}
		found, err := readDiagDump(fd, buf, port)
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}

// readDiagDump reads one dump to its end and says whether a listener on port was in it.
func readDiagDump(fd int, buf []byte, port int) (bool, error) {
	found := false
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, os.NewSyscallError("recvfrom", err)
		}
		for off := 0; off+nlmsgHdrLen <= n; {
			l := int(binary.NativeEndian.Uint32(buf[off:]))
			typ := binary.NativeEndian.Uint16(buf[off+4:])
			if l < nlmsgHdrLen || off+l > n {
				return false, fmt.Errorf("sock_diag: malformed message")
			}
			switch typ {
			case unix.NLMSG_DONE:
				return found, nil
			case unix.NLMSG_ERROR:
				errno := int32(binary.NativeEndian.Uint32(buf[off+nlmsgHdrLen:]))
				return false, fmt.Errorf("sock_diag: %w", unix.Errno(-errno))
			default:
				msg := buf[off+nlmsgHdrLen : off+l]
				if len(msg) >= inetDiagMsgSport+2 && msg[1] == tcpListen &&
					int(binary.BigEndian.Uint16(msg[inetDiagMsgSport:])) == port {
					found = true
				}
			}
			off += (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		}
	}
}
