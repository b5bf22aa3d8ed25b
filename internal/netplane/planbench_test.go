package netplane

import (
	"fmt"
	"net/netip"
	"testing"
)

// BenchmarkNewPlan1000: the plan of a VPC with two interfaces and a group
// of 1,000 rules, as BenchmarkRuleChange1000 builds for every change.
func BenchmarkNewPlan1000(b *testing.B) {
	st := State{
		VPCs:    []VPC{{ID: "vpc-0bench", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}}},
		Subnets: []Subnet{{ID: "subnet-0bench", VPC: "vpc-0bench", CIDR: netip.MustParsePrefix("10.0.0.0/16")}},
		Groups:  []SecurityGroup{{ID: "sg-0bench", VPC: "vpc-0bench"}},
	}
	for i := range 2 {
		st.Interfaces = append(st.Interfaces, Interface{ID: fmt.Sprintf("eni-0b%05d", i), Subnet: "subnet-0bench",
			PrivateIP: netip.AddrFrom4([4]byte{10, 0, 1, byte(4 + i)}), Groups: []string{"sg-0bench"}})
	}
	for i := range 1000 {
		st.Groups[0].Ingress = append(st.Groups[0].Ingress, Rule{ID: fmt.Sprintf("sgr-0a%05d", i), Protocol: "tcp", FromPort: 6379, ToPort: 6379,
			CIDRs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i / 250), byte(1 + i%250)}), 32)}})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewPlan("cl", st); err != nil {
			b.Fatal(err)
		}
	}
}
