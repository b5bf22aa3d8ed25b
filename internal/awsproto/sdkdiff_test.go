package awsproto_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
	"github.com/cachalot-dev/cachalot/internal/sdktest"
)

// TestSDKDifferential drives every operation of the four services through
// aws-sdk-go-v2, the reference codec: the SDK serialises a fully populated
// input, which our codec must decode to the same values; our codec encodes a
// fully populated output, which the SDK must parse back to the same values.
func TestSDKDifferential(t *testing.T) {
	services := []struct {
		svc    awsproto.Service
		ops    map[string]awsproto.Operation
		client any
	}{
		{elasticacheapi.Metadata, elasticacheapi.OperationTable(elasticacheapi.Unimplemented{}), nil},
		{stsapi.Metadata, stsapi.OperationTable(stsapi.Unimplemented{}), nil},
		{iamapi.Metadata, iamapi.OperationTable(iamapi.Unimplemented{}), nil},
		{ec2api.Metadata, ec2api.OperationTable(ec2api.Unimplemented{}), nil},
	}
	for _, s := range services {
		t.Run(s.svc.ID, func(t *testing.T) {
			var mu sync.Mutex
			var gotIn, sentOut any
			var decodeErr error
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				params, _ := url.ParseQuery(string(body))
				op := s.ops[params.Get("Action")]
				mu.Lock()
				defer mu.Unlock()
				gotIn, sentOut, decodeErr = nil, nil, nil
				if op.NewInput != nil {
					gotIn = op.NewInput()
					decodeErr = awsproto.Decode(s.svc, params, gotIn)
				}
				if op.NewOutput != nil {
					sentOut = op.NewOutput()
					fill(reflect.ValueOf(sentOut).Elem(), nil, 0)
				}
				resp := awsproto.EncodeResult(s.svc, op, sentOut, "req-1")
				w.Header().Set("Content-Type", "text/xml")
				w.Header().Set("Content-Length", fmt.Sprint(len(resp)))
				w.Write(resp)
			}))
			defer srv.Close()
			cfg := aws.Config{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
				HTTPClient:  sdktest.HTTPClient(),
				Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}},
			}
			client := newClient(s.svc.ID, cfg)
			cv := reflect.ValueOf(client)
			names := make([]string, 0, len(s.ops))
			for n := range s.ops {
				names = append(names, n)
			}
			slices.Sort(names)
			failures := 0
			for _, name := range names {
				m := cv.MethodByName(name)
				if !m.IsValid() {
					t.Errorf("%s: the SDK has no such operation", name)
					continue
				}
				in := reflect.New(m.Type().In(1).Elem())
				var like reflect.Type
				if op := s.ops[name]; op.NewInput != nil {
					like = reflect.TypeOf(op.NewInput()).Elem()
				}
				fill(in.Elem(), like, 0)
				res := m.Call([]reflect.Value{reflect.ValueOf(context.Background()), in})
				mu.Lock()
				gi, so, de := gotIn, sentOut, decodeErr
				mu.Unlock()
				var problems []string
				if errv := res[1]; !errv.IsNil() {
					problems = append(problems, fmt.Sprintf("SDK call: %v", errv.Interface()))
				}
				if de != nil {
					problems = append(problems, fmt.Sprintf("decode: %v", de))
				}
				if gi != nil {
					problems = append(problems, compare("input", in.Elem(), reflect.ValueOf(gi).Elem())...)
				}
				if so != nil && res[1].IsNil() {
					problems = append(problems, compare("output", res[0].Elem(), reflect.ValueOf(so).Elem())...)
				}
				if len(problems) > 0 {
					failures++
					if failures <= 15 {
						t.Errorf("%s:\n  %s", name, strings.Join(problems[:min(len(problems), 5)], "\n  "))
					}
				}
			}
			if failures > 0 {
				t.Errorf("%d of %d operations differ", failures, len(names))
			}
		})
	}
}

func newClient(id string, cfg aws.Config) any {
	switch id {
	case "EC2":
		return ec2.NewFromConfig(cfg)
	case "ElastiCache":
		return elasticache.NewFromConfig(cfg)
	case "IAM":
		return iam.NewFromConfig(cfg)
	case "STS":
		return sts.NewFromConfig(cfg)
	}
	panic(id)
}

var fixedTime = time.Date(2026, 11, 21, 10, 11, 12, 345000000, time.UTC)

