package netplane

import (
	"strings"
	"testing"
)

// parseHandles learns the next handle from the objects inside the table,
// not from the table's own handle: a table loaded whole again (replaced)
// gets a new table handle from another counter, while its objects start
// from 1 again. Counting it made every predicted handle one or more too
// high, and a later change deleted the wrong rules (TestKernelStates, seed
// 1796667512664226946: a rule of a group left behind kept a connection
// allowed).
func TestParseHandlesIgnoresTableHandle(t *testing.T) {
	rs := &Ruleset{Table: "x", Chains: []Chain{{Name: "in-eni-0a", Rules: []string{"ip saddr @sg-0default accept", "drop"}}}}
	listing := strings.Split(`table inet x { # handle 40
	set sg-0default { # handle 1
		type ipv4_addr
	}
	chain in-eni-0a { # handle 2
		ip saddr @sg-0default accept # handle 3
		drop # handle 4
	}
}`, "\n")
	h, err := parseHandles(rs, listing)
	if err != nil {
		t.Fatal(err)
	}
	if h.next != 5 {
		t.Errorf("next handle %d, want 5 (the table's own handle 40 counts tables)", h.next)
	}
	if got := h.chains["in-eni-0a"]; len(got) != 2 || got[0].handle != 3 || got[1].handle != 4 {
		t.Errorf("chain handles %+v, want 3 and 4", got)
	}
}
