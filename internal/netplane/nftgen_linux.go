package netplane

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// nftGeneration returns the nftables ruleset generation of the namespace at
// path: a counter the kernel bumps on every committed nftables transaction
// in that namespace, by anyone. If it still has the value read right after
// our last load, nobody has changed any table there since; that costs one
// netlink round trip instead of listing (and parsing) a large ruleset.
func nftGeneration(path string) (uint32, error) {
	fd, err := openNftSocket(path)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return readGeneration(fd)
}

// generation is nftGeneration for router namespace nsName (inode: of the
// namespace now at path) through a socket kept open there: one netlink
// round trip, no thread entering the namespace.
func (p *Plane) generation(nsName, path string, inode uint64) (uint32, error) {
	g, ok := p.gens[nsName]
	if ok && g.inode != inode {
		g.f.Close()
		delete(p.gens, nsName)
		ok = false
	}
	if !ok {
		fd, err := openNftSocket(path)
		if err != nil {
			return 0, err
		}
		g = genSocket{f: os.NewFile(uintptr(fd), "nftables generation of "+nsName), inode: inode}
		p.gens[nsName] = g
	}
	var gen uint32
	var rerr error
	if err := withRawConn(g.f, func(fd int) { gen, rerr = readGeneration(fd) }); err != nil {
		return 0, err
	}
	if rerr != nil {
		g.f.Close()
		delete(p.gens, nsName)
	}
	return gen, rerr
}

// tableExists reports whether the namespace (as for generation) holds the
// table "inet name".
func (p *Plane) tableExists(nsName, path string, inode uint64, name string) (bool, error) {
	if _, err := p.generation(nsName, path, inode); err != nil { // opens the socket
		return false, err
	}
	var exists bool
	var rerr error
	if err := withRawConn(p.gens[nsName].f, func(fd int) { exists, rerr = readTableExists(fd, name) }); err != nil {
		return false, err
	}
	return exists, rerr
}

// readTableExists asks the kernel, through fd, for the table "inet name".
func readTableExists(fd int, name string) (bool, error) {
	attrLen := unix.NLA_HDRLEN + len(name) + 1
	req := make([]byte, unix.NLMSG_HDRLEN+4+(attrLen+3)&^3)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], uint16(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETTABLE))
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(req[8:], 2) // seq
	req[unix.NLMSG_HDRLEN] = unix.NFPROTO_INET
	req[unix.NLMSG_HDRLEN+1] = unix.NFNETLINK_V0
	a := req[unix.NLMSG_HDRLEN+4:]
	binary.NativeEndian.PutUint16(a[0:], uint16(attrLen))
	binary.NativeEndian.PutUint16(a[2:], unix.NFTA_TABLE_NAME)
	copy(a[unix.NLA_HDRLEN:], name)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return false, fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 16384)
	exists := false
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return false, fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := parseNetlink(buf[:n])
		if err != nil {
			return false, err
		}
		for _, m := range msgs {
			switch m.typ {
			case unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE:
				exists = true
			case unix.NLMSG_ERROR:
				if len(m.data) < 4 {
					return false, fmt.Errorf("nft gettable: short error")
				}
				switch errno := unix.Errno(-int32(binary.NativeEndian.Uint32(m.data))); errno {
				case 0:
					return exists, nil // the ack
				case unix.ENOENT:
					return false, nil
				default:
					return false, fmt.Errorf("nft gettable: %w", errno)
				}
			}
		}
	}
}

// withRawConn runs fn with the descriptor of f.
func withRawConn(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// openNftSocket opens a NETLINK_NETFILTER socket in the namespace at path;
// it stays in that namespace whichever thread uses it.
func openNftSocket(path string) (int, error) {
	fd := -1
	err := inNamespace(path, func() error {
		s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		if err := unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			unix.Close(s)
			return fmt.Errorf("netlink bind: %w", err)
		}
		tv := unix.Timeval{Sec: 5}
		if err := unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(s)
			return fmt.Errorf("netlink timeout: %w", err)
		}
		fd = s
		return nil
	})
	return fd, err
}

// readGeneration asks the kernel for the nftables generation through the
// netlink socket fd (openNftSocket).
func readGeneration(fd int) (uint32, error) {
	// nlmsghdr + nfgenmsg{family AF_UNSPEC, version NFNETLINK_V0, res_id 0}
	req := make([]byte, unix.NLMSG_HDRLEN+4)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], uint16(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETGEN))
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], 1) // seq
	req[unix.NLMSG_HDRLEN+1] = unix.NFNETLINK_V0
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("netlink receive: %w", err)
	}
	msgs, err := parseNetlink(buf[:n])
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		switch m.typ {
		case unix.NLMSG_ERROR:
			if len(m.data) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(m.data)); errno != 0 {
					return 0, fmt.Errorf("nft getgen: %w", unix.Errno(-errno))
				}
			}
		case unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWGEN:
			if len(m.data) < 4 {
				return 0, fmt.Errorf("nft getgen: short message")
			}
			attrs := m.data[4:] // skip nfgenmsg
			for len(attrs) >= 4 {
				l := int(binary.NativeEndian.Uint16(attrs[0:]))
				typ := binary.NativeEndian.Uint16(attrs[2:]) & 0x3fff
				if l < 4 || l > len(attrs) {
					break
				}
				if typ == unix.NFTA_GEN_ID && l >= 8 {
					return binary.BigEndian.Uint32(attrs[4:8]), nil
				}
				attrs = attrs[min((l+3)&^3, len(attrs)):]
			}
		}
	}
	return 0, fmt.Errorf("nft getgen: no generation in reply")
}

type nlMsg struct {
	typ  uint16
	data []byte
}

func parseNetlink(b []byte) ([]nlMsg, error) {
	var out []nlMsg
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return nil, fmt.Errorf("netlink: bad message length %d", l)
		}
		out = append(out, nlMsg{typ: binary.NativeEndian.Uint16(b[4:]), data: b[unix.NLMSG_HDRLEN:l]})
		b = b[min((l+3)&^3, len(b)):]
	}
	return out, nil
}
