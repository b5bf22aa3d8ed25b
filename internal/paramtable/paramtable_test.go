package paramtable

import "testing"

func TestFirstRefused(t *testing.T) {
	type input struct {
		A    *string
		B    *bool
		C    []int
		Free *string
	}
	s := func(v string) *string { return &v }
	f, tr := false, true
	refused := map[string]string{"A": "no A", "B": "no B", "C": "no C"}
	allowed := map[string][]string{"A": {"ipv4"}}
	for _, tc := range []struct {
		in   input
		want string
	}{
		{input{}, ""},
		{input{Free: s("x")}, ""},
		{input{A: s("IPV4")}, ""},
		{input{A: s("ipv6")}, "A"},
		{input{B: &f}, ""},
		{input{B: &tr}, "B"},
		{input{C: []int{}}, ""},
		{input{C: []int{1}}, "C"},
	} {
		got, why, ok := FirstRefused(&tc.in, refused, allowed)
		if got != tc.want || ok != (tc.want != "") || (ok && why != refused[got]) {
			t.Errorf("FirstRefused(%+v) = %q, %q, %v; want %q", tc.in, got, why, ok, tc.want)
		}
	}
}
