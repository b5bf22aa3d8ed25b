package elasticache

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/apicheck"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// TestNoSilentParameter: every field of every implemented operation's
// input shape is read by the package's code or placed in paramTables.
func TestNoSilentParameter(t *testing.T) {
	unread, err := apicheck.Unread(".", "elasticacheapi", "../api/elasticacheapi")
	if err != nil {
		t.Fatal(err)
	}
	if len(unread) == 0 {
		t.Fatal("apicheck found no operation with an unread field; the check reads nothing")
	}
	for op, fields := range unread {
		tab := paramTables[op]
		for _, f := range fields {
			_, refused := tab.refused[f]
			_, noEffect := tab.noEffect[f]
			if !refused && !noEffect {
				t.Errorf("%s.%s is never read: honour it, or place it in paramTables (refused, or no effect with the reason)", op, f)
			}
		}
	}
}

// TestRefusedThroughTable: every refused field of paramTables set to a
// value that is not allowed is answered InvalidParameterCombination naming
// it by RefuseParams, which the wiring calls before each operation; the
// allowed values pass.
func TestRefusedThroughTable(t *testing.T) {
	ops := elasticacheapi.OperationTable(&Service{})
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
					f.Set(reflect.ValueOf(aws.Bool(true)))
				case f.Type().Elem().Kind() == reflect.String:
					f.Set(reflect.ValueOf(aws.String("not-allowed")))
				default:
					f.Set(reflect.New(f.Type().Elem()))
				}
				err := RefuseParams(op, in)
				if e, ok := awserr.As(err); !ok || e.Code != "InvalidParameterCombination" || !strings.Contains(e.Message, name) {
					t.Errorf("%s with %s set = %v, want InvalidParameterCombination naming it", op, name, err)
				}
				for _, v := range tab.allowed[name] {
					f.Set(reflect.ValueOf(aws.String(strings.ToUpper(v))))
					if err := refuseParams(op, in); err != nil {
						t.Errorf("%s.%s = %s refused: %v", op, name, v, err)
					}
				}
			})
		}
	}
}
