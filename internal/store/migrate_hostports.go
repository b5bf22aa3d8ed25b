package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// moveHostPorts is the migration from schema 1 to 2: loopback-mode host
// ports leave the ElastiCache cluster records for the VPC-network
// controller's own keys. A node's HostPort and a cluster's ConfigHostPort
// (the configuration endpoint's) become
//
//	vpcnet/hostport/<interface id>/<cluster port> = {"HostPort": <host port>}
//
// (vpcnet.HostPortKey; internal/app's migration test pins the two layouts
// together, since the store imports nothing of Cachalot's), and the fields
// leave the records, every other field as it was. Records without host
// ports (the namespaces mode) are left byte for byte.
func moveHostPorts(tx Tx) error {
	type move struct {
		key    string
		record []byte
		ports  map[string]int // host port key -> host port
	}
	var moves []move
	err := tx.Scan("elasticache/", func(key string, b []byte) error {
		parts := strings.Split(key, "/")
		if len(parts) != 5 || parts[3] != "cluster" {
			return nil
		}
		record, ports, err := withoutHostPorts(b)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if len(ports) > 0 {
			moves = append(moves, move{key, record, ports})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range moves {
		for k, p := range m.ports {
			if err := PutJSON(tx, k, map[string]int{"HostPort": p}); err != nil {
				return err
			}
		}
		if err := tx.Put(m.key, m.record); err != nil {
			return err
		}
	}
	return nil
}

// withoutHostPorts returns a cluster record without its host ports, and the
// host ports by their new keys (none: the record is returned unchanged).
func withoutHostPorts(b []byte) ([]byte, map[string]int, error) {
	var cl map[string]json.RawMessage
	if err := json.Unmarshal(b, &cl); err != nil {
		return nil, nil, err
	}
	var port int
	var nodes []map[string]json.RawMessage
	if err := unmarshalIf(cl["Port"], &port); err != nil {
		return nil, nil, err
	}
	if err := unmarshalIf(cl["Nodes"], &nodes); err != nil {
		return nil, nil, err
	}
	ports := map[string]int{}
	take := func(rec map[string]json.RawMessage, field, ifaceField string) error {
		var hostPort int
		var iface string
		if err := unmarshalIf(rec[field], &hostPort); err != nil {
			return err
		}
		if err := unmarshalIf(rec[ifaceField], &iface); err != nil {
			return err
		}
		if _, ok := rec[field]; !ok {
			return nil
		}
		delete(rec, field)
		if hostPort != 0 && iface != "" {
			ports["vpcnet/hostport/"+iface+"/"+strconv.Itoa(port)] = hostPort
		}
		return nil
	}
	if err := take(cl, "ConfigHostPort", "ConfigInterfaceID"); err != nil {
		return nil, nil, err
	}
	for _, n := range nodes {
		if err := take(n, "HostPort", "InterfaceID"); err != nil {
			return nil, nil, err
		}
	}
	if len(ports) == 0 {
		return b, nil, nil
	}
	nb, err := json.Marshal(nodes)
	if err != nil {
		return nil, nil, err
	}
	cl["Nodes"] = nb
	out, err := json.Marshal(cl)
	return out, ports, err
}

func unmarshalIf(raw json.RawMessage, v any) error {
	if raw == nil {
		return nil
	}
	return json.Unmarshal(raw, v)
}
