package iam

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// constraint is a member's length (or value) bounds and pattern as the
// botocore model (api/models/iam.json) states them. The codec does not check
// them; validate does, for the members below, by field name.
type constraint struct {
	min, max int
	pattern  string // as written in the model, shown in the message
	re       *regexp.Regexp
}

// uEscapes finds the model's Java-style \uXXXX escapes, which Go's regexp
// writes \x{XXXX}.
var uEscapes = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)

func rule(min, max int, pattern string) constraint {
	c := constraint{min: min, max: max, pattern: pattern}
	if pattern != "" {
		c.re = regexp.MustCompile(`^(?:` + uEscapes.ReplaceAllString(pattern, `\x{$1}`) + `)$`)
	}
	return c
}

const (
	namePattern = `[\w+=,.@-]+`
	pathPattern = `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`
	docPattern  = `[\u0009\u000A\u000D\u0020-\u00FF]+`
)

// rules is immutable after package initialization (a table, not state).
var rules = map[string]constraint{
	"UserName":                 rule(1, 128, namePattern),
	"NewUserName":              rule(1, 64, namePattern),
	"GroupName":                rule(1, 128, namePattern),
	"NewGroupName":             rule(1, 128, namePattern),
	"RoleName":                 rule(1, 64, namePattern),
	"PolicyName":               rule(1, 128, namePattern),
	"InstanceProfileName":      rule(1, 128, namePattern),
	"VirtualMFADeviceName":     rule(1, 226, namePattern),
	"Path":                     rule(1, 512, pathPattern),
	"NewPath":                  rule(1, 512, pathPattern),
	"PathPrefix":               rule(1, 512, `\u002F[\u0021-\u007F]*`),
	"Marker":                   rule(1, 320, `[\u0020-\u00FF]+`),
	"SerialNumber":             rule(9, 256, `[\w+=/:,.@-]+`),
	"AuthenticationCode1":      rule(6, 6, `[\d]+`),
	"AuthenticationCode2":      rule(6, 6, `[\d]+`),
	"AccessKeyId":              rule(16, 128, `[\w]+`),
	"PolicyArn":                rule(20, 2048, ""),
	"PermissionsBoundary":      rule(20, 2048, ""),
	"PolicyDocument":           rule(1, 131072, docPattern),
	"AssumeRolePolicyDocument": rule(1, 131072, docPattern),
	"VersionId":                rule(0, 0, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`),
	"AWSServiceName":           rule(1, 128, namePattern),
	"CustomSuffix":             rule(1, 64, namePattern),
	"Password":                 rule(1, 128, `[\u0009\u000A\u000D\u0020-\u00FF]+`),
	"PolicySourceArn":          rule(20, 2048, ""),
}

// intRules bound integer members.
var intRules = map[string][2]int{
	"MaxItems":           {1, 1000},
	"MaxSessionDuration": {3600, 43200},
}

// enums restricts string members to a set of values.
var enums = map[string][]string{
	"Status":            {"Active", "Inactive"},
	"Scope":             {"All", "AWS", "Local"},
	"AssignmentStatus":  {"Assigned", "Unassigned", "Any"},
	"EntityFilter":      {"User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"},
	"PolicyUsageFilter": {"PermissionsPolicy", "PermissionsBoundary"},
}

func validationError(value, member, constraint string) error {
	return awserr.New("ValidationError", "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s",
		value, lowerFirst(member), constraint)
}

func lowerFirst(s string) string {
	if s == "" || strings.HasPrefix(s, "AWS") {
		return strings.Replace(s, "AWS", "aWS", 1)
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// validate checks the top-level members of an input shape against the
// model's constraints, reporting the first violation as IAM does.
func validate(in any) error {
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	v = v.Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := v.Field(i)
		name := t.Field(i).Name
		if f.Kind() != reflect.Pointer || f.IsNil() {
			if name == "Tags" && f.Kind() == reflect.Slice {
				if err := validateTags(f.Interface()); err != nil {
					return err
				}
			}
			continue
		}
		e := f.Elem()
		switch e.Kind() {
		case reflect.String:
			s := e.String()
			if c, ok := rules[name]; ok {
				n := len([]rune(s))
				if c.min > 0 && n < c.min {
					return validationError(s, name, fmt.Sprintf("Member must have length greater than or equal to %d", c.min))
				}
				if c.max > 0 && n > c.max {
					return validationError(s, name, fmt.Sprintf("Member must have length less than or equal to %d", c.max))
				}
				if c.re != nil && !c.re.MatchString(s) {
					return validationError(s, name, "Member must satisfy regular expression pattern: "+c.pattern)
				}
			}
			if vals, ok := enums[name]; ok && !slices.Contains(vals, s) {
				return validationError(s, name, "Member must satisfy enum value set: ["+strings.Join(vals, ", ")+"]")
			}
		case reflect.Int32, reflect.Int64:
			if r, ok := intRules[name]; ok {
				n := int(e.Int())
				if n < r[0] {
					return validationError(fmt.Sprint(n), name, fmt.Sprintf("Member must have value greater than or equal to %d", r[0]))
				}
				if n > r[1] {
					return validationError(fmt.Sprint(n), name, fmt.Sprintf("Member must have value less than or equal to %d", r[1]))
				}
			}
		}
	}
	return nil
}

var (
	tagKeyRe   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRe = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

func validateTags(v any) error {
	ts, ok := v.([]iamapi.Tag)
	if !ok {
		return nil
	}
	if len(ts) > 50 {
		return iamapi.ErrLimitExceededException("The number of tags has reached the maximum limit.")
	}
	seen := map[string]bool{}
	for _, t := range ts {
		k, val := str(t.Key), str(t.Value)
		if len(k) < 1 || len(k) > 128 || !tagKeyRe.MatchString(k) {
			return iamapi.ErrInvalidInputException("Tag key '%s' is invalid.", k)
		}
		if len(val) > 256 || !tagValueRe.MatchString(val) {
			return iamapi.ErrInvalidInputException("Tag value '%s' for key '%s' is invalid.", val, k)
		}
		if seen[strings.ToLower(k)] {
			return iamapi.ErrInvalidInputException("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[strings.ToLower(k)] = true
	}
	return nil
}

// tagsIn converts wire tags; merge adds or replaces by key (case-insensitive).
func mergeTags(old []tag, in []iamapi.Tag) []tag {
	out := slices.Clone(old)
	for _, t := range in {
		k, v := str(t.Key), str(t.Value)
		i := slices.IndexFunc(out, func(x tag) bool { return strings.EqualFold(x.Key, k) })
		if i >= 0 {
			out[i] = tag{k, v}
		} else {
			out = append(out, tag{k, v})
		}
	}
	return out
}

func untag(old []tag, keys []string) []tag {
	return slices.DeleteFunc(slices.Clone(old), func(x tag) bool {
		return slices.ContainsFunc(keys, func(k string) bool { return strings.EqualFold(k, x.Key) })
	})
}

// page returns one page of items (already in order), the IsTruncated flag
// and the Marker of the next page. Markers are opaque: the base64 of the
// index of the next item's sort key.
func page[T any](items []T, sortKey func(T) string, marker *string, maxItems *int32) ([]T, *bool, *string, error) {
	start := 0
	if marker != nil {
		b, err := base64.RawURLEncoding.DecodeString(*marker)
		if err != nil {
			return nil, nil, nil, iamapi.ErrInvalidInputException("Invalid Marker.")
		}
		from := string(b)
		start = len(items)
		for i, it := range items {
			if sortKey(it) >= from {
				start = i
				break
			}
		}
	}
	n := 100
	if maxItems != nil {
		n = int(*maxItems)
	}
	end := min(start+n, len(items))
	out := items[start:end]
	if end < len(items) {
		return out, ptr(true), ptr(base64.RawURLEncoding.EncodeToString([]byte(sortKey(items[end])))), nil
	}
	return out, ptr(false), nil, nil
}

// normPath returns the path of an input ("/" when absent).
func normPath(p *string) string {
	if p == nil || *p == "" {
		return "/"
	}
	return *p
}

func pathMatches(path string, pfx *string) bool {
	return pfx == nil || strings.HasPrefix(path, *pfx)
}
