package ec2

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/apicheck"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestNoSilentParameter: every field of every implemented operation's
// input shape is read by the package's code, or placed in paramTables
// (refused, or accepted with the reason it changes nothing), or its
// operation is retired (answered UnsupportedOperation whatever it is
// given). A parameter a new botocore model adds, or a new operation leaves
// unread, fails here until it is decided.
func TestNoSilentParameter(t *testing.T) {
	unread, err := apicheck.Unread(".", "ec2api", "../api/ec2api")
	if err != nil {
		t.Fatal(err)
	}
	if len(unread) == 0 {
		t.Fatal("apicheck found no operation with an unread field; the check reads nothing")
	}
	for op, fields := range unread {
		if retiredOps[op] {
			continue
		}
		tab := paramTables[op]
		for _, f := range fields {
			_, refused := tab.refused[f]
			_, noEffect := tab.noEffect[f]
			if !refused && !noEffect && !slices.Contains(tab.handled, f) {
				t.Errorf("%s.%s is never read: honour it, or place it in paramTables (refused, or no effect with the reason)", op, f)
			}
		}
	}
	for op := range retiredOps {
		if _, ok := reflect.TypeOf(&Service{}).MethodByName(op); !ok {
			t.Errorf("retired operation %s is not an operation of the service", op)
		}
	}
}

// TestRefusedThroughTable: every refused field of paramTables set to a
// value that is not allowed is answered UnsupportedOperation naming it by
// RefuseParams, which the wiring calls before each operation; an allowed
// value passes.
func TestRefusedThroughTable(t *testing.T) {
	s, st := newTestService(t)
	ops := ec2api.OperationTable(s)
	ctx := ctxFor(acctA)
	for op, tab := range paramTables {
		for name := range tab.refused {
			t.Run(op+"/"+name, func(t *testing.T) {
				in := ops[op].NewInput()
				f := reflect.ValueOf(in).Elem().FieldByName(name)
				switch {
				case !f.IsValid():
					t.Fatalf("%s has no field %s", op, name)
				case f.Kind() == reflect.Slice:
					f.Set(reflect.MakeSlice(f.Type(), 1, 1))
				case f.Type().Elem().Kind() == reflect.Bool:
					f.Set(reflect.ValueOf(ptr(true)))
				case f.Type().Elem().Kind() == reflect.String:
					f.Set(reflect.ValueOf(ptr("not-allowed")))
				default:
					f.Set(reflect.New(f.Type().Elem()))
				}
				failsUnchanged(t, st, "UnsupportedOperation", func() error {
					err := RefuseParams(op, in)
					if err == nil {
						_, err = ops[op].Call(ctx, in)
					}
					if e, isAWS := awserr.As(err); isAWS && !strings.Contains(e.Message, name) {
						t.Errorf("error %q does not name %s", e.Message, name)
					}
					return err
				})
				for _, v := range tab.allowed[name] {
					f.Set(reflect.ValueOf(ptr(strings.ToUpper(v))))
					if err := refuseParams(op, in); err != nil {
						t.Errorf("%s.%s = %s refused: %v", op, name, v, err)
					}
				}
			})
		}
	}
}
