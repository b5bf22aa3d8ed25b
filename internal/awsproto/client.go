package awsproto

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// The client side of the codecs, the inverse of the server side: a client
// holding the same generated shapes as the server encodes its request with
// EncodeRequest (what Decode reads) and reads the response with
// DecodeResponse (what EncodeResult and EncodeError write).

// Caller sends one request of a service and decodes the response into out (a
// pointer to the operation's output shape, or nil): the transport a
// generated Client runs over, which signs and sends.
type Caller interface {
	Call(ctx context.Context, svc Service, op Operation, in, out any) error
}

// EncodeRequest renders in, a pointer to op's input shape or nil, as the
// form parameters of a request, Action and Version included.
func EncodeRequest(svc Service, op Operation, in any) url.Values {
	params := url.Values{"Action": {op.Name}, "Version": {svc.APIVersion}}
	v := reflect.ValueOf(in)
	if in != nil && !(v.Kind() == reflect.Pointer && v.IsNil()) {
		encodeParams(params, "", reflect.Indirect(v))
	}
	return params
}

func encodeParams(p url.Values, prefix string, v reflect.Value) {
	for _, f := range fieldsOf(v.Type()) {
		encodeParam(p, prefix+f.q, &f, v.Field(f.index))
	}
}

func encodeParam(p url.Values, key string, f *field, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			encodeParam(p, key, f, v.Elem())
		}
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			p.Set(key, t.UTC().Format(TimeFormat))
			return
		}
		n := len(p)
		encodeParams(p, key+".", v)
		if len(p) == n && f != nil {
			// An empty structure member, as Decode reads it; an empty
			// list element is not sent, as by the SDKs.
			p.Set(key, "")
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			p.Set(key, base64.StdEncoding.EncodeToString(v.Bytes()))
			return
		}
		if v.Len() == 0 {
			p.Set(key, "") // an empty list, as botocore sends it
			return
		}
		base := key
		if f != nil && f.qm != "" {
			base = key + "." + f.qm
		}
		for i := 0; i < v.Len(); i++ {
			encodeParam(p, base+"."+strconv.Itoa(i+1), nil, v.Index(i))
		}
	case reflect.Map:
		encodeMapParam(p, key, f, v)
	case reflect.String:
		p.Set(key, v.String())
	default:
		var b bytes.Buffer
		writeScalar(&b, v) // bool and numbers, which XML needs not escape
		p.Set(key, b.String())
	}
}

func encodeMapParam(p url.Values, key string, f *field, v reflect.Value) {
	mk, mv, base := "key", "value", key+".entry"
	if f != nil {
		if f.mk != "" {
			mk, mv = f.mk, f.mv
		}
		if f.flat {
			base = key
		}
	}
	keys := make([]string, 0, v.Len())
	for _, k := range v.MapKeys() {
		keys = append(keys, k.String())
	}
	slices.Sort(keys)
	for i, k := range keys {
		entry := base + "." + strconv.Itoa(i+1) + "."
		p.Set(entry+mk, k)
		encodeParam(p, entry+mv, nil, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())))
	}
}

// DecodeResponse reads a response of op: with HTTP status 200 it fills out, a
// pointer to op's output shape (or nil), from the body; otherwise it returns
// the *awserr.Error the body carries, or an error quoting the body when it
// carries none.
func DecodeResponse(svc Service, op Operation, status int, body []byte, out any) error {
	root, err := parseXML(body)
	if status != 200 { // HTTP OK
		if err == nil {
			if e := decodeError(svc, root, status); e != nil {
				return e
			}
		}
		return fmt.Errorf("%s: HTTP %d: %s", op.Name, status, body)
	}
	if err != nil {
		return fmt.Errorf("%s: decode response: %w", op.Name, err)
	}
	v := reflect.ValueOf(out)
	if out == nil || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return nil
	}
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("awsproto: decode into %T", out)
	}
	result := root
	if svc.Protocol != ProtocolEC2 {
		wrapper := op.ResultWrapper
		if wrapper == "" {
			wrapper = op.Name + "Result"
		}
		if result = root.child(wrapper); result == nil {
			return nil // an output with no members set
		}
	}
	if err := decodeStructXML(result, v.Elem()); err != nil {
		return fmt.Errorf("%s: decode response: %w", op.Name, err)
	}
	return nil
}

