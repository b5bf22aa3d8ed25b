package vpcnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// HostPortPrefix is where the loopback mode keeps host ports:
// HostPortKey(interfaceID, port) holds a HostPortRecord. The keys are this
// controller's own; no domain record holds a host port.
const HostPortPrefix = "vpcnet/hostport/"

// HostPortKey is the key of the host port standing for port of an interface.
func HostPortKey(interfaceID string, port int) string {
	return HostPortPrefix + interfaceID + "/" + strconv.Itoa(port)
}

// HostPortRecord is the value at a HostPortKey (JSON).
type HostPortRecord struct {
	HostPort int `json:"HostPort"`
}

// KeepHostPort records, inside tx, that the server of the interface
// listening on port binds 127.0.0.1:hostPort in the loopback mode. It is
// for a store migration moving host ports out of older records; Bind is the
// ordinary way to get one.
func KeepHostPort(tx store.Tx, interfaceID string, port, hostPort int) error {
	return store.PutJSON(tx, HostPortKey(interfaceID, port), &HostPortRecord{HostPort: hostPort})
}

// Bind returns where a server of the interface listening on port binds: ip
// and port themselves in the namespaces mode; in the loopback mode
// 127.0.0.1 and a host port of the interface's own — port itself when it
// is free and kept for no other interface, else one the kernel offers —
// chosen on the first call and kept in the store, so every later call,
// also after a restart, returns the same one until Release.
func (n *Controller) Bind(ctx context.Context, interfaceID, ip string, port int) (bindIP string, bindPort int, err error) {
	if n.plane != nil {
		return ip, port, nil
	}
	if interfaceID == "" {
		return "", 0, errors.New("bind: no interface")
	}
	// One choice at a time: two interfaces never pick the same free port.
	n.portMu.Lock()
	defer n.portMu.Unlock()
	key := HostPortKey(interfaceID, port)
	err = n.st.Update(ctx, func(tx store.Tx) error {
		var rec HostPortRecord
		switch err := store.GetJSON(tx, key, &rec); {
		case err == nil:
			bindPort = rec.HostPort
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		kept, err := keptHostPorts(tx)
		if err != nil {
			return err
		}
		p, err := freeLoopbackPort(port, kept)
		if err != nil {
			return err
		}
		bindPort = p
		return KeepHostPort(tx, interfaceID, port, p)
	})
	if err != nil {
		return "", 0, fmt.Errorf("host port of %s:%d: %w", interfaceID, port, err)
	}
	return "127.0.0.1", bindPort, nil
}

// HostAddr returns where a server of the interface listening on port is
// reached on the host in the loopback mode (the address Bind gave it);
// ok is false in the namespaces mode or when Bind has not given one.
func (n *Controller) HostAddr(interfaceID string, port int) (ip string, hostPort int, ok bool) {
	if n.plane != nil || interfaceID == "" {
		return "", 0, false
	}
	var rec HostPortRecord
	err := n.st.View(context.Background(), func(tx store.Tx) error {
		return store.GetJSON(tx, HostPortKey(interfaceID, port), &rec)
	})
	if err != nil || rec.HostPort == 0 {
		return "", 0, false
	}
	return "127.0.0.1", rec.HostPort, true
}

// Release forgets the host ports of an interface (it was deleted); a later
// Bind chooses new ones.
func (n *Controller) Release(ctx context.Context, interfaceID string) error {
	if interfaceID == "" {
		return nil
	}
	err := n.st.Update(ctx, func(tx store.Tx) error {
		var keys []string
		if err := tx.Scan(HostPortPrefix+interfaceID+"/", func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release host ports of %s: %w", interfaceID, err)
	}
	return nil
}

// keptHostPorts are the host ports given to interfaces.
func keptHostPorts(tx store.Tx) (map[int]bool, error) {
	kept := map[int]bool{}
	err := tx.Scan(HostPortPrefix, func(k string, v []byte) error {
		var rec HostPortRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		kept[rec.HostPort] = true
		return nil
	})
	return kept, err
}

// freeLoopbackPort returns a free 127.0.0.1 port that is not kept for
// another interface (whose server may be stopped just now): want itself if
// so, else one the kernel offers.
func freeLoopbackPort(want int, kept map[int]bool) (int, error) {
	if want > 0 && !kept[want] {
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(want))); err == nil {
			l.Close()
			return want, nil
		}
	}
	for range 16 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a loopback port: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !kept[p] {
			return p, nil
		}
	}
	return 0, errors.New("find a loopback port: every port offered is kept for another interface")
}

// forgetDeleted releases the host ports of interfaces that no longer exist
// (a safety net behind Release). The kept ports are listed before the
// topology is read: an interface is created before it is bound, so one
// bound since is in the topology, or not in the list.
func (n *Controller) forgetDeleted(ctx context.Context) error {
	bound := map[string]bool{}
	if err := n.st.View(ctx, func(tx store.Tx) error {
		return tx.Scan(HostPortPrefix, func(k string, _ []byte) error {
			id, _, _ := strings.Cut(strings.TrimPrefix(k, HostPortPrefix), "/")
			bound[id] = true
			return nil
		})
	}); err != nil || len(bound) == 0 {
		return err
	}
	topo, err := n.ec2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return fmt.Errorf("read topology: %w", err)
	}
	for _, i := range topo.Interfaces {
		delete(bound, i.ID)
	}
	for id := range bound {
		if err := n.Release(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
