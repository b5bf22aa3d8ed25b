// Package awsproto owns the AWS wire codecs Cachalot speaks: the awsQuery
// protocol (ElastiCache, IAM, STS, CloudWatch), the ec2Query protocol (EC2)
// and the awsJson 1.0 form of an awsQuery-compatible service (json.go:
// CloudWatch, as botocore sends it). It decodes
// form-encoded requests into the generated shapes of internal/api/*, encodes
// results and errors in the XML the AWS SDKs parse, and knows no service: the
// generated packages describe each service through Service and Operation.
// Its client side (client.go) is the inverse, for a client that holds the
// same generated shapes (the cachalot command, through a generated Client).
//
// Field tags written by the generator drive the codec (`aws:"q=…,x=…"`):
//
//	q=NAME   the parameter name in requests
//	x=NAME   the element name in responses
//	qm=NAME  list member name in awsQuery requests (Name.member.N); absent: Name.N
//	xm=NAME  list member element in responses (<Name><member>…)
//	mk, mv   map key and value names; flat: no "entry"/wrapper level
//	req      the member is required
package awsproto

import (
	"context"
	"reflect"
	"strings"
	"sync"
)

// Protocol names as the models spell them.
const (
	ProtocolQuery = "query"
	ProtocolEC2   = "ec2"
)

// Service describes one AWS service on the wire.
type Service struct {
	ID           string // serviceId, e.g. "ElastiCache"
	SigningName  string // SigV4 scope service, e.g. "elasticache"
	APIVersion   string
	Protocol     string // ProtocolQuery or ProtocolEC2
	XMLNamespace string
}

// Namespace is the xmlns of the service's responses.
func (s Service) Namespace() string {
	ns := s.XMLNamespace
	if s.Protocol == ProtocolEC2 && !strings.HasSuffix(ns, "/") {
		ns += "/"
	}
	if ns == "" {
		ns = "https://" + s.SigningName + ".amazonaws.com/doc/" + s.APIVersion + "/"
	}
	return ns
}

// Operation binds one API operation to its implementation.
type Operation struct {
	Name          string
	ResultWrapper string
	// NewInput returns a pointer to a zero input shape; nil when the
	// operation takes no input.
	NewInput func() any
	// NewOutput returns a pointer to a zero output shape; nil when the
	// operation has no output.
	NewOutput func() any
	// Call invokes the implementation; the output is a pointer to the output
	// shape or nil when the operation has none.
	Call func(ctx context.Context, in any) (any, error)
}

// field is the codec's view of one struct field.
type field struct {
	index    int
	q, x     string
	qm, xm   string
	mk, mv   string
	flat     bool
	required bool
}

// fieldCache memoises parsed tags per struct type; safe for concurrent use.
var fieldCache sync.Map // reflect.Type -> []field

func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("aws")
		if !ok {
			continue
		}
		f := field{index: i, q: sf.Name, x: sf.Name}
		for _, part := range strings.Split(tag, ",") {
			k, v, _ := strings.Cut(part, "=")
			switch k {
			case "q":
				f.q = v
			case "x":
				f.x = v
			case "qm":
				f.qm = v
			case "xm":
				f.xm = v
			case "mk":
				f.mk = v
			case "mv":
				f.mv = v
			case "flat":
				f.flat = true
			case "req":
				f.required = true
			}
		}
		fs = append(fs, f)
	}
	fieldCache.Store(t, fs)
	return fs
}