// decodeError reads the protocol's error shape; nil when root is not one.
func decodeError(svc Service, root *node, status int) *awserr.Error {
	var e *node
	if svc.Protocol == ProtocolEC2 {
		e = root.child("Errors").child("Error")
	} else {
		e = root.child("Error")
	}
	code := e.child("Code")
	if code == nil || code.text == "" {
		return nil
	}
	return &awserr.Error{Code: code.text, Message: e.child("Message").textOrEmpty(), Status: status}
}

// node is an XML element: its name, its text and its child elements.
type node struct {
	name     string
	text     string
	children []*node
}

// child returns the first child named name; nil when there is none or n is nil.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (n *node) textOrEmpty() string {
	if n == nil {
		return ""
	}
	return n.text
}

// parseXML returns the document's root element.
func parseXML(body []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err != nil {
			if root != nil && len(stack) == 0 {
				return root, nil
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			} else if root == nil {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
}

func decodeStructXML(n *node, v reflect.Value) error {
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		if f.flat && fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() != reflect.Uint8 {
			// A flat list's elements are children of n itself.
			member := "member"
			if f.xm != "" {
				member = f.xm
			}
			if err := decodeElements(n, member, fv); err != nil {
				return err
			}
			continue
		}
		if c := n.child(f.x); c != nil {
			if err := decodeValueXML(c, &f, fv); err != nil {
				return fmt.Errorf("%s: %w", f.x, err)
			}
		}
	}
	return nil
}

// decodeElements appends every child of n named name to the slice v.
func decodeElements(n *node, name string, v reflect.Value) error {
	for _, c := range n.children {
		if c.name != name {
			continue
		}
		e := reflect.New(v.Type().Elem()).Elem()
		if err := decodeValueXML(c, nil, e); err != nil {
			return err
		}
		v.Set(reflect.Append(v, e))
	}
	return nil
}

// decodeValueXML sets v from the element n.
func decodeValueXML(n *node, f *field, v reflect.Value) error {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		nv := reflect.New(t.Elem())
		if err := decodeValueXML(n, f, nv.Elem()); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	case t.Kind() == reflect.Struct && t != timeType:
		return decodeStructXML(n, v)
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		member := "member"
		if f != nil && f.xm != "" {
			member = f.xm
		}
		v.Set(reflect.MakeSlice(t, 0, len(n.children)))
		return decodeElements(n, member, v)
	case t.Kind() == reflect.Map:
		return decodeMapXML(n, f, v)
	}
	return scalarXML(n.text, v)
}

func decodeMapXML(n *node, f *field, v reflect.Value) error {
	mk, mv := "key", "value"
	if f != nil && f.mk != "" {
		mk, mv = f.mk, f.mv
	}
	m := reflect.MakeMap(v.Type())
	for _, e := range n.children {
		if e.name != "entry" {
			continue
		}
		val := reflect.New(v.Type().Elem()).Elem()
		if c := e.child(mv); c != nil {
			if err := decodeValueXML(c, nil, val); err != nil {
				return err
			}
		}
		m.SetMapIndex(reflect.ValueOf(e.child(mk).textOrEmpty()).Convert(v.Type().Key()), val)
	}
	v.Set(m)
	return nil
}

func scalarXML(s string, v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(n)
	case reflect.Slice: // blob
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return err
		}
		v.SetBytes(b)
	case reflect.Struct: // time.Time
		t, err := parseTime(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(t))
	default:
		return fmt.Errorf("awsproto: unsupported kind %s", v.Kind())
	}
	return nil
}
