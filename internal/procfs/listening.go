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
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	tcpListen        = 10 // include/net/tcp_states.h: TCP_LISTEN
	nlmsgHdrLen      = 16 // struct nlmsghdr
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgSport = 4  // offset of id.idiag_sport (big-endian) in struct inet_diag_msg
	inetDiagMsgInode = 68 // offset of idiag_inode in struct inet_diag_msg
)

// listener is a listening TCP socket: its port and its inode (socket:[INODE] in /proc).
type listener struct {
	port  int
	inode uint64
}

// listeners are the listening TCP sockets, IPv4 and IPv6, of pid's network namespace:
// from sock_diag when pid shares this process's namespace (and netlink answers), else
// from pid's /proc tcp tables.
func listeners(pid int) []listener {
	if sameNetns(pid) {
		if ls, err := diagListeners(); err == nil {
			return ls
		}
	}
	return tableListeners(fmt.Sprintf("/proc/%d/net/tcp", pid), fmt.Sprintf("/proc/%d/net/tcp6", pid))
}

// tableListeners reads the listening sockets (state 0A) of /proc tcp tables: local
// address "ADDR:PORT" in hex is field 1, the inode field 9.
func tableListeners(tables ...string) []listener {
	var ls []listener
	for _, table := range tables {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			i := strings.LastIndexByte(f[1], ':')
			port, perr := strconv.ParseUint(f[1][i+1:], 16, 16)
			inode, ierr := strconv.ParseUint(f[9], 10, 64)
			if i >= 0 && perr == nil && ierr == nil {
				ls = append(ls, listener{port: int(port), inode: inode})
			}
		}
	}
	return ls
}

// diagListeners lists this network namespace's listening TCP sockets, IPv4 and IPv6, from
// one sock_diag dump per family.
func diagListeners() ([]listener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(time.Second)) // a dump answers at once; bounded all the same
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, os.NewSyscallError("setsockopt", err)
	}
	buf := make([]byte, 32<<10)
	var ls []listener
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
			return nil, os.NewSyscallError("sendto", err)
		}
		if ls, err = readDiagDump(fd, buf, ls); err != nil {
			return nil, err
		}
	}
	return ls, nil
}

// readDiagDump reads one dump to its end and appends its listening sockets to ls.
func readDiagDump(fd int, buf []byte, ls []listener) ([]listener, error) {
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, os.NewSyscallError("recvfrom", err)
		}
		for off := 0; off+nlmsgHdrLen <= n; {
			l := int(binary.NativeEndian.Uint32(buf[off:]))
			typ := binary.NativeEndian.Uint16(buf[off+4:])
			if l < nlmsgHdrLen || off+l > n {
				return nil, fmt.Errorf("sock_diag: malformed message")
			}
			switch typ {
			case unix.NLMSG_DONE:
				return ls, nil
			case unix.NLMSG_ERROR:
				errno := int32(binary.NativeEndian.Uint32(buf[off+nlmsgHdrLen:]))
				return nil, fmt.Errorf("sock_diag: %w", unix.Errno(-errno))
			default:
				msg := buf[off+nlmsgHdrLen : off+l]
				if len(msg) >= inetDiagMsgInode+4 && msg[1] == tcpListen {
					ls = append(ls, listener{
						port:  int(binary.BigEndian.Uint16(msg[inetDiagMsgSport:])),
						inode: uint64(binary.NativeEndian.Uint32(msg[inetDiagMsgInode:])),
					})
				}
			}
			off += (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		}
	}
}

// sameNetns: pid is in this process's network namespace, so that sock_diag sees its
// sockets.
func sameNetns(pid int) bool {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return false
	}
	other, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	return err == nil && other == self
}
