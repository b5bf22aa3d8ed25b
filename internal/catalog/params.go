package catalog

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ChangeType says when a new parameter value takes effect, as ElastiCache
// reports it in DescribeCacheParameters.
type ChangeType string

const (
	// Immediate values are applied to running nodes (CONFIG SET for
	// Redis/Valkey; memcached, which has no live configuration, is
	// restarted: see engine.Supervisor.ApplyParameters).
	Immediate ChangeType = "immediate"
	// RequiresReboot values take effect at the next start or reboot.
	RequiresReboot ChangeType = "requires-reboot"
)

// DataType is the ElastiCache data type of a parameter.
type DataType string

const (
	TypeString  DataType = "string"
	TypeInteger DataType = "integer"
	TypeBoolean DataType = "boolean" // memcached style: 0 or 1
	TypeFloat   DataType = "float"
)

// Parameter is one row of a parameter group family, shaped like
// ElastiCache's Parameter (DescribeCacheParameters / DescribeEngineDefaultParameters).
type Parameter struct {
	Name string
	// Default is the value in the family's default parameter group;
	// "" means empty (e.g. notify-keyspace-events).
	Default  string
	DataType DataType
	// AllowedValues is written as ElastiCache shows it: a comma list of
	// values and/or inclusive numeric ranges ("yes,no", "1-10",
	// "-5,-4,-3,-2,-1,1-100000"); "" means any value of DataType.
	AllowedValues string
	Modifiable    bool
	ChangeType    ChangeType
	// MinimumEngineVersion is the first engine version with the parameter.
	MinimumEngineVersion string
	Description          string
}

// Errors returned by parameter look-ups and validation; callers map them to
// AWS error codes (InvalidParameterValue, InvalidParameterCombination).
var (
	ErrUnknownFamily          = errors.New("unknown cache parameter group family")
	ErrUnknownParameter       = errors.New("unknown parameter")
	ErrParameterNotModifiable = errors.New("parameter is not modifiable")
	ErrInvalidParameterValue  = errors.New("invalid parameter value")
)

// Families returns the parameter group families this package has tables
// for, sorted.
func Families() []string {
	return slices.Sorted(maps.Keys(familyTables()))
}

// familyTables builds the family → table index. It is a function, not a
// package variable, so no package-level mutable state exists; the tables
// are small and callers that need speed keep the result.
func familyTables() map[string][]Parameter {
	return map[string][]Parameter{
		"redis4.0":     upTo("4.0.10", redis7Parameters()),
		"redis5.0":     upTo("5.0.6", redis7Parameters()),
		"redis6.x":     upTo("6.2", redis7Parameters()),
		"redis7":       redis7Parameters(),
		"valkey7":      redis7Parameters(),
		"valkey8":      valkey8Parameters(),
		"memcached1.4": upTo("1.4.34", memcached16Parameters()),
		"memcached1.5": upTo("1.5.16", memcached16Parameters()),
		"memcached1.6": memcached16Parameters(),
	}
}

// upTo keeps the parameters an engine version has: the older families'
// tables are the newest one without what later versions introduced.
func upTo(version string, t []Parameter) []Parameter {
	return slices.DeleteFunc(t, func(p Parameter) bool {
		return compareVersions(p.MinimumEngineVersion, version) > 0
	})
}

// Parameters returns a fresh copy of the parameter table of a family,
// sorted by name.
func Parameters(family string) ([]Parameter, error) {
	t, ok := familyTables()[family]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownFamily, family)
	}
	slices.SortFunc(t, func(a, b Parameter) int { return strings.Compare(a.Name, b.Name) })
	return t, nil
}

// LookupParameter returns the named parameter of a family.
func LookupParameter(family, name string) (Parameter, error) {
	t, err := Parameters(family)
	if err != nil {
		return Parameter{}, err
	}
	for _, p := range t {
		if p.Name == name {
			return p, nil
		}
	}
	return Parameter{}, fmt.Errorf("%w: %q in family %s", ErrUnknownParameter, name, family)
}