// fill populates v deterministically: every scalar, two list elements, two
// map entries, structures to a bounded depth (shapes may be recursive). When
// like is set (our shape's type), only the fields our model has are filled,
// so that members newer than the model extract do not count as differences.
func fill(v reflect.Value, like reflect.Type, depth int) {
	for like != nil && (like.Kind() == reflect.Pointer || like.Kind() == reflect.Slice || like.Kind() == reflect.Map) {
		like = like.Elem()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type().Elem() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(&fixedTime))
			return
		}
		if v.Type().Elem().Kind() == reflect.Struct && depth > 4 {
			return
		}
		nv := reflect.New(v.Type().Elem())
		fill(nv.Elem(), like, depth)
		v.Set(nv)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(fixedTime))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			var fl reflect.Type
			if like != nil && like.Kind() == reflect.Struct {
				lf, ok := like.FieldByName(f.Name)
				if !ok {
					continue
				}
				fl = lf.Type
			}
			fill(v.Field(i), fl, depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("blob\x00data"))
			return
		}
		// Stop before elements would be empty structures, which no
		// serializer sends.
		if depth > 3 {
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), like, depth+1)
			if s.Index(i).Kind() == reflect.String {
				s.Index(i).SetString(fmt.Sprintf("item-%d <&>", i))
			}
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			val := reflect.New(v.Type().Elem()).Elem()
			fill(val, like, depth+1)
			m.SetMapIndex(reflect.ValueOf(fmt.Sprintf("key-%d", i)).Convert(v.Type().Key()), val)
		}
		v.Set(m)
	case reflect.String:
		v.SetString("text \"quoted\" & <tagged> é")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64, reflect.Int:
		v.SetInt(42)
	case reflect.Float64, reflect.Float32:
		v.SetFloat(1.5)
	}
}

// compare reports where the SDK value and ours differ, matching structure
// fields by name.
func compare(path string, sdk, ours reflect.Value) []string {
	for sdk.Kind() == reflect.Pointer || sdk.Kind() == reflect.Interface {
		if sdk.IsNil() {
			sdk = reflect.Value{}
			break
		}
		sdk = sdk.Elem()
	}
	for ours.Kind() == reflect.Pointer {
		if ours.IsNil() {
			ours = reflect.Value{}
			break
		}
		ours = ours.Elem()
	}
	if !sdk.IsValid() || !ours.IsValid() {
		if isEmpty(sdk) && isEmpty(ours) {
			return nil
		}
		return []string{fmt.Sprintf("%s: sdk %v, ours %v", path, show(sdk), show(ours))}
	}
	switch ours.Kind() {
	case reflect.Struct:
		if t, ok := ours.Interface().(time.Time); ok {
			st, _ := sdk.Interface().(time.Time)
			if !st.Equal(t) {
				return []string{fmt.Sprintf("%s: sdk %v, ours %v", path, st, t)}
			}
			return nil
		}
		var out []string
		for i := 0; i < ours.NumField(); i++ {
			name := ours.Type().Field(i).Name
			sf := sdk.FieldByName(name)
			if !sf.IsValid() {
				continue // the SDK dropped this (deprecated) member
			}
			out = append(out, compare(path+"."+name, sf, ours.Field(i))...)
		}
		return out
	case reflect.Slice:
		if ours.Type().Elem().Kind() == reflect.Uint8 {
			if string(sdk.Bytes()) != string(ours.Bytes()) {
				return []string{fmt.Sprintf("%s: sdk %q, ours %q", path, sdk.Bytes(), ours.Bytes())}
			}
			return nil
		}
		if sdk.Len() != ours.Len() {
			if isEmpty(sdk) && isEmpty(ours) {
				return nil
			}
			return []string{fmt.Sprintf("%s: sdk has %d elements, ours %d", path, sdk.Len(), ours.Len())}
		}
		var out []string
		for i := 0; i < ours.Len(); i++ {
			out = append(out, compare(fmt.Sprintf("%s[%d]", path, i), sdk.Index(i), ours.Index(i))...)
		}
		return out
	case reflect.Map:
		if sdk.Len() != ours.Len() {
			return []string{fmt.Sprintf("%s: sdk has %d entries, ours %d", path, sdk.Len(), ours.Len())}
		}
		var out []string
		for _, k := range ours.MapKeys() {
			out = append(out, compare(path+"["+k.String()+"]", sdk.MapIndex(k.Convert(sdk.Type().Key())), ours.MapIndex(k))...)
		}
		return out
	}
	if fmt.Sprint(sdk.Interface()) != fmt.Sprint(ours.Interface()) {
		return []string{fmt.Sprintf("%s: sdk %v, ours %v", path, show(sdk), show(ours))}
	}
	return nil
}

// isEmpty reports whether v carries nothing a serializer would send: absent,
// or structures and lists holding only empty values.
func isEmpty(v reflect.Value) bool {
	if !v.IsValid() {
		return true
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || isEmpty(v.Elem())
	case reflect.Map:
		return v.Len() == 0
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if !isEmpty(v.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		if _, ok := v.Interface().(time.Time); ok {
			return v.IsZero()
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && !isEmpty(v.Field(i)) {
				return false
			}
		}
		return true
	}
	return false
}

func show(v reflect.Value) any {
	if !v.IsValid() {
		return "<absent>"
	}
	return v.Interface()
}
