package awsproto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// The Smithy RPC v2 CBOR protocol (smithy.protocols#rpcv2Cbor), which the
// newest AWS SDKs speak to CloudWatch by default: a POST to
// /service/<ServiceName>/operation/<Operation> with the header
// "smithy-protocol: rpc-v2-cbor" and the input structure as a CBOR map
// keyed by member names (timestamps as tag 1 epoch seconds, blobs as byte
// strings); the answer carries the same header, and an error is a map of
// "__type" (the error shape's ID) and its members, with the awsQuery code
// and fault in x-amzn-query-error for an awsQuery-compatible service. The
// generated shapes serve it as they serve awsJson: members are the Go
// fields.

// CBOR protocol constants.
const (
	CBORContentType    = "application/cbor"
	SmithyProtocol     = "rpc-v2-cbor"
	SmithyProtocolName = "Smithy-Protocol" // the header naming the protocol, in requests and answers
)

// SmithyService describes a service in the RPC v2 CBOR protocol.
type SmithyService struct {
	// Namespace and Name form the service shape's ID
	// (com.amazonaws.cloudwatch#GraniteServiceVersion20100801); Name is
	// the path's ServiceName.
	Namespace, Name string
	// QueryCompatible is set for an awsQuery-compatible service: errors
	// carry x-amzn-query-error.
	QueryCompatible bool
	// ErrorShapes are the model's error shapes by error code (a code not
	// in it is answered with the code as __type).
	ErrorShapes map[string]ErrorShape
}

// ErrorShape is an error shape of a model: its name and the member that
// holds its message ("" when it has none).
type ErrorShape struct {
	Name, MessageMember string
}

// CBOROperation returns the operation a request names in the RPC v2 CBOR
// form for service s ("" and false when the request is not in that form:
// another path, or no smithy-protocol: rpc-v2-cbor header). A request for
// another service's path has the form but not the operation: ok is true,
// op is "".
func (s *SmithyService) CBOROperation(r *http.Request) (op string, ok bool) {
	name, op, ok := CBORPath(r)
	if !ok {
		return "", false
	}
	if name != s.Name {
		return "", true
	}
	return op, true
}

// CBORPath splits the path of an RPC v2 CBOR request into its service and
// operation names; ok is false when the request is not in that form.
func CBORPath(r *http.Request) (service, op string, ok bool) {
	if r.Method != http.MethodPost || !strings.EqualFold(r.Header.Get(SmithyProtocolName), SmithyProtocol) {
		return "", "", false
	}
	rest, found := strings.CutPrefix(r.URL.Path, "/service/")
	if !found {
		return "", "", false
	}
	service, op, found = strings.Cut(rest, "/operation/")
	if !found || service == "" || strings.Contains(op, "/") {
		return "", "", false
	}
	return service, op, true
}

var cborDec = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  32,
		MaxArrayElements: 1 << 16,
		MaxMapPairs:      1 << 16,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsAllowed,
		IntDec:           cbor.IntDecConvertNone,
		DefaultMapType:   reflect.TypeFor[map[string]any](),
		UTF8:             cbor.UTF8RejectInvalid,
		TimeTagToAny:     cbor.TimeTagToTime,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

