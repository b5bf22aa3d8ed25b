package resolver

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
)

// TTLs of the records the wiring puts in a Table, in seconds.
const (
	// CacheTTL is the TTL of ElastiCache endpoint records. AWS's figure is
	// not documented; it is short because a failover moves the primary
	// endpoint's CNAME, and 5 s is what AWS gives the records that move on
	// a failover elsewhere (RDS and Aurora endpoints).
	CacheTTL = 5
	// InstanceTTL is the TTL of EC2 private DNS names (ip-10-0-1-5…), 60 s
	// as the Amazon-provided DNS server answers them.
	InstanceTTL = 60
	// NegativeTTL is how long a resolver may cache a "no such name" or "no
	// such record" answer (the SOA's TTL and minimum, RFC 2308): as short as
	// CacheTTL, so a cache created after a failed lookup resolves at once.
	NegativeTTL = CacheTTL
)

// Record is one DNS record of a view: an A record (Addr set, IPv4) or a
// CNAME (Target set). Names are DNS names without the trailing dot; case
// does not matter.
type Record struct {
	Name   string
	TTL    uint32
	Addr   netip.Addr // A
	Target string     // CNAME
}

// IsCNAME reports whether r is a CNAME.
func (r Record) IsCNAME() bool { return r.Target != "" }

// Source is one VPC's view of the names its resolver answers for.
type Source interface {
	// Lookup returns the records owned by name (lowercase, without the
	// trailing dot) and the zone holding name: "" when name is in no zone
	// the resolver answers for, which makes it refuse the query. A name
	// inside a zone with no records does not exist (NXDOMAIN), unless it is
	// the zone itself. Lookup is called for every query, concurrently, and
	// must not block.
	Lookup(name string) (records []Record, zone string)
}

// Table is a Source held in memory: Set replaces the whole view atomically
// and the next Lookup sees it. The zero Table serves nothing (every query
// is refused). Safe for concurrent use.
type Table struct {
	view atomic.Pointer[view] // replaced whole by Set; never modified after
}

type view struct {
	zones []string            // longest first, so the innermost zone matches first
	names map[string][]Record // owner name -> records, in the order given
}

// Set replaces the view: the zones the resolver answers for and every
// record in them. It rejects — changing nothing — a zone or name that is
// not a DNS name, a record outside every zone, a record that is neither an
// IPv4 A record nor a CNAME, a CNAME beside any other record of the same
// name (two endpoints that collide), and a record given twice.
func (t *Table) Set(zones []string, records []Record) error {
	v := &view{names: make(map[string][]Record, len(records))}
	for _, z := range zones {
		z = canonical(z)
		if err := checkName(z); err != nil {
			return fmt.Errorf("zone: %w", err)
		}
		v.zones = append(v.zones, z)
	}
	sort.Slice(v.zones, func(i, j int) bool { return len(v.zones[i]) > len(v.zones[j]) })
	for _, r := range records {
		r.Name, r.Target = canonical(r.Name), canonical(r.Target)
		if err := v.add(r); err != nil {
			return err
		}
	}
	t.view.Store(v)
	return nil
}

func (v *view) add(r Record) error {
	if err := checkName(r.Name); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if v.zoneOf(r.Name) == "" {
		return fmt.Errorf("record %s: in none of the zones %v", r.Name, v.zones)
	}
	switch {
	case r.IsCNAME() && r.Addr.IsValid():
		return fmt.Errorf("record %s: both an address and a CNAME target", r.Name)
	case r.IsCNAME():
		if err := checkName(r.Target); err != nil {
			return fmt.Errorf("record %s: CNAME target: %w", r.Name, err)
		}
	case !r.Addr.Is4():
		return fmt.Errorf("record %s: address %v is not IPv4", r.Name, r.Addr)
	}
	for _, o := range v.names[r.Name] {
		if o.IsCNAME() || r.IsCNAME() {
			return fmt.Errorf("record %s: a CNAME cannot share its name with another record (%s)", r.Name, describe(o))
		}
		if o.Addr == r.Addr {
			return fmt.Errorf("record %s: address %v given twice", r.Name, r.Addr)
		}
	}
	v.names[r.Name] = append(v.names[r.Name], r)
	return nil
}

// Lookup implements Source.
func (t *Table) Lookup(name string) ([]Record, string) {
	v := t.view.Load()
	if v == nil {
		return nil, ""
	}
	zone := v.zoneOf(name)
	if zone == "" {
		return nil, ""
	}
	return v.names[name], zone
}

func (v *view) zoneOf(name string) string {
	for _, z := range v.zones {
		if name == z || strings.HasSuffix(name, "."+z) {
			return z
		}
	}
	return ""
}

func describe(r Record) string {
	if r.IsCNAME() {
		return "CNAME " + r.Target
	}
	return "A " + r.Addr.String()
}

// canonical lowercases a name and drops its trailing dot.
func canonical(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

var errBadName = errors.New("not a DNS name")

// checkName reports whether name (canonical) is a DNS name Lookup can be
// asked for: 1-63 character labels of printable ASCII other than dot,
// 253 characters at most.
func checkName(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%w: %q", errBadName, name)
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%w: %q", errBadName, name)
		}
		for i := 0; i < len(l); i++ {
			if l[i] <= ' ' || l[i] > '~' || l[i] == '\\' {
				return fmt.Errorf("%w: %q", errBadName, name)
			}
		}
	}
	return nil
}
