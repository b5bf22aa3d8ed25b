package cli

import (
	"slices"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

func TestParseRegions(t *testing.T) {
	all := dnsname.Regions()
	tests := []struct {
		list    string
		want    []string
		wantErr bool
	}{
		{"aws", all, false},
		{"us-east-1", []string{"us-east-1"}, false},
		{" eu-west-1 , us-east-1,eu-west-1", []string{"eu-west-1", "us-east-1"}, false},
		{"xx-lab-1", nil, true}, // no direction "lab": cache endpoints could not be named
		{"xx-east-9,aws", append([]string{"xx-east-9"}, all...), false},
		{"us-east-1,", nil, true},
		{"US-EAST-1", nil, true},
	}
	for _, tt := range tests {
		got, err := parseRegions(tt.list)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseRegions(%q) = %v, %v; want %v (error %v)", tt.list, got, err, tt.want, tt.wantErr)
		}
	}
}