var cborEnc = func() cbor.EncMode {
	m, err := cbor.EncOptions{Sort: cbor.SortNone, ShortestFloat: cbor.ShortestFloatNone,
		NaNConvert: cbor.NaNConvertNone, InfConvert: cbor.InfConvertNone, IndefLength: cbor.IndefLengthForbidden}.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// DecodeCBOR fills the input shape in from an RPC v2 CBOR request body
// (empty: an empty input); missing required members are MissingParameter,
// a malformed body SerializationException.
func DecodeCBOR(body []byte, in any) error {
	var doc any = map[string]any{}
	if len(body) > 0 {
		doc = nil
		if err := cborDec.Unmarshal(body, &doc); err != nil {
			return serialization(err)
		}
	}
	return decodeCBORValue(reflect.ValueOf(in).Elem(), doc, "")
}

var bytesType = reflect.TypeFor[[]byte]()

func decodeCBORValue(v reflect.Value, doc any, path string) error {
	if doc == nil {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := decodeCBORValue(p.Elem(), doc, path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		if v.Type() == timeType {
			t, ok := doc.(time.Time)
			if !ok {
				return serialization(fmt.Errorf("%s: want a timestamp (tag 1), got %s", path, cborKind(doc)))
			}
			v.Set(reflect.ValueOf(t.UTC()))
			return nil
		}
		obj, ok := doc.(map[string]any)
		if !ok {
			where := path
			if where == "" {
				where = "the input"
			}
			return serialization(fmt.Errorf("%s: want a map, got %s", where, cborKind(doc)))
		}
		t := v.Type()
		for _, f := range fieldsOf(t) {
			name := t.Field(f.index).Name
			e := obj[name]
			if e == nil {
				if f.required {
					return awserr.MissingParameter(joinPath(path, name))
				}
				continue
			}
			if err := decodeCBORValue(v.Field(f.index), e, joinPath(path, name)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if v.Type() == bytesType {
			b, ok := doc.([]byte)
			if !ok {
				return serialization(fmt.Errorf("%s: want a byte string, got %s", path, cborKind(doc)))
			}
			v.SetBytes(bytes.Clone(b))
			return nil
		}
		list, ok := doc.([]any)
		if !ok {
			return serialization(fmt.Errorf("%s: want a list, got %s", path, cborKind(doc)))
		}
		s := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, e := range list {
			if err := decodeCBORValue(s.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok || v.Type().Key().Kind() != reflect.String {
			return serialization(fmt.Errorf("%s: want a map, got %s", path, cborKind(doc)))
		}
		m := reflect.MakeMapWithSize(v.Type(), len(obj))
		for k, e := range obj {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := decodeCBORValue(ev, e, path+"."+k); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
		return nil
	}
	return decodeCBORScalar(v, doc, path)
}

func decodeCBORScalar(v reflect.Value, doc any, path string) error {
	bad := func() error {
		return serialization(fmt.Errorf("%s: want %s, got %s", path, v.Kind(), cborKind(doc)))
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := doc.(string)
		if !ok {
			return bad()
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := doc.(bool)
		if !ok {
			return bad()
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		switch n := doc.(type) {
		case uint64:
			if n > math.MaxInt64 {
				return bad()
			}
			i = int64(n)
		case int64:
			i = n
		default:
			return bad()
		}
		if v.OverflowInt(i) {
			return serialization(fmt.Errorf("%s: %d out of range", path, i))
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		switch n := doc.(type) {
		case float64:
			v.SetFloat(n)
		case uint64:
			v.SetFloat(float64(n))
		case int64:
			v.SetFloat(float64(n))
		default:
			return bad()
		}
	default:
		return bad()
	}
	return nil
}

// cborKind names what a decoded CBOR item is, for messages.
func cborKind(doc any) string {
	switch doc.(type) {
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case string:
		return "a text string"
	case []byte:
		return "a byte string"
	case uint64, int64, *big.Int:
		return "an integer"
	case float64, float32:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a timestamp"
	case cbor.Tag, cbor.RawTag:
		return "a tag"
	}
	return fmt.Sprintf("%T", doc)
}

// EncodeCBOR writes an operation's result as its CBOR map; an operation
// without output answers an empty body.
func EncodeCBOR(out any) ([]byte, error) {
	if out == nil {
		return nil, nil
	}
	v := reflect.ValueOf(out)
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, nil
	}
	return cborEnc.Marshal(cborTree(v))
}

// cborTree turns a shape into the generic values the encoder writes:
// maps keyed by member name (unset members left out), lists, timestamps
// as tag 1 epoch seconds (a float when they have milliseconds), byte
// slices as byte strings.
func cborTree(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return cborTree(v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			return cbor.RawMessage(appendCBORTime(nil, t))
		}
		m := map[string]any{}
		for _, f := range fieldsOf(v.Type()) {
			fv := v.Field(f.index)
			if (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map || fv.Kind() == reflect.Interface) && fv.IsNil() {
				continue
			}
			m[v.Type().Field(f.index).Name] = cborTree(fv)
		}
		return m
	case reflect.Slice:
		switch l := v.Interface().(type) {
		case []byte:
			return l
		case []float64: // GetMetricData's values: no boxing of each
			return l
		case []time.Time: // and its timestamps
			b := appendCBORHead(make([]byte, 0, 9+10*len(l)), 4, uint64(len(l)))
			for _, t := range l {
				b = appendCBORTime(b, t)
			}
			return cbor.RawMessage(b)
		}
		list := make([]any, v.Len())
		for i := range list {
			list[i] = cborTree(v.Index(i))
		}
		return list
	case reflect.Map:
		m := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			m[it.Key().String()] = cborTree(it.Value())
		}
		return m
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return nil
}

// appendCBORTime appends a timestamp as the protocol has it: tag 1 and
// the epoch seconds, an integer when whole, else a float64 with the
// milliseconds.
func appendCBORTime(b []byte, t time.Time) []byte {
	b = append(b, 0xc1)
	ms := t.UnixMilli()
	if ms%1000 != 0 {
		b = append(b, 0xfb)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(float64(ms)/1e3))
	}
	if sec := ms / 1000; sec < 0 {
		return appendCBORHead(b, 1, uint64(-1-sec))
	} else {
		return appendCBORHead(b, 0, uint64(sec))
	}
}

// appendCBORHead appends the head of a CBOR item of major type major with
// argument n, in its shortest form.
func appendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

// EncodeCBORError writes an error as the protocol's error map: __type,
// the error shape's ID when the model has a shape of the code (the code
// itself otherwise), and the message under the shape's message member
// ("message" when it names none). The caller sets x-amzn-query-error to
// QueryErrorHeader(e) when s.QueryCompatible.
func (s *SmithyService) EncodeCBORError(e *awserr.Error) []byte {
	typ, member := e.Code, "message"
	if sh, ok := s.ErrorShapes[e.Code]; ok {
		typ = sh.Name
		if s.Namespace != "" {
			typ = s.Namespace + "#" + sh.Name
		}
		if sh.MessageMember != "" {
			member = sh.MessageMember
		}
	}
	b, err := cborEnc.Marshal(map[string]any{"__type": typ, member: e.Message})
	if err != nil { // strings only: cannot fail
		panic(err)
	}
	return b
}
