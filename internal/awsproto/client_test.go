package awsproto_test

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/api/cachalotapi"
	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// TestClientRoundTrip checks the client side against the server side for
// every operation of every generated package: Decode reads back what
// EncodeRequest writes, DecodeResponse reads back what EncodeResult writes.
func TestClientRoundTrip(t *testing.T) {
	services := []struct {
		svc awsproto.Service
		ops map[string]awsproto.Operation
	}{
		{cachalotapi.Metadata, cachalotapi.OperationTable(cachalotapi.Unimplemented{})},
		{elasticacheapi.Metadata, elasticacheapi.OperationTable(elasticacheapi.Unimplemented{})},
		{stsapi.Metadata, stsapi.OperationTable(stsapi.Unimplemented{})},
		{iamapi.Metadata, iamapi.OperationTable(iamapi.Unimplemented{})},
		{ec2api.Metadata, ec2api.OperationTable(ec2api.Unimplemented{})},
	}
	for _, s := range services {
		for name, op := range s.ops {
			t.Run(s.svc.ID+"/"+name, func(t *testing.T) {
				if op.NewInput != nil {
					in := op.NewInput()
					fill(reflect.ValueOf(in).Elem(), nil, 0)
					dropEmptyElements(reflect.ValueOf(in))
					params := awsproto.EncodeRequest(s.svc, op, in)
					if params.Get("Action") != name || params.Get("Version") != s.svc.APIVersion {
						t.Errorf("EncodeRequest: Action=%q Version=%q, want %q %q", params.Get("Action"), params.Get("Version"), name, s.svc.APIVersion)
					}
					got := op.NewInput()
					if err := awsproto.Decode(s.svc, params, got); err != nil {
						t.Fatalf("Decode(EncodeRequest(in)) = %v", err)
					}
					if diff := cmp.Diff(in, got); diff != "" {
						t.Errorf("Decode(EncodeRequest(in)) differs from in (-in +got):\n%s", diff)
					}
				}
				if op.NewOutput != nil {
					out := op.NewOutput()
					fill(reflect.ValueOf(out).Elem(), nil, 0)
					body := awsproto.EncodeResult(s.svc, op, out, "req-1")
					got := op.NewOutput()
					if err := awsproto.DecodeResponse(s.svc, op, 200, body, got); err != nil {
						t.Fatalf("DecodeResponse(EncodeResult(out)) = %v", err)
					}
					if diff := cmp.Diff(out, got); diff != "" {
						t.Errorf("DecodeResponse(EncodeResult(out)) differs from out (-out +got):\n%s", diff)
					}
				}
			})
		}
	}
}

func TestClientEncodeRequestEmpty(t *testing.T) {
	op := cachalotapi.OperationTable(cachalotapi.Unimplemented{})["ConnectCompute"]
	got := awsproto.EncodeRequest(cachalotapi.Metadata, op, (*cachalotapi.ConnectComputeMessage)(nil))
	want := url.Values{"Action": {"ConnectCompute"}, "Version": {"2015-02-02"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EncodeRequest(nil) (-want +got):\n%s", diff)
	}
}

func TestClientDecodeErrors(t *testing.T) {
	e := awserr.WithStatus(404, "CacheClusterNotFound", "CacheCluster %s not found. <&>", "web")
	tests := []struct {
		name   string
		svc    awsproto.Service
		status int
		body   []byte
		want   error
	}{
		{"query", cachalotapi.Metadata, 404, awsproto.EncodeError(cachalotapi.Metadata, e, "r"), e},
		{"ec2", ec2api.Metadata, 404, awsproto.EncodeError(ec2api.Metadata, e, "r"), e},
		{"receiver", stsapi.Metadata, 500, awsproto.EncodeError(stsapi.Metadata, awserr.Internal(), "r"), awserr.Internal()},
	}
	op := awsproto.Operation{Name: "ConnectCompute"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := awsproto.DecodeResponse(tt.svc, op, tt.status, tt.body, &cachalotapi.ConnectComputeResult{})
			got, ok := awserr.As(err)
			if !ok {
				t.Fatalf("DecodeResponse = %v, want an *awserr.Error", err)
			}
			if diff := cmp.Diff(tt.want, error(got)); diff != "" {
				t.Errorf("DecodeResponse error (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("not-xml", func(t *testing.T) {
		err := awsproto.DecodeResponse(cachalotapi.Metadata, op, 502, []byte("bad gateway"), nil)
		if want := "ConnectCompute: HTTP 502: bad gateway"; err == nil || err.Error() != want {
			t.Errorf("DecodeResponse = %v, want %q", err, want)
		}
	})
	t.Run("bad-result", func(t *testing.T) {
		body := []byte("<ConnectComputeResponse><ConnectComputeResult><DecisionRow>two</DecisionRow></ConnectComputeResult></ConnectComputeResponse>")
		if err := awsproto.DecodeResponse(cachalotapi.Metadata, op, 200, body, &cachalotapi.ConnectComputeResult{}); err == nil {
			t.Error("DecodeResponse(DecisionRow=two) = nil, want an error")
		}
	})
}

// dropEmptyElements removes the list elements that are empty structures,
// which fill leaves at its depth limit and no client sends.
func dropEmptyElements(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			dropEmptyElements(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				dropEmptyElements(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() || v.Type().Elem().Kind() != reflect.Struct {
			return
		}
		kept := reflect.MakeSlice(v.Type(), 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			dropEmptyElements(v.Index(i))
			if !v.Index(i).IsZero() {
				kept = reflect.Append(kept, v.Index(i))
			}
		}
		if kept.Len() < v.Len() {
			v.Set(kept)
		}
	}
}
