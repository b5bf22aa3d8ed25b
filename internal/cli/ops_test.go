package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestDataDirGiven(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"explain", "--data-dir", "/d", "--from", "host"}, true},
		{[]string{"env", "-data-dir=/d"}, true},
		{[]string{"status"}, false},
		{[]string{"exec", "--instance", "i-1", "--", "prog", "--data-dir", "x"}, false},
	} {
		if got := dataDirGiven(tc.args); got != tc.want {
			t.Errorf("dataDirGiven(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestNeedsNamespaces(t *testing.T) {
	loopback := errors.New("network of i-1: admin: 400 Bad Request: instance networks: this needs the namespaces network mode (root on Linux)")
	if got := needsNamespaces(loopback).Error(); !strings.Contains(got, "as root on Linux") || !strings.Contains(got, "loopback mode") {
		t.Errorf("needsNamespaces(loopback) = %q, want what exec needs", got)
	}
	other := errors.New("network of i-1: no such instance")
	if got := needsNamespaces(other); got != other {
		t.Errorf("needsNamespaces(other) = %v, want it unchanged", got)
	}
}
