package netplane

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// nftGeneration returns the nftables ruleset generation of the namespace at
// path: a counter the kernel bumps on every committed nftables transaction
// in that namespace, by anyone. If it still has the value read right after
// our last load, nobody has changed any table there since; that costs one
// netlink round trip instead of listing (and parsing) a large ruleset.
func nftGeneration(path string) (uint32, error) {
	var gen uint32
	err := inNamespace(path, func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("netlink bind: %w", err)
		}
		tv := unix.Timeval{Sec: 5}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return fmt.Errorf("netlink timeout: %w", err)
		}
		// nlmsghdr + nfgenmsg{family AF_UNSPEC, version NFNETLINK_V0, res_id 0}
		req := make([]byte, unix.NLMSG_HDRLEN+4)
		binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
		binary.NativeEndian.PutUint16(req[4:], uint16(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETGEN))
		binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
		binary.NativeEndian.PutUint32(req[8:], 1) // seq
		req[unix.NLMSG_HDRLEN+1] = unix.NFNETLINK_V0
		if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("netlink send: %w", err)
		}
		buf := make([]byte, 4096)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := parseNetlink(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.typ {
			case unix.NLMSG_ERROR:
				if len(m.data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.data)); errno != 0 {
						return fmt.Errorf("nft getgen: %w", unix.Errno(-errno))
					}
				}
			case unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWGEN:
				if len(m.data) < 4 {
					return fmt.Errorf("nft getgen: short message")
				}
				attrs := m.data[4:] // skip nfgenmsg
				for len(attrs) >= 4 {
					l := int(binary.NativeEndian.Uint16(attrs[0:]))
					typ := binary.NativeEndian.Uint16(attrs[2:]) & 0x3fff
					if l < 4 || l > len(attrs) {
						break
					}
					if typ == unix.NFTA_GEN_ID && l >= 8 {
						gen = binary.BigEndian.Uint32(attrs[4:8])
						return nil
					}
					attrs = attrs[min((l+3)&^3, len(attrs)):]
				}
			}
		}
		return fmt.Errorf("nft getgen: no generation in reply")
	})
	return gen, err
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
