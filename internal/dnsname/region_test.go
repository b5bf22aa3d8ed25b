package dnsname

import "testing"

// TestRegionCode covers every region AWS has today. The codes marked "seen"
// appear in real ElastiCache endpoint names (…0001.<code>.cache.amazonaws.com);
// the others follow the same rule.
func TestRegionCode(t *testing.T) {
	tests := []struct{ region, want string }{
		{"us-east-1", "use1"}, // seen
		{"us-east-2", "use2"},
		{"us-west-1", "usw1"},
		{"us-west-2", "usw2"},
		{"af-south-1", "afs1"}, // seen
		{"ap-east-1", "ape1"},  // seen
		{"ap-east-2", "ape2"},
		{"ap-south-1", "aps1"},
		{"ap-south-2", "aps2"},
		{"ap-southeast-1", "apse1"},
		{"ap-southeast-2", "apse2"}, // seen
		{"ap-southeast-3", "apse3"}, // seen
		{"ap-southeast-4", "apse4"},
		{"ap-southeast-5", "apse5"},
		{"ap-southeast-6", "apse6"},
		{"ap-southeast-7", "apse7"},
		{"ap-northeast-1", "apne1"}, // seen
		{"ap-northeast-2", "apne2"},
		{"ap-northeast-3", "apne3"},
		{"ca-central-1", "cac1"}, // seen
		{"ca-west-1", "caw1"},    // seen
		{"eu-central-1", "euc1"}, // seen
		{"eu-central-2", "euc2"},
		{"eu-west-1", "euw1"}, // seen
		{"eu-west-2", "euw2"},
		{"eu-west-3", "euw3"},
		{"eu-south-1", "eus1"},
		{"eu-south-2", "eus2"},   // seen
		{"eu-north-1", "eun1"},   // seen
		{"il-central-1", "ilc1"}, // seen
		{"me-south-1", "mes1"},   // seen
		{"me-central-1", "mec1"}, // seen
		{"mx-central-1", "mxc1"},
		{"sa-east-1", "sae1"},
		{"cn-north-1", "cnn1"},     // seen (cache.amazonaws.com.cn)
		{"cn-northwest-1", "cnw1"}, // seen: the exception
		{"us-gov-west-1", "usgw1"}, // seen
		{"us-gov-east-1", "usge1"},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			got, err := RegionCode(tt.region)
			if err != nil || got != tt.want {
				t.Errorf("RegionCode(%q) = %q, %v; want %q", tt.region, got, err, tt.want)
			}
		})
	}
}

func TestRegionCodeRejects(t *testing.T) {
	for _, region := range []string{"", "us", "us-east", "useast1", "us-east-1a", "us-up-1", "US-EAST-1", "us-east-x", "us-gov-1", "us-east-1-2", "a-east-1", "us-east-123"} {
		if got, err := RegionCode(region); err == nil {
			t.Errorf("RegionCode(%q) = %q, nil; want an error", region, got)
		}
	}
}

func TestInstanceNames(t *testing.T) {
	tests := []struct{ region, ip, domain, name string }{
		{"us-east-1", "10.0.1.5", "ec2.internal", "ip-10-0-1-5.ec2.internal"},
		{"us-west-2", "10.0.1.5", "us-west-2.compute.internal", "ip-10-0-1-5.us-west-2.compute.internal"},
		{"eu-west-1", "172.31.16.61", "eu-west-1.compute.internal", "ip-172-31-16-61.eu-west-1.compute.internal"},
		{"cn-north-1", "172.31.0.9", "cn-north-1.compute.internal", "ip-172-31-0-9.cn-north-1.compute.internal"},
	}
	for _, tt := range tests {
		if got := InstanceDomain(tt.region); got != tt.domain {
			t.Errorf("InstanceDomain(%q) = %q, want %q", tt.region, got, tt.domain)
		}
		if got := PrivateDNSName(tt.region, tt.ip); got != tt.name {
			t.Errorf("PrivateDNSName(%q, %q) = %q, want %q", tt.region, tt.ip, got, tt.name)
		}
	}
}

func TestAWSDomain(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1": "cache.amazonaws.com", "us-gov-west-1": "cache.amazonaws.com",
		"cn-north-1": "cache.amazonaws.com.cn", "cn-northwest-1": "cache.amazonaws.com.cn",
	} {
		if got := AWSDomain(region); got != want {
			t.Errorf("AWSDomain(%q) = %q, want %q", region, got, want)
		}
	}
}

// Every region of Regions has a short code, so that every region the
// endpoint accepts can name its cache endpoints.
func TestRegionsHaveCodes(t *testing.T) {
	got := Regions()
	if len(got) < 38 {
		t.Fatalf("Regions() has %d regions, want every commercial, China and GovCloud region (38 or more)", len(got))
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r] {
			t.Errorf("Regions() lists %s twice", r)
		}
		seen[r] = true
		if _, err := RegionCode(r); err != nil {
			t.Errorf("RegionCode(%q): %v", r, err)
		}
	}
	for _, r := range []string{"us-east-1", "cn-north-1", "us-gov-west-1", "ap-southeast-7"} {
		if !seen[r] {
			t.Errorf("Regions() lacks %s", r)
		}
	}
	got[0] = "changed"
	if Regions()[0] == "changed" {
		t.Error("Regions() returns its own array: callers can change it")
	}
}
