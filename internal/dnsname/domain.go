package dnsname

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultDomain is the domain of endpoint names unless serve --dns-domain
// says otherwise, as on AWS outside China.
const DefaultDomain = "cache.amazonaws.com"

// maxNameLen is the longest DNS name in presentation form without the
// trailing dot (RFC 1035's 255 octets on the wire).
const maxNameLen = 253

// ValidateDomain reports whether d can be the endpoint domain: a DNS name
// of at least two labels, in lowercase, without a trailing dot, each label
// 1-63 letters, digits or hyphens not starting or ending with a hyphen, a
// top-level label that is not all digits (so no IP address passes), short
// enough to leave room for the endpoint labels in front of it, and not
// inside the EC2 private DNS domains (.internal), whose names it would
// shadow. The error says what is wrong in words a user of the flag can act
// on.
func ValidateDomain(d string) error {
	bad := func(why string) error { return fmt.Errorf("dns domain %q: %s", d, why) }
	switch {
	case d == "":
		return errors.New("dns domain is empty")
	case strings.HasSuffix(d, "."):
		return bad("must not end with a dot (write " + strings.TrimRight(d, ".") + ")")
	case strings.ToLower(d) != d:
		return bad("must be lowercase (write " + strings.ToLower(d) + ")")
	case len(d) > maxDomainLen:
		return bad(fmt.Sprintf("is %d characters long; at most %d leave room for endpoint names", len(d), maxDomainLen))
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return bad("needs at least two labels, like cache.example")
	}
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return bad(err.Error())
		}
	}
	if isAllDigits(labels[len(labels)-1]) {
		return bad("top-level label is all digits (an IP address is not a domain)")
	}
	if labels[len(labels)-1] == "internal" {
		return bad("is under .internal, where EC2 private DNS names live")
	}
	return nil
}

// maxDomainLen bounds the domain so that the longest endpoint name still fits
// in maxNameLen: a 40-character replication group id and a 50-character
// member id ("<member>.<rg>.<id6>.<rc>.") plus a region code take about 110.
const maxDomainLen = 128

// checkLabel reports whether l is a valid lowercase DNS label (RFC 1123).
func checkLabel(l string) error {
	switch {
	case l == "":
		return errors.New("has an empty label (two dots in a row, or a leading dot)")
	case len(l) > 63:
		return fmt.Errorf("label %q is longer than 63 characters", l)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("label %q has %q: only letters, digits and hyphens are allowed", l, c)
		}
	}
	return nil
}

// ValidName reports whether name is a valid lowercase DNS name without a
// trailing dot: the form every name this package builds has.
func ValidName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("name %q: length %d not in 1..%d", name, len(name), maxNameLen)
	}
	for _, l := range strings.Split(name, ".") {
		if err := checkLabel(l); err != nil {
			return fmt.Errorf("name %q: %w", name, err)
		}
	}
	return nil
}

func isAllDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
