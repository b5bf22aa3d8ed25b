package dnsname

import (
	"fmt"
	"slices"
	"strings"
)

// awsRegions are the regions of AWS's commercial (aws), China (aws-cn) and
// GovCloud (aws-us-gov) partitions, as the partitions table of the AWS
// SDKs lists them (aws-sdk-go-v2 internal/endpoints/awsrulesfn, v1.47).
// The ISO and European Sovereign Cloud partitions are left out: no public
// SDK configuration reaches them.
var awsRegions = [...]string{
	"af-south-1",
	"ap-east-1", "ap-east-2",
	"ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2",
	"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
	"ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2",
	"eu-north-1",
	"eu-south-1", "eu-south-2",
	"eu-west-1", "eu-west-2", "eu-west-3",
	"il-central-1",
	"me-central-1", "me-south-1",
	"mx-central-1",
	"sa-east-1",
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"cn-north-1", "cn-northwest-1",
	"us-gov-east-1", "us-gov-west-1",
}

// Regions returns every region AWS has in its commercial, China and
// GovCloud partitions (us-east-1 … cn-northwest-1, us-gov-west-1): the
// regions the endpoint accepts in a credential scope unless configured
// otherwise. The caller owns the returned slice.
func Regions() []string { return slices.Clone(awsRegions[:]) }

// directions abbreviates the compass part of a region name, as AWS does in
// region short codes and AZ ids.
var directions = map[string]string{
	"east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
	"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}

// regionCodeExceptions holds the regions whose ElastiCache short code is not
// what the rule in RegionCode derives. ElastiCache names Ningxia's endpoints
// "cnw1" (…0001.cnw1.cache.amazonaws.com.cn), although the rule — and
// Ningxia's AZ ids, cnnw1-az1 — give "cnnw1".
var regionCodeExceptions = map[string]string{
	"cn-northwest-1": "cnw1",
}

// RegionCode returns the short code ElastiCache puts in endpoint names for a
// region: the area prefix, "g" for GovCloud, the initials of the compass
// direction and the number (us-east-1 -> use1, ap-southeast-2 -> apse2,
// eu-central-1 -> euc1, us-gov-west-1 -> usgw1), except for the regions
// tabled in regionCodeExceptions. A region that is not of the form
// area[-gov]-direction-number is an error.
func RegionCode(region string) (string, error) {
	if c, ok := regionCodeExceptions[region]; ok {
		return c, nil
	}
	parts := strings.Split(region, "-")
	if len(parts) == 4 && parts[1] == "gov" {
		parts = []string{parts[0] + "g", parts[2], parts[3]}
	}
	if len(parts) != 3 || !isLetters(parts[0], 2, 3) || !isDigits(parts[2]) {
		return "", fmt.Errorf("region %q: not an AWS region name (like us-east-1)", region)
	}
	dir, ok := directions[parts[1]]
	if !ok {
		return "", fmt.Errorf("region %q: unknown direction %q", region, parts[1])
	}
	return parts[0] + dir + parts[2], nil
}

// InstanceDomain returns the domain of EC2 private DNS names in a region:
// ec2.internal in us-east-1, <region>.compute.internal elsewhere (AWS's
// default DHCP options set gives the same as the search domain).
func InstanceDomain(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

// PrivateDNSName returns an EC2 instance's or interface's IP-based private
// DNS name: ip-10-0-1-5.ec2.internal in us-east-1,
// ip-10-0-1-5.<region>.compute.internal elsewhere. ip is a dotted IPv4
// address.
func PrivateDNSName(region, ip string) string {
	return "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + InstanceDomain(region)
}

// AWSDomain returns the domain AWS itself uses for ElastiCache endpoints in
// a region's partition: cache.amazonaws.com.cn in China, cache.amazonaws.com
// everywhere else. Cachalot's domain is configured (DefaultDomain unless
// serve --dns-domain says otherwise); this is for callers that want the
// partition's own.
func AWSDomain(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return DefaultDomain + ".cn"
	}
	return DefaultDomain
}

func isLetters(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" || len(s) > 2 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
