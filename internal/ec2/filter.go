package ec2

import (
	"encoding/base64"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Filters, written once for every Describe.
//
// A filterSet names the filters a Describe accepts; each maps an object to
// the values it has for that filter. An object matches a request when, for
// every filter, one of its values matches one of the filter's values (AND
// across filters, OR within one). Values may use the wildcards * and ?, and
// \ escapes them. tag:<key>, tag-key and tag-value are handled for every set
// through its tags accessor.

type filterSet[T any] struct {
	fields map[string]func(T) []string
	tags   func(T) map[string]string // nil: no tag filters
}

type compiledFilter[T any] struct {
	get  func(T) []string
	pats []pattern
}

type pattern struct {
	s    string
	glob bool
}

func (p pattern) match(v string) bool {
	if !p.glob {
		return p.s == v
	}
	return globMatch(p.s, v)
}

// globMatch matches v against a pattern with * (any run), ? (any one rune)
// and \ (escape: the next rune is literal). Literal runes compare byte by
// byte; ? and the backtracking of * step over whole runes, so that ? is
// one character however many bytes UTF-8 gives it.
func globMatch(p, v string) bool {
	var pi, vi int
	starP, starV := -1, 0
	for vi < len(v) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == '*':
				starP, starV = pi, vi
				pi++
				continue
			case c == '?':
				_, n := utf8.DecodeRuneInString(v[vi:])
				pi++
				vi += n
				continue
			case c == '\\' && pi+1 < len(p):
				_, n := utf8.DecodeRuneInString(p[pi+1:])
				if strings.HasPrefix(v[vi:], p[pi+1:pi+1+n]) {
					pi += 1 + n
					vi += n
					continue
				}
			case c == v[vi]:
				pi++
				vi++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(v[starV:])
		starV += n
		pi, vi = starP+1, starV
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func compilePattern(s string) pattern {
	return pattern{s: s, glob: strings.ContainsAny(s, "*?\\")}
}

func (fs filterSet[T]) compile(filters []ec2api.Filter) ([]compiledFilter[T], error) {
	out := make([]compiledFilter[T], 0, len(filters))
	for _, f := range filters {
		name := str(f.Name)
		var get func(T) []string
		switch {
		case fs.tags != nil && strings.HasPrefix(name, "tag:"):
			key := name[len("tag:"):]
			get = func(v T) []string {
				if val, ok := fs.tags(v)[key]; ok {
					return []string{val}
				}
				return nil
			}
		case fs.tags != nil && name == "tag-key":
			get = func(v T) []string { return mapKeys(fs.tags(v)) }
		case fs.tags != nil && name == "tag-value":
			get = func(v T) []string { return mapValues(fs.tags(v)) }
		default:
			get = fs.fields[name]
		}
		if get == nil {
			return nil, awserr.InvalidParameterValue("The filter '%s' is invalid", name)
		}
		// A filter without values matches nothing, as on AWS.
		cf := compiledFilter[T]{get: get}
		for _, s := range f.Values {
			cf.pats = append(cf.pats, compilePattern(s))
		}
		out = append(out, cf)
	}
	return out, nil
}

func matches[T any](cfs []compiledFilter[T], v T) bool {
	for _, cf := range cfs {
		ok := false
		for _, val := range cf.get(v) {
			for _, p := range cf.pats {
				if p.match(val) {
					ok = true
					break
				}
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// filterItems returns the items matching the filters.
func filterItems[T any](fs filterSet[T], filters []ec2api.Filter, items []T) ([]T, error) {
	cfs, err := fs.compile(filters)
	if err != nil {
		return nil, err
	}
	if len(cfs) == 0 {
		return items, nil
	}
	var out []T
	for _, v := range items {
		if matches(cfs, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// paginate returns the page of items (sorted by key) that starts at token.
// Without maxResults it returns everything from token on.
func paginate[T any](items []T, key func(T) string, maxResults *int32, token *string, lo, hi int32) ([]T, *string, error) {
	start := 0
	if token != nil && *token != "" {
		b, err := base64.RawURLEncoding.DecodeString(*token)
		if err != nil || len(b) == 0 {
			return nil, nil, errInvalidNextToken(*token)
		}
		k := string(b)
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) >= k })
	}
	n := len(items) - start
	if maxResults != nil {
		m := *maxResults
		if m < lo || m > hi {
			return nil, nil, awserr.InvalidParameterValue("Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", m, lo, hi)
		}
		if int(m) < n {
			n = int(m)
		}
	}
	page := items[start : start+n]
	var next *string
	if start+n < len(items) {
		next = ptr(base64.RawURLEncoding.EncodeToString([]byte(key(items[start+n]))))
	}
	return page, next, nil
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func sortStrings(s []string) { slices.Sort(s) }

func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func boolStr(b bool) []string { return []string{strconv.FormatBool(b)} }

func itoa(n int32) string { return strconv.FormatInt(int64(n), 10) }

// selectIDs keeps the items whose id is in ids (all when ids is empty) and
// reports the first missing id.
func selectIDs[T record](items []T, ids []string) ([]T, string) {
	if len(ids) == 0 {
		return items, ""
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []T
	for _, v := range items {
		if want[v.id()] {
			out = append(out, v)
			delete(want, v.id())
		}
	}
	for _, id := range ids {
		if want[id] {
			return nil, id
		}
	}
	return out, ""
}

// narrow picks, with an index kept per snapshot, the only records that can
// pass an exact-match filter (no wildcard) when recs is a kind's whole list
// in a read transaction. Otherwise it returns recs unchanged. The filters
// are still applied to what it returns, so it only saves work: a Describe
// filtered on instance-id, private-ip-address, group-id, vpc-id, ... costs
// the matching records, not a scan of all of them.
func narrow[R record, V any](st *scopeTx, kind string, fs filterSet[V], filters []ec2api.Filter, recs []R, view func(R) V) []R {
	if st.owned || len(recs) < 64 || len(recs) != len(st.base.list(kind)) {
		return recs
	}
	for _, f := range filters {
		name := str(f.Name)
		get := fs.fields[name]
		if get == nil || len(f.Values) == 0 || slices.ContainsFunc(f.Values, func(v string) bool { return strings.ContainsAny(v, "*?\\") }) {
			continue
		}
		idx := st.base.index(kind+"/"+name, func() map[string][]int32 {
			m := map[string][]int32{}
			for i, r := range recs {
				for _, v := range get(view(r)) {
					m[v] = append(m[v], int32(i))
				}
			}
			return m
		})
		var pos []int32
		for _, v := range f.Values {
			pos = append(pos, idx[v]...)
		}
		slices.Sort(pos)
		pos = slices.Compact(pos)
		out := make([]R, len(pos))
		for i, p := range pos {
			out[i] = recs[p]
		}
		return out
	}
	return recs
}
