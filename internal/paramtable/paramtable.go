// Package paramtable is the shared half of "no silent parameter": given
// an operation's refused input fields (and the values of them that are
// accepted anyway), it finds the first one a request sets. The services
// (internal/ec2, internal/elasticache) keep the tables and answer with
// their own errors; internal/apicheck finds the fields no code reads.
package paramtable

import (
	"reflect"
	"slices"
	"strings"
)

// FirstRefused returns the first field of in (a pointer to an input
// struct) named in refused that the request sets — a non-empty slice, a
// non-nil pointer other than to false or to one of the field's allowed
// string values (compared case-insensitively) — with its reason; ok is
// false when none is set.
func FirstRefused(in any, refused map[string]string, allowed map[string][]string) (field, reason string, ok bool) {
	if len(refused) == 0 {
		return "", "", false
	}
	v := reflect.ValueOf(in).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		why, listed := refused[name]
		if !listed {
			continue
		}
		f := v.Field(i)
		set := f.Kind() == reflect.Slice && f.Len() > 0
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			set = f.Elem().Kind() != reflect.Bool || f.Elem().Bool()
			if f.Elem().Kind() == reflect.String && slices.ContainsFunc(allowed[name], func(a string) bool { return strings.EqualFold(a, f.Elem().String()) }) {
				set = false
			}
		}
		if set {
			return name, why, true
		}
	}
	return "", "", false
}
