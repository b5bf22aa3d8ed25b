package ec2

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Instance types: a built-in catalogue of the families users pick (the
// burstable t2/t3/t3a/t4g, general purpose m5/m6i/m6g/m7g/m7i, compute
// c5/c6i/c6g/c7g, memory r5/r6i/r6g, and the previous-generation m1.small,
// RunInstances' default), with the vCPUs, memory, architectures and flags
// DescribeInstanceTypes reports. Every type is offered in every zone of
// every region. Cachalot instances are records and namespaces, so the
// figures only describe; nothing is sized by them.

// itype is one instance type of the catalogue.
type itype struct {
	name      string
	vcpus     int32
	memMiB    int64
	archs     []string
	burstable bool
	nitro     bool
	current   bool
	freeTier  bool
	maker     string // Intel, AMD, AWS
	ghz       float64
	netPerf   string
	maxENIs   int32
	ipsPerENI int32
}

func (t *itype) family() string { f, _, _ := strings.Cut(t.name, "."); return f }

// sizeVCPUs are the vCPUs of the sizes of the non-burstable families.
var sizeVCPUs = []struct {
	size  string
	vcpus int32
}{{"medium", 1}, {"large", 2}, {"xlarge", 4}, {"2xlarge", 8}, {"4xlarge", 16}, {"8xlarge", 32}, {"9xlarge", 36},
	{"12xlarge", 48}, {"16xlarge", 64}, {"18xlarge", 72}, {"24xlarge", 96}, {"32xlarge", 128}}

// burstSizes are the sizes of t3/t3a/t4g (vCPUs, MiB); t2 differs in vCPUs
// below medium.
var burstSizes = []struct {
	size   string
	vcpus  int32
	memMiB int64
}{{"nano", 2, 512}, {"micro", 2, 1024}, {"small", 2, 2048}, {"medium", 2, 4096}, {"large", 2, 8192}, {"xlarge", 4, 16384}, {"2xlarge", 8, 32768}}

// families: name, GiB per vCPU, architecture, maker, clock, sizes offered.
var families = []struct {
	name       string
	gibPerVCPU int64
	arch       string
	maker      string
	ghz        float64
	sizes      string // space-separated
}{
	{"m5", 4, "x86_64", "Intel", 3.1, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"},
	{"m6i", 4, "x86_64", "Intel", 3.5, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge"},
	{"m7i", 4, "x86_64", "Intel", 3.2, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"},
	{"m6g", 4, "arm64", "AWS", 2.5, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"},
	{"m7g", 4, "arm64", "AWS", 2.6, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"},
	{"c5", 2, "x86_64", "Intel", 3.4, "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge"},
	{"c6i", 2, "x86_64", "Intel", 3.5, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge"},
	{"c6g", 2, "arm64", "AWS", 2.5, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"},
	{"c7g", 2, "arm64", "AWS", 2.6, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"},
	{"r5", 8, "x86_64", "Intel", 3.1, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"},
	{"r6i", 8, "x86_64", "Intel", 3.5, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge"},
	{"r6g", 8, "arm64", "AWS", 2.5, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"},
}

// catalogue is the sorted list of instance types, built once (it is
// constant data, not state).
var catalogue = buildCatalogue()

func buildCatalogue() []*itype {
	var out []*itype
	for _, fam := range []struct{ name, maker string }{{"t2", "Intel"}, {"t3", "Intel"}, {"t3a", "AMD"}, {"t4g", "AWS"}} {
		for _, sz := range burstSizes {
			t := &itype{name: fam.name + "." + sz.size, vcpus: sz.vcpus, memMiB: sz.memMiB, archs: []string{"x86_64"}, burstable: true,
				nitro: true, current: true, maker: fam.maker, ghz: 2.5, netPerf: "Up to 5 Gigabit"}
			switch fam.name {
			case "t2":
				t.nitro, t.ghz, t.netPerf = false, 2.4, "Low to Moderate"
				t.vcpus = map[string]int32{"nano": 1, "micro": 1, "small": 1}[sz.size]
				if t.vcpus == 0 {
					t.vcpus = sz.vcpus
				}
				if t.vcpus == 1 || sz.size == "medium" {
					t.archs = []string{"i386", "x86_64"} // 32-bit up to t2.medium
				}
			case "t4g":
				t.archs = []string{"arm64"}
			}
			t.freeTier = sz.size == "micro" && (fam.name == "t2" || fam.name == "t3")
			t.maxENIs, t.ipsPerENI = eniLimits(t.vcpus, t.memMiB)
			out = append(out, t)
		}
	}
	for _, fam := range families {
		for _, size := range strings.Fields(fam.sizes) {
			var v int32
			for _, sv := range sizeVCPUs {
				if sv.size == size {
					v = sv.vcpus
				}
			}
			t := &itype{name: fam.name + "." + size, vcpus: v, memMiB: int64(v) * fam.gibPerVCPU * 1024, archs: []string{fam.arch},
				nitro: true, current: true, maker: fam.maker, ghz: fam.ghz, netPerf: netPerf(v)}
			t.maxENIs, t.ipsPerENI = eniLimits(t.vcpus, t.memMiB)
			out = append(out, t)
		}
	}
	out = append(out, &itype{name: "m1.small", vcpus: 1, memMiB: 1740, archs: []string{"i386", "x86_64"}, maker: "Intel", ghz: 2.0,
		netPerf: "Low", maxENIs: 2, ipsPerENI: 4})
	slices.SortFunc(out, func(a, b *itype) int { return strings.Compare(a.name, b.name) })
	return out
}

// netPerf is the network performance AWS words for a size.
func netPerf(vcpus int32) string {
	switch {
	case vcpus <= 8:
		return "Up to 10 Gigabit"
	case vcpus <= 16:
		return "Up to 12.5 Gigabit"
	case vcpus <= 48:
		return "12.5 Gigabit"
	}
	return "25 Gigabit"
}

// eniLimits are the interfaces and IPv4 addresses per interface of a size.
func eniLimits(vcpus int32, memMiB int64) (int32, int32) {
	switch {
	case memMiB <= 1024:
		return 2, 2
	case vcpus <= 2 && memMiB <= 4096:
		return 3, 6
	case vcpus <= 2:
		return 3, 12
	case vcpus <= 4:
		return 4, 15
	case vcpus <= 16:
		return 4, 15
	}
	return 8, 30
}

// findType returns the catalogue's type named name, or nil.
func findType(name string) *itype {
	i, ok := slices.BinarySearchFunc(catalogue, name, func(t *itype, n string) int { return strings.Compare(t.name, n) })
	if !ok {
		return nil
	}
	return catalogue[i]
}

// validInstanceType answers RunInstances' error for a type not in the catalogue.
func validInstanceType(name string) error {
	if findType(name) == nil {
		return awserr.InvalidParameterValue("Invalid value '%s' for InstanceType.", name)
	}
	return nil
}

// threads is the default threads per core: 1 on Graviton and 1-vCPU sizes.
func (t *itype) threads() int32 {
	if t.maker == "AWS" || t.vcpus == 1 {
		return 1
	}
	return 2
}

func (t *itype) info() ec2api.InstanceTypeInfo {
	hyp, ena, nvme, ebsOpt, boot := "nitro", "required", "required", "default", []string{"legacy-bios", "uefi"}
	if !t.nitro {
		hyp, ena, nvme, ebsOpt = "xen", "unsupported", "unsupported", "unsupported"
		boot = []string{"legacy-bios"}
	}
	if slices.Contains(t.archs, "arm64") {
		boot = []string{"uefi"}
	}
	threads := t.threads()
	usage := []string{"on-demand", "spot"}
	return ec2api.InstanceTypeInfo{
		AutoRecoverySupported: ptr(true), BareMetal: ptr(false), BurstablePerformanceSupported: ptr(t.burstable),
		CurrentGeneration: ptr(t.current), DedicatedHostsSupported: ptr(!t.burstable && t.current), FreeTierEligible: ptr(t.freeTier),
		HibernationSupported: ptr(t.maker != "AWS"), Hypervisor: ptr(hyp), InstanceStorageSupported: ptr(false),
		InstanceType: ptr(t.name), MemoryInfo: &ec2api.MemoryInfo{SizeInMiB: ptr(t.memMiB)},
		EbsInfo: &ec2api.EbsInfo{EbsOptimizedSupport: ptr(ebsOpt), EncryptionSupport: ptr("supported"), NvmeSupport: ptr(nvme)},
		NetworkInfo: &ec2api.NetworkInfo{NetworkPerformance: ptr(t.netPerf), MaximumNetworkInterfaces: ptr(t.maxENIs),
			Ipv4AddressesPerInterface: ptr(t.ipsPerENI), Ipv6AddressesPerInterface: ptr(t.ipsPerENI), Ipv6Supported: ptr(t.nitro),
			EnaSupport: ptr(ena), EfaSupported: ptr(false), MaximumNetworkCards: ptr(int32(1)), DefaultNetworkCardIndex: ptr(int32(0)),
			EncryptionInTransitSupported: ptr(false), EnaSrdSupported: ptr(false)},
		PlacementGroupInfo: &ec2api.PlacementGroupInfo{SupportedStrategies: []string{"partition", "spread"}},
		ProcessorInfo: &ec2api.ProcessorInfo{SupportedArchitectures: slices.Clone(t.archs), SustainedClockSpeedInGhz: ptr(t.ghz),
			Manufacturer: ptr(t.maker)},
		SupportedBootModes: boot, SupportedRootDeviceTypes: []string{"ebs"}, SupportedUsageClasses: usage,
		SupportedVirtualizationTypes: []string{"hvm"},
		VCpuInfo:                     &ec2api.VCpuInfo{DefaultVCpus: ptr(t.vcpus), DefaultCores: ptr(t.vcpus / threads), DefaultThreadsPerCore: ptr(threads)},
	}
}

func boolS(b bool) []string { return boolStr(b) }

func i32s(v int32) []string { return []string{itoa(v)} }

var instanceTypeFilters = filterSet[*itype]{fields: map[string]func(*itype) []string{
	"auto-recovery-supported":                   func(t *itype) []string { return boolS(true) },
	"bare-metal":                                func(t *itype) []string { return boolS(false) },
	"burstable-performance-supported":           func(t *itype) []string { return boolS(t.burstable) },
	"current-generation":                        func(t *itype) []string { return boolS(t.current) },
	"dedicated-hosts-supported":                 func(t *itype) []string { return boolS(!t.burstable && t.current) },
	"ebs-info.ebs-optimized-support":            func(t *itype) []string { return one(*t.info().EbsInfo.EbsOptimizedSupport) },
	"ebs-info.encryption-support":               func(t *itype) []string { return one("supported") },
	"ebs-info.nvme-support":                     func(t *itype) []string { return one(*t.info().EbsInfo.NvmeSupport) },
	"free-tier-eligible":                        func(t *itype) []string { return boolS(t.freeTier) },
	"hibernation-supported":                     func(t *itype) []string { return boolS(t.maker != "AWS") },
	"hypervisor":                                func(t *itype) []string { return one(*t.info().Hypervisor) },
	"instance-storage-supported":                func(t *itype) []string { return boolS(false) },
	"instance-type":                             func(t *itype) []string { return one(t.name) },
	"memory-info.size-in-mib":                   func(t *itype) []string { return one(strconv.FormatInt(t.memMiB, 10)) },
	"network-info.efa-supported":                func(t *itype) []string { return boolS(false) },
	"network-info.ena-support":                  func(t *itype) []string { return one(*t.info().NetworkInfo.EnaSupport) },
	"network-info.ipv4-addresses-per-interface": func(t *itype) []string { return i32s(t.ipsPerENI) },
	"network-info.ipv6-addresses-per-interface": func(t *itype) []string { return i32s(t.ipsPerENI) },
	"network-info.ipv6-supported":               func(t *itype) []string { return boolS(t.nitro) },
	"network-info.maximum-network-interfaces":   func(t *itype) []string { return i32s(t.maxENIs) },
	"network-info.network-performance":          func(t *itype) []string { return one(t.netPerf) },
	"processor-info.manufacturer":               func(t *itype) []string { return one(t.maker) },
	"processor-info.supported-architecture":     func(t *itype) []string { return t.archs },
	"processor-info.sustained-clock-speed-in-ghz": func(t *itype) []string {
		return one(strconv.FormatFloat(t.ghz, 'f', -1, 64))
	},
	"supported-boot-mode":                          func(t *itype) []string { return t.info().SupportedBootModes },
	"supported-root-device-type":                   func(t *itype) []string { return one("ebs") },
	"supported-usage-class":                        func(t *itype) []string { return []string{"on-demand", "spot"} },
	"supported-virtualization-type":                func(t *itype) []string { return one("hvm") },
	"vcpu-info.default-cores":                      func(t *itype) []string { return i32s(t.vcpus / t.threads()) },
	"vcpu-info.default-threads-per-core":           func(t *itype) []string { return i32s(t.threads()) },
	"vcpu-info.default-vcpus":                      func(t *itype) []string { return i32s(t.vcpus) },
	"processor-info.supported-features":            func(t *itype) []string { return nil },
	"nitro-enclaves-support":                       func(t *itype) []string { return one("unsupported") },
	"nitro-tpm-support":                            func(t *itype) []string { return one("unsupported") },
	"instance-storage-info.disk.type":              func(t *itype) []string { return nil },
	"network-info.encryption-in-transit-supported": func(t *itype) []string { return boolS(false) },
}}

// DescribeInstanceTypes implements ec2api.Operations: the catalogue,
// filtered and paged (5 to 100 per page, 100 by default) as AWS does.
func (s *Service) DescribeInstanceTypes(ctx context.Context, in *ec2api.DescribeInstanceTypesRequest) (*ec2api.DescribeInstanceTypesResult, error) {
	if err := validScope(scopeOf(ctx)); err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	items := catalogue
	if len(in.InstanceTypes) > 0 {
		items = nil
		var missing []string
		for _, n := range in.InstanceTypes {
			if t := findType(n); t != nil {
				if !slices.Contains(items, t) {
					items = append(items, t)
				}
			} else {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return nil, errInvalidInstanceType(missing)
		}
		slices.SortFunc(items, func(a, b *itype) int { return strings.Compare(a.name, b.name) })
	}
	items, err := filterItems(instanceTypeFilters, in.Filters, items)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(items, func(t *itype) string { return t.name }, cmpPtr(in.MaxResults, 100), in.NextToken, 5, 100)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeInstanceTypesResult{InstanceTypes: make([]ec2api.InstanceTypeInfo, 0, len(page)), NextToken: next}
	for _, t := range page {
		out.InstanceTypes = append(out.InstanceTypes, t.info())
	}
	return out, nil
}

// cmpPtr returns p, or a pointer to def when p is nil.
func cmpPtr(p *int32, def int32) *int32 {
	if p == nil {
		return &def
	}
	return p
}

// offering is one (type, location) pair of DescribeInstanceTypeOfferings.
type offering struct{ typ, loc, locType string }

var offeringFilters = filterSet[offering]{fields: map[string]func(offering) []string{
	"instance-type": func(o offering) []string { return one(o.typ) },
	"location":      func(o offering) []string { return one(o.loc) },
}}

// DescribeInstanceTypeOfferings implements ec2api.Operations: every type
// of the catalogue in the region, or in each of its zones (by name or id).
func (s *Service) DescribeInstanceTypeOfferings(ctx context.Context, in *ec2api.DescribeInstanceTypeOfferingsRequest) (*ec2api.DescribeInstanceTypeOfferingsResult, error) {
	sc := scopeOf(ctx)
	if err := validScope(sc); err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	lt := str(in.LocationType)
	var locs []string
	switch lt {
	case "", "region":
		lt, locs = "region", []string{sc.Region}
	case "availability-zone":
		locs = zones(sc.Region)
	case "availability-zone-id":
		for _, z := range zones(sc.Region) {
			locs = append(locs, zoneID(z))
		}
	default:
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter locationType is invalid. Valid values are region, availability-zone, availability-zone-id, outpost.", lt)
	}
	var items []offering
	for _, t := range catalogue {
		for _, l := range locs {
			items = append(items, offering{typ: t.name, loc: l, locType: lt})
		}
	}
	items, err := filterItems(offeringFilters, in.Filters, items)
	if err != nil {
		return nil, err
	}
	key := func(o offering) string { return o.typ + "\x00" + o.loc }
	page, next, err := paginate(items, key, cmpPtr(in.MaxResults, 1000), in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeInstanceTypeOfferingsResult{InstanceTypeOfferings: make([]ec2api.InstanceTypeOffering, 0, len(page)), NextToken: next}
	for _, o := range page {
		out.InstanceTypeOfferings = append(out.InstanceTypeOfferings, ec2api.InstanceTypeOffering{InstanceType: ptr(o.typ),
			Location: ptr(o.loc), LocationType: ptr(o.locType)})
	}
	return out, nil
}
