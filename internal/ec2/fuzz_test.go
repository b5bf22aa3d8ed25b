package ec2

import (
	"context"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// fuzzDescribes are the operations FuzzFilters calls, with the filter
// names each accepts (tag filters aside).
func fuzzDescribes() map[string][]string {
	return map[string][]string{
		"DescribeVpcs":                  slices.Sorted(maps.Keys(vpcFilters.fields)),
		"DescribeSubnets":               slices.Sorted(maps.Keys(subnetFilters.fields)),
		"DescribeSecurityGroups":        slices.Sorted(maps.Keys(groupFilters.fields)),
		"DescribeSecurityGroupRules":    slices.Sorted(maps.Keys(ruleFilters.fields)),
		"DescribeInstances":             slices.Sorted(maps.Keys(instanceFilters.fields)),
		"DescribeNetworkInterfaces":     slices.Sorted(maps.Keys(eniFilters.fields)),
		"DescribeAddresses":             slices.Sorted(maps.Keys(addressFilters.fields)),
		"DescribeInternetGateways":      slices.Sorted(maps.Keys(igwFilters.fields)),
		"DescribeRouteTables":           slices.Sorted(maps.Keys(rtbFilters.fields)),
		"DescribeNetworkAcls":           slices.Sorted(maps.Keys(aclFilters.fields)),
		"DescribeVpcPeeringConnections": slices.Sorted(maps.Keys(pcxFilters.fields)),
		"DescribeTags":                  slices.Sorted(maps.Keys(tagFilters.fields)),
		"DescribeAvailabilityZones":     slices.Sorted(maps.Keys(azFilters.fields)),
		"DescribeRegions":               slices.Sorted(maps.Keys(regionFilters.fields)),
		"DescribeManagedPrefixLists":    slices.Sorted(maps.Keys(plFilters.fields)),
		"DescribePrefixLists":           slices.Sorted(maps.Keys(prefixListFilters.fields)),
		"DescribeDhcpOptions":           slices.Sorted(maps.Keys(doptFilters.fields)),
		"DescribeVpcEndpoints":          slices.Sorted(maps.Keys(vpceFilters.fields)),
		"DescribeVpcEndpointServices":   slices.Sorted(maps.Keys(serviceFilters.fields)),
	}
}

// fuzzFixtures are created before FuzzFilters asks: one of everything the
// Describes list, tagged.
var fuzzFixtures = []string{
	"Action=CreateVpc&CidrBlock=10.1.0.0/16&TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=blue*vpc",
	"Action=CreateSecurityGroup&GroupName=web&GroupDescription=web+servers&TagSpecification.1.ResourceType=security-group&TagSpecification.1.Tag.1.Key=env&TagSpecification.1.Tag.1.Value=prod",
	"Action=AuthorizeSecurityGroupIngress&GroupName=web&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=443&IpPermissions.1.ToPort=443&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0",
	"Action=RunInstances&ImageId=ami-12345678&MinCount=2&MaxCount=2&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=wörker?",
	"Action=AllocateAddress",
	"Action=CreateInternetGateway",
	"Action=CreateRouteTable&VpcId=${vpc}",
	"Action=CreateSubnet&VpcId=${vpc}&CidrBlock=10.1.1.0/24",
	"Action=CreateVpcPeeringConnection&VpcId=${vpc}&PeerVpcId=${default}",
	"Action=CreateManagedPrefixList&PrefixListName=blue*list&AddressFamily=IPv4&MaxEntries=2&Entry.1.Cidr=10.9.0.0/16&TagSpecification.1.ResourceType=prefix-list&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=blue*vpc",
	"Action=CreateDhcpOptions&DhcpConfiguration.1.Key=domain-name&DhcpConfiguration.1.Value.1=worker.example&TagSpecification.1.ResourceType=dhcp-options&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=blue*vpc",
	"Action=CreateVpcEndpoint&VpcId=${vpc}&ServiceName=com.amazonaws.us-east-1.s3&TagSpecification.1.ResourceType=vpc-endpoint&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=blue*vpc",
}

// FuzzFilters calls every Describe with a random filter (any name, any
// pattern), page size and page token, over a model holding one of
// everything: no input may panic or fail other than with a 4xx AWS error.
// It also checks the filter wildcard matcher against an oracle built on
// regexp: * is any run of characters, ? exactly one, \ escapes the next.
// Seeds are in testdata/fuzz/FuzzFilters; `make fuzz` runs it.
func FuzzFilters(f *testing.F) {
	describes := fuzzDescribes()
	ops := slices.Sorted(maps.Keys(describes))
	for i, op := range ops {
		for _, name := range describes[op] {
			f.Add(uint8(i), name, "*", int32(0), "", "x")
		}
		f.Add(uint8(i), "tag:Name", "blue\\*vpc", int32(5), "", "blue*vpc")
		f.Add(uint8(i), "tag-value", "w?rker\\?", int32(1000), "AAAA", "wörker?")
	}
	s, ctx := fuzzService(f)
	table := ec2api.OperationTable(s)
	f.Fuzz(func(t *testing.T, opIndex uint8, name, pattern string, maxResults int32, token, subject string) {
		if utf8.ValidString(pattern) && utf8.ValidString(subject) {
			if got, want := globMatch(pattern, subject), globOracle(pattern).MatchString(subject); got != want {
				t.Fatalf("globMatch(%q, %q) = %v, want %v", pattern, subject, got, want)
			}
		}
		op := table[ops[int(opIndex)%len(ops)]]
		params := url.Values{"Filter.1.Name": {name}, "Filter.1.Value.1": {pattern}, "Filter.1.Value.2": {subject}}
		if maxResults != 0 {
			params.Set("MaxResults", itoa(maxResults))
		}
		if token != "" {
			params.Set("NextToken", token)
		}
		in := op.NewInput()
		if err := awsproto.Decode(ec2api.Metadata, params, in); err != nil {
			checkAWSError(t, op.Name, params, err)
			return
		}
		if _, err := op.Call(ctx, in); err != nil {
			checkAWSError(t, op.Name, params, err)
		}
	})
}

func checkAWSError(t *testing.T, op string, params url.Values, err error) {
	t.Helper()
	e, ok := awserr.As(err)
	if !ok || e.HTTPStatus() >= 500 {
		t.Fatalf("%s %v = %v, want a 4xx AWS error", op, params, err)
	}
}

// globOracle is the regexp equivalent of an EC2 filter value.
func globOracle(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; {
		case c == '*':
			b.WriteString(`.*`)
		case c == '?':
			b.WriteString(`.`)
		case c == '\\' && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

// fuzzService is an EC2 on a store on tmpfs when there is one, holding
// fuzzFixtures in account acctA.
func fuzzService(f *testing.F) (*Service, context.Context) {
	dir := f.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "cachalot-fuzz-ec2-")
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	st, err := store.OpenBolt(filepath.Join(dir, "state.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	s := New(st, Config{})
	ctx := ctxFor(acctA)
	table := ec2api.OperationTable(s)
	ids := map[string]string{}
	vpcs, err := s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{})
	if err != nil {
		f.Fatal(err)
	}
	ids["default"] = *vpcs.Vpcs[0].VpcId
	for _, q := range fuzzFixtures {
		for k, v := range ids {
			q = strings.ReplaceAll(q, "${"+k+"}", v)
		}
		params, err := url.ParseQuery(q)
		if err != nil {
			f.Fatal(err)
		}
		op := table[params.Get("Action")]
		in := op.NewInput()
		if err := awsproto.Decode(ec2api.Metadata, params, in); err != nil {
			f.Fatalf("%s: %v", q, err)
		}
		out, err := op.Call(ctx, in)
		if err != nil {
			f.Fatalf("%s: %v", q, err)
		}
		if v, ok := out.(*ec2api.CreateVpcResult); ok {
			ids["vpc"] = *v.Vpc.VpcId
		}
	}
	return s, ctx
}
