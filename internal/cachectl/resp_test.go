package cachectl

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func rewriteAll(t *testing.T, in string, bufSize int) (string, []string) {
	t.Helper()
	var out bytes.Buffer
	var asked []string
	a := &authRewriter{r: bufio.NewReaderSize(strings.NewReader(in), bufSize), w: bufio.NewWriter(&out),
		auth: func(user, pass string) (string, bool) {
			asked = append(asked, user+"="+pass)
			if strings.HasPrefix(user, "iam") {
				return "DERIVED-" + user, true
			}
			return "", false
		}}
	if err := a.run(); err != nil && err.Error() != "EOF" {
		t.Fatalf("run: %v", err)
	}
	return out.String(), asked
}

func arr(args ...string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

// TestAuthRewriter: AUTH and HELLO … AUTH of the users the front
// authenticates get their password replaced, in arrays and inline
// commands; every other byte passes unchanged, long values included.
func TestAuthRewriter(t *testing.T) {
	big := strings.Repeat("v", 200000)
	for _, tc := range []struct {
		name, in, want string
		asked          []string
	}{
		{"auth-iam", arr("AUTH", "iam-user", "tok"), arr("AUTH", "iam-user", "DERIVED-iam-user"), []string{"iam-user=tok"}},
		{"auth-lowercase", arr("auth", "iam-user", "tok"), arr("auth", "iam-user", "DERIVED-iam-user"), []string{"iam-user=tok"}},
		{"auth-password-user", arr("AUTH", "alice", "pw"), arr("AUTH", "alice", "pw"), []string{"alice=pw"}},
		{"auth-default", arr("AUTH", "pw"), arr("AUTH", "pw"), nil},
		{"hello-auth", arr("HELLO", "3", "AUTH", "iam-u", "tok", "SETNAME", "x"), arr("HELLO", "3", "AUTH", "iam-u", "DERIVED-iam-u", "SETNAME", "x"), []string{"iam-u=tok"}},
		{"hello-setname-first", arr("HELLO", "2", "SETNAME", "c", "AUTH", "iam-u", "tok"), arr("HELLO", "2", "SETNAME", "c", "AUTH", "iam-u", "DERIVED-iam-u"), []string{"iam-u=tok"}},
		{"hello-plain", arr("HELLO", "3"), arr("HELLO", "3"), nil},
		{"inline-auth", "AUTH iam-user tok\r\n", arr("AUTH", "iam-user", "DERIVED-iam-user"), []string{"iam-user=tok"}},
		{"inline-other", "PING\r\nGET k\n", "PING\r\nGET k\n", nil},
		{"others", arr("SET", "k", big) + arr("GET", "k"), arr("SET", "k", big) + arr("GET", "k"), nil},
		{"long-name", arr(strings.Repeat("x", 100), "a") + arr("AUTH", "iam-a", "t"), arr(strings.Repeat("x", 100), "a") + arr("AUTH", "iam-a", "DERIVED-iam-a"), []string{"iam-a=t"}},
		{"pipeline", arr("PING") + arr("AUTH", "iam-a", "t1") + arr("GET", "x") + arr("AUTH", "iam-b", "t2"),
			arr("PING") + arr("AUTH", "iam-a", "DERIVED-iam-a") + arr("GET", "x") + arr("AUTH", "iam-b", "DERIVED-iam-b"), []string{"iam-a=t1", "iam-b=t2"}},
		{"auth-too-long", arr("AUTH", "iam-a", big), arr("AUTH", "iam-a", big), nil},
		{"empty-array", "*0\r\n" + arr("PING"), "*0\r\n" + arr("PING"), nil},
		{"not-resp-after", "*2\r\n:1\r\n" + arr("AUTH", "iam-a", "t"), "*2\r\n:1\r\n" + arr("AUTH", "iam-a", "t"), nil},
	} {
		for _, size := range []int{16, 4096} {
			got, asked := rewriteAll(t, tc.in, size)
			if got != tc.want {
				t.Errorf("%s (buffer %d): engine got %.200q, want %.200q", tc.name, size, got, tc.want)
			}
			if strings.Join(asked, ",") != strings.Join(tc.asked, ",") {
				t.Errorf("%s (buffer %d): asked %q, want %q", tc.name, size, asked, tc.asked)
			}
		}
	}
}