// Defaults returns the default value of every parameter of a family.
func Defaults(family string) (map[string]string, error) {
	t, err := Parameters(family)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(t))
	for _, p := range t {
		m[p.Name] = p.Default
	}
	return m, nil
}

// MergeDefaults returns the family's defaults overlaid with values, each
// validated; unknown names are errors. It is what an engine's
// configuration is rendered from.
func MergeDefaults(family string, values map[string]string) (map[string]string, error) {
	m, err := Defaults(family)
	if err != nil {
		return nil, err
	}
	var bad []string
	for k, v := range values {
		p, err := LookupParameter(family, k)
		if err != nil {
			return nil, err
		}
		if err := p.Validate(v); err != nil {
			bad = append(bad, err.Error())
		}
		m[k] = v
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return nil, fmt.Errorf("%w: %s", ErrInvalidParameterValue, strings.Join(bad, "; "))
	}
	return m, nil
}

// ValidateChanges checks a set of user modifications against a family: each
// name must exist and be modifiable, and each value must be valid. All
// problems are reported, joined.
func ValidateChanges(family string, changes map[string]string) error {
	t, err := Parameters(family)
	if err != nil {
		return err
	}
	byName := make(map[string]Parameter, len(t))
	for _, p := range t {
		byName[p.Name] = p
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(changes)) {
		p, ok := byName[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: %q in family %s", ErrUnknownParameter, name, family))
		case !p.Modifiable:
			errs = append(errs, fmt.Errorf("%w: %s", ErrParameterNotModifiable, name))
		default:
			if err := p.Validate(changes[name]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Validate checks value against the parameter's data type and allowed
// values. The error wraps ErrInvalidParameterValue.
func (p Parameter) Validate(value string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s=%q: %s", ErrInvalidParameterValue, p.Name, value, why)
	}
	switch p.DataType {
	case TypeInteger:
		if _, err := strconv.ParseInt(value, 10, 64); err != nil {
			return bad("not an integer")
		}
	case TypeFloat:
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			return bad("not a number")
		}
	case TypeBoolean:
		if value != "0" && value != "1" {
			return bad("allowed values: 0,1")
		}
		return nil
	}
	if cs := flagCharset(p.Name); cs != "" {
		for _, r := range value {
			if !strings.ContainsRune(cs, r) {
				return bad("allowed characters: " + cs)
			}
		}
		return nil
	}
	if p.AllowedValues == "" {
		return nil
	}
	if allowed(p.AllowedValues, p.DataType, value) {
		return nil
	}
	return bad("allowed values: " + p.AllowedValues)
}

// flagCharset returns, for string parameters whose value is a set of flag
// characters rather than one of a list, the allowed characters.
func flagCharset(name string) string {
	if name == "notify-keyspace-events" {
		// Keyspace notification classes (K E g $ l s h z x e t m n d A).
		return "KEg$lshzxetmndA"
	}
	return ""
}

// allowed reports whether value matches one item of an ElastiCache
// allowed-values list: literal values and numeric ranges "lo-hi".
func allowed(list string, dt DataType, value string) bool {
	numeric := dt == TypeInteger || dt == TypeFloat
	v, verr := strconv.ParseFloat(value, 64)
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == value {
			return true
		}
		if !numeric || verr != nil {
			continue
		}
		if lo, hi, ok := parseRange(item); ok && v >= lo && v <= hi {
			return true
		}
	}
	return false
}

// parseRange parses "lo-hi" where either bound may be negative ("-5--1");
// "lo-" has no upper bound.
func parseRange(s string) (lo, hi float64, ok bool) {
	for i := 1; i < len(s); i++ {
		if s[i] != '-' {
			continue
		}
		l, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			continue
		}
		if s[i+1:] == "" {
			return l, math.Inf(1), true
		}
		if h, err := strconv.ParseFloat(s[i+1:], 64); err == nil {
			return l, h, true
		}
	}
	return 0, 0, false
}
