package awsproto

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// protocolParams are request parameters that belong to the protocol rather
// than to an operation's input.
func protocolParam(k string) bool {
	return k == "Action" || k == "Version" || strings.HasPrefix(k, "X-Amz-") || k == "AWSAccessKeyId" ||
		k == "SignatureMethod" || k == "SignatureVersion" || k == "Signature" || k == "Timestamp" || k == "Expires"
}

// Decode fills in, a pointer to an input shape, from the request parameters.
// It returns an *awserr.Error for missing, malformed or (on EC2) unknown
// parameters, worded as the service words them.
func Decode(svc Service, params url.Values, in any) error {
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("awsproto: decode into %T", in)
	}
	d := &decoder{svc: svc, params: params, used: map[string]bool{}}
	d.keys = make([]string, 0, len(params))
	for k := range params {
		d.keys = append(d.keys, k)
	}
	slices.Sort(d.keys)
	if err := d.structure("", v.Elem()); err != nil {
		return err
	}
	if svc.Protocol == ProtocolEC2 {
		for _, k := range d.keys {
			if !d.used[k] && !protocolParam(k) {
				return awserr.New("UnknownParameter", "The parameter %s is not recognized", k)
			}
		}
	}
	return nil
}

type decoder struct {
	svc    Service
	params url.Values
	keys   []string // sorted parameter names
	used   map[string]bool
}

// smithyStyle reports whether validation errors use the "1 validation error
// detected" wording (IAM, STS) rather than MissingParameter (EC2, ElastiCache).
func (d *decoder) smithyStyle() bool {
	return d.svc.SigningName == "iam" || d.svc.SigningName == "sts"
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (d *decoder) missing(key string) error {
	if d.smithyStyle() {
		name := key[strings.LastIndex(key, ".")+1:]
		return awserr.New("ValidationError",
			"1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(name))
	}
	return awserr.MissingParameter(key)
}

func (d *decoder) invalid(key, value, want string) error {
	if d.smithyStyle() {
		return awserr.New("ValidationError", "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be %s", value, lowerFirst(key), want)
	}
	if d.svc.Protocol == ProtocolEC2 {
		return awserr.New("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected %s.", value, key, want)
	}
	return awserr.InvalidParameterValue("Value (%s) for parameter %s is invalid. Expected %s.", value, key, want)
}

// hasPrefix reports whether any parameter name starts with prefix.
func (d *decoder) hasPrefix(prefix string) bool {
	i, _ := slices.BinarySearch(d.keys, prefix)
	return i < len(d.keys) && strings.HasPrefix(d.keys[i], prefix)
}

// indices returns, in numeric order, the distinct N of parameters named
// prefix+N or prefix+N+".…".
func (d *decoder) indices(prefix string) ([]int, error) {
	i, _ := slices.BinarySearch(d.keys, prefix)
	var out []int
	for ; i < len(d.keys) && strings.HasPrefix(d.keys[i], prefix); i++ {
		rest := d.keys[i][len(prefix):]
		seg, _, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(seg)
		if err != nil || n < 1 {
			if d.svc.Protocol == ProtocolEC2 {
				return nil, awserr.New("UnknownParameter", "The parameter %s is not recognized", d.keys[i])
			}
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (d *decoder) structure(prefix string, v reflect.Value) error {
	for _, f := range fieldsOf(v.Type()) {
		key := prefix + f.q
		present, err := d.value(key, &f, v.Field(f.index))
		if err != nil {
			return err
		}
		if !present && f.required {
			return d.missing(key)
		}
	}
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// value decodes the parameter(s) at key into v and reports whether any were present.
func (d *decoder) value(key string, f *field, v reflect.Value) (bool, error) {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && t.Elem() != timeType:
		if !d.hasPrefix(key + ".") {
			// An empty structure may be sent as "Key=" by some clients.
			if _, ok := d.params[key]; ok {
				d.used[key] = true
				v.Set(reflect.New(t.Elem()))
				return true, nil
			}
			return false, nil
		}
		nv := reflect.New(t.Elem())
		if err := d.structure(key+".", nv.Elem()); err != nil {
			return false, err
		}
		v.Set(nv)
		return true, nil
	case t.Kind() == reflect.Struct && t != timeType:
		return true, d.structure(key+".", v)
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		return d.list(key, f, v)
	case t.Kind() == reflect.Map:
		return d.mapping(key, f, v)
	}
	vals, ok := d.params[key]
	if !ok {
		return false, nil
	}
	d.used[key] = true
	s := ""
	if len(vals) > 0 {
		s = vals[0]
	}
	if t.Kind() == reflect.Pointer {
		nv := reflect.New(t.Elem())
		if err := d.scalar(key, s, nv.Elem()); err != nil {
			return false, err
		}
		v.Set(nv)
		return true, nil
	}
	return true, d.scalar(key, s, v)
}

func (d *decoder) list(key string, f *field, v reflect.Value) (bool, error) {
	base := key
	if f != nil && f.qm != "" {
		base = key + "." + f.qm
	}
	idx, err := d.indices(base + ".")
	if err != nil {
		return false, err
	}
	if len(idx) == 0 {
		// botocore sends an empty list as "Key=".
		if _, ok := d.params[key]; ok {
			d.used[key] = true
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return true, nil
		}
		return false, nil
	}
	s := reflect.MakeSlice(v.Type(), len(idx), len(idx))
	for i, n := range idx {
		if _, err := d.value(base+"."+strconv.Itoa(n), nil, s.Index(i)); err != nil {
			return false, err
		}
	}
	v.Set(s)
	return true, nil
}

func (d *decoder) mapping(key string, f *field, v reflect.Value) (bool, error) {
	base := key
	if !f.flat {
		base = key + ".entry"
	}
	idx, err := d.indices(base + ".")
	if err != nil || len(idx) == 0 {
		return false, err
	}
	m := reflect.MakeMapWithSize(v.Type(), len(idx))
	for _, n := range idx {
		p := base + "." + strconv.Itoa(n) + "."
		k := d.params.Get(p + f.mk)
		d.used[p+f.mk] = true
		ev := reflect.New(v.Type().Elem()).Elem()
		if _, err := d.value(p+f.mv, nil, ev); err != nil {
			return false, err
		}
		m.SetMapIndex(reflect.ValueOf(k), ev)
	}
	v.Set(m)
	return true, nil
}

func (d *decoder) scalar(key, s string, v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return d.invalid(key, s, "a boolean")
		}
	case reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return d.invalid(key, s, "an integer")
		}
		v.SetInt(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return d.invalid(key, s, "a number")
		}
		v.SetFloat(n)
	case reflect.Slice: // blob
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return d.invalid(key, s, "base64-encoded data")
		}
		v.SetBytes(b)
	case reflect.Struct: // time.Time
		t, err := parseTime(s)
		if err != nil {
			return d.invalid(key, s, "a timestamp")
		}
		v.Set(reflect.ValueOf(t))
	default:
		return fmt.Errorf("awsproto: unsupported kind %s at %s", v.Kind(), key)
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}
