package awsproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// The awsJson 1.0 form of an awsQuery-compatible service (CloudWatch): the
// operation in the X-Amz-Target header, its input as a JSON object keyed
// by member names, timestamps as epoch seconds; errors as {"__type",
// "message"} with the query error code in x-amzn-query-error, so clients
// of either protocol read the same code. botocore prefers it over
// awsQuery. The generated shapes serve both: members are the Go fields.

// JSONContentType is the content type of awsJson 1.0 requests and answers.
const JSONContentType = "application/x-amz-json-1.0"

// DecodeJSON fills the input shape in from a JSON request body; missing
// required members are MissingParameter, a malformed body
// SerializationException.
func DecodeJSON(body []byte, in any) error {
	var doc any
	if len(bytes.TrimSpace(body)) == 0 {
		doc = map[string]any{}
	} else {
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			return serialization(err)
		}
	}
	return decodeJSONValue(reflect.ValueOf(in).Elem(), doc, "")
}

func serialization(err error) error {
	return awserr.New("SerializationException", "%v", err)
}

func decodeJSONValue(v reflect.Value, doc any, path string) error {
	if doc == nil {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := decodeJSONValue(p.Elem(), doc, path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		if v.Type() == timeType {
			t, err := jsonTime(doc)
			if err != nil {
				return serialization(fmt.Errorf("%s: %w", path, err))
			}
			v.Set(reflect.ValueOf(t))
			return nil
		}
		return decodeJSONStruct(v, doc, path)
	case reflect.Slice:
		list, ok := doc.([]any)
		if !ok {
			return serialization(fmt.Errorf("%s: want a list", path))
		}
		s := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, e := range list {
			if err := decodeJSONValue(s.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok {
			return serialization(fmt.Errorf("%s: want an object", path))
		}
		m := reflect.MakeMapWithSize(v.Type(), len(obj))
		for k, e := range obj {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := decodeJSONValue(ev, e, path+"."+k); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
		return nil
	}
	return decodeJSONScalar(v, doc, path)
}

func decodeJSONStruct(v reflect.Value, doc any, path string) error {
	obj, ok := doc.(map[string]any)
	if !ok {
		return serialization(fmt.Errorf("%s: want an object", path))
	}
	t := v.Type()
	for _, f := range fieldsOf(t) {
		name := t.Field(f.index).Name
		e, present := obj[name]
		if !present || e == nil {
			if f.required {
				return awserr.MissingParameter(joinPath(path, name))
			}
			continue
		}
		if err := decodeJSONValue(v.Field(f.index), e, joinPath(path, name)); err != nil {
			return err
		}
	}
	return nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func decodeJSONScalar(v reflect.Value, doc any, path string) error {
	bad := func() error { return serialization(fmt.Errorf("%s: unexpected %T", path, doc)) }
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
	case reflect.Int32, reflect.Int64, reflect.Int:
		n, ok := doc.(json.Number)
		if !ok {
			return bad()
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || v.OverflowInt(i) {
			return bad()
		}
		v.SetInt(i)
	case reflect.Float64, reflect.Float32:
		n, ok := doc.(json.Number)
		if !ok {
			return bad()
		}
		f, err := n.Float64()
		if err != nil {
			return bad()
		}
		v.SetFloat(f)
	default:
		return bad()
	}
	return nil
}

// jsonTime reads a timestamp: epoch seconds (the protocol's form) or an
// ISO 8601 string.
func jsonTime(doc any) (time.Time, error) {
	switch d := doc.(type) {
	case json.Number:
		f, err := d.Float64()
		if err != nil {
			return time.Time{}, err
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC(), nil
	case string:
		return parseTime(d)
	}
	return time.Time{}, fmt.Errorf("bad timestamp %v", doc)
}

// EncodeJSON writes an operation's result (nil: none) as its JSON object.
func EncodeJSON(out any) []byte {
	var b bytes.Buffer
	if out == nil {
		return []byte("{}")
	}
	encodeJSONValue(&b, reflect.ValueOf(out))
	return b.Bytes()
}

func encodeJSONValue(b *bytes.Buffer, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		encodeJSONValue(b, v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			b.WriteString(strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', -1, 64))
			return
		}
		b.WriteByte('{')
		first := true
		for _, f := range fieldsOf(v.Type()) {
			fv := v.Field(f.index)
			if (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.IsNil() {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			name, _ := json.Marshal(v.Type().Field(f.index).Name)
			b.Write(name)
			b.WriteByte(':')
			encodeJSONValue(b, fv)
		}
		b.WriteByte('}')
	case reflect.Slice:
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			encodeJSONValue(b, v.Index(i))
		}
		b.WriteByte(']')
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			b.WriteString("null")
			return
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	default: // strings, numbers, booleans, maps of them
		j, _ := json.Marshal(v.Interface())
		b.Write(j)
	}
}

// EncodeJSONError writes an error as awsJson's body; the caller sets the
// x-amzn-query-error header to QueryErrorHeader(e).
func EncodeJSONError(e *awserr.Error) []byte {
	j, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	return j
}

// QueryErrorHeader is the x-amzn-query-error value of an error: the
// awsQuery code and fault, for awsQuery-compatible JSON clients.
func QueryErrorHeader(e *awserr.Error) string {
	if e.Sender() {
		return e.Code + ";Sender"
	}
	return e.Code + ";Receiver"
}
