// Package endpoint is Cachalot's wire edge: the one HTTP endpoint that serves
// every AWS service. For each request it verifies the SigV4 signature,
// resolves the caller, routes by the credential scope's service, decodes the
// awsQuery or ec2Query parameters into the operation's input shape, asks the
// authorizer, calls the operation and encodes the result — translating errors
// exactly once, in the service's protocol. Only the wiring package imports it.
package endpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/sigv4"
)

// Binding is one service served by the endpoint.
type Binding struct {
	Service    awsproto.Service
	Operations map[string]awsproto.Operation
	// ActionPrefix is the service prefix of its IAM actions when it is not
	// the signing name (CloudWatch: "cloudwatch", signed "monitoring").
	ActionPrefix string
	// JSONTarget, when set, also accepts the service's awsJson 1.0 form
	// (awsQuery-compatible services: CloudWatch), whose X-Amz-Target is
	// JSONTarget + "." + action.
	JSONTarget string
	// CBOR, when set, also accepts the service's Smithy RPC v2 CBOR form
	// (POST /service/<CBOR.Name>/operation/<action>, smithy-protocol:
	// rpc-v2-cbor), which the newest SDKs speak to CloudWatch.
	CBOR *awsproto.SmithyService
}

// actionPrefix is the IAM action prefix of the service.
func (b *Binding) actionPrefix() string {
	if b.ActionPrefix != "" {
		return b.ActionPrefix
	}
	return b.Service.SigningName
}

// Config configures a Handler. Keys and Authorizer are required.
type Config struct {
	Keys       auth.KeyResolver
	Authorizer auth.Authorizer
	Services   []Binding
	// Resources returns the ARNs an operation acts on, for resource-level
	// authorization, resolved the way the operation will resolve its input
	// (canonical ids, names resolved to ids); none means "*". An error fails
	// the request (it is never authorized on "*" instead). nil (the
	// default) authorizes every call on "*".
	Resources func(ctx context.Context, service, action string, in any) ([]string, error)
	// Conditions returns the service-specific condition keys of a request
	// (elasticache:CacheNodeType, …) from its input; nil (the default)
	// gives none.
	Conditions func(service, action string, in any) map[string][]string
	// Regions are the regions a credential scope may name; a request
	// scoped to another is refused before anything is done in its name
	// (every region served gets a default VPC on first use). Default:
	// dnsname.Regions(), every region of AWS's commercial, China and
	// GovCloud partitions.
	Regions []string
	// BodyMemory bounds the request-body bytes held at once by all
	// requests; a request waits for room (up to BodyTimeout), then is
	// throttled. Default DefaultBodyMemory.
	BodyMemory int64
	// BodyTimeout is the time a request has to deliver its body once its
	// headers are in. Default DefaultBodyTimeout.
	BodyTimeout time.Duration
	Logger      *slog.Logger     // default: slog.Default()
	Now         func() time.Time // default: time.Now
	// Observe, if set, is told of every request answered (metrics); it
	// must be cheap and safe for concurrent use. Default: nil.
	Observe func(RequestRecord)
}

// Handler is the http.Handler of the endpoint.
type Handler struct {
	cfg       Config
	byScope   map[string]*Binding // signing name -> service
	byVersion map[string]*Binding // API version -> service (to shape errors of unsigned requests)
	bySmithy  map[string]*Binding // Smithy service name -> service (likewise, RPC v2 CBOR)
	regions   map[string]bool     // accepted credential scope regions
	budget    *budget             // request-body bytes in flight
	keys      sigv4.KeyCache
}

// New returns a Handler; it has no side effects.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Regions == nil {
		cfg.Regions = dnsname.Regions()
	}
	if cfg.BodyMemory <= 0 {
		cfg.BodyMemory = DefaultBodyMemory
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	h := &Handler{cfg: cfg, byScope: map[string]*Binding{}, byVersion: map[string]*Binding{}, bySmithy: map[string]*Binding{},
		regions: map[string]bool{}, budget: newBudget(cfg.BodyMemory)}
	for _, r := range cfg.Regions {
		h.regions[r] = true
	}
	for i := range cfg.Services {
		b := &cfg.Services[i]
		h.byScope[b.Service.SigningName] = b
		h.byVersion[b.Service.APIVersion] = b
		if b.CBOR != nil {
			h.bySmithy[b.CBOR.Name] = b
		}
	}
	return h
}

// NewRequestID returns a random request id in AWS's UUID form.
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// call is the state of one request as it passes through the handler.
type call struct {
	id      string
	start   time.Time
	binding *Binding
	action  string
	caller  string // the principal's ARN, once the signature is verified
	account string // the principal's account, once the signature is verified
	code    string // the AWS error code answered, if any
	json    bool   // an awsJson 1.0 request (Binding.JSONTarget), answered in JSON
	cbor    bool   // a Smithy RPC v2 CBOR request (Binding.CBOR), answered in CBOR
	body    []byte // the body of a JSON or CBOR request, once verified
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{id: NewRequestID(), start: time.Now()}
	defer func() {
		if p := recover(); p != nil {
			h.cfg.Logger.Error("panic serving request", "request_id", c.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			h.writeError(w, c, awserr.Internal())
		}
	}()
	h.bodyDeadline(w)
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	out, err := h.serve(w, r, c)
	if err != nil {
		h.writeError(w, c, err)
		return
	}
	h.write(w, c, http.StatusOK, out)
}

// serve runs the request and returns the encoded response body.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, c *call) ([]byte, error) {
	p, sig, params, release, err := h.admit(w, r, c)
	defer release()
	if err != nil {
		return nil, err
	}
	svc := c.binding.Service
	if c.action == "" {
		return nil, awserr.New("MissingAction", "The request must contain the parameter Action")
	}
	op, ok := c.binding.Operations[c.action]
	if !ok {
		if svc.Protocol == awsproto.ProtocolEC2 {
			return nil, awserr.New("InvalidAction", "The action %s is not valid for this web service.", c.action)
		}
		return nil, awserr.New("InvalidAction", "Could not find operation %s for version %s", c.action, svc.APIVersion)
	}
	decode := func(in any) error { return awsproto.Decode(svc, params, in) }
	switch {
	case c.json:
		decode = func(in any) error { return awsproto.DecodeJSON(c.body, in) }
	case c.cbor:
		decode = func(in any) error { return awsproto.DecodeCBOR(c.body, in) }
	}
	result, err := h.dispatch(r.Context(), c.binding, op, p, sig.Region, decode, sourceIP(r), r.TLS != nil)
	if err != nil {
		return nil, err
	}
	switch {
	case c.json:
		return awsproto.EncodeJSON(result), nil
	case c.cbor:
		b, err := awsproto.EncodeCBOR(result)
		if err != nil {
			return nil, fmt.Errorf("encode %s result: %w", op.Name, err)
		}
		return b, nil
	}
	return awsproto.EncodeResult(svc, op, result, c.id), nil
}

// dispatch decodes an operation's parameters and runs it as p in region:
// the resources and conditions of the request, the authorizer, the dry-run
// answer, the call. Signed requests and Invoke both come through here.
func (h *Handler) dispatch(ctx context.Context, b *Binding, op awsproto.Operation, p auth.Principal, region string, decode func(in any) error, ip string, secure bool) (any, error) {
	svc := b.Service
	var in any
	if op.NewInput != nil {
		in = op.NewInput()
		if err := decode(in); err != nil {
			return nil, err
		}
	}
	ctx = auth.WithPrincipal(ctx, p)
	ctx = auth.WithScope(ctx, auth.Scope{AccountID: p.AccountID, Region: region})
	resources := []string{"*"}
	if h.cfg.Resources != nil {
		rs, err := h.cfg.Resources(ctx, svc.SigningName, op.Name, in)
		if err != nil {
			return nil, fmt.Errorf("resources of %s:%s: %w", svc.SigningName, op.Name, err)
		}
		if len(rs) > 0 {
			resources = rs
		}
	}
	var conditions map[string][]string
	if h.cfg.Conditions != nil {
		conditions = h.cfg.Conditions(svc.SigningName, op.Name, in)
	}
	if err := h.cfg.Authorizer.Authorize(ctx, auth.Request{
		Context:         conditions,
		Principal:       p,
		Service:         b.actionPrefix(),
		Action:          op.Name,
		Resources:       resources,
		Region:          region,
		SourceIP:        ip,
		SecureTransport: secure,
		Time:            h.cfg.Now(),
	}); err != nil {
		return nil, err
	}
	if dryRun(in) {
		return nil, awserr.WithStatus(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return op.Call(ctx, in)
}

// Invoke runs the operation params name (its Action) of the service whose
// signing name is service, as p in region, exactly as a signed request of p
// would run it — same decoding, resources, conditions, authorization and
// errors — for an in-process client that authenticated p itself (the web
// console). It returns the operation's output shape (a pointer, nil for an
// operation without output) or the error the API would answer.
func (h *Handler) Invoke(ctx context.Context, p auth.Principal, region, service string, params url.Values, sourceIP string, secure bool) (any, error) {
	b := h.byScope[service]
	if b == nil {
		return nil, fmt.Errorf("invoke: no service %q", service)
	}
	if !h.regions[region] {
		return nil, h.invalidRegion(&call{binding: b}, region)
	}
	action := params.Get("Action")
	op, ok := b.Operations[action]
	if !ok {
		return nil, awserr.New("InvalidAction", "Could not find operation %s for version %s", action, b.Service.APIVersion)
	}
	decode := func(in any) error { return awsproto.Decode(b.Service, params, in) }
	return h.dispatch(ctx, b, op, p, region, decode, sourceIP, secure)
}

// admit authenticates the request and returns the caller, the signature
// and the request's parameters, and a function releasing the body's
// memory (to call in every case). Everything that can be decided from the
// headers — the signature's form, service, region, access key, session
// token and time — is decided before the body is read; the body is then
// read within the memory budget and time limit, and the signature checked
// over it.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, c *call) (auth.Principal, *sigv4.Signature, url.Values, func(), error) {
	none := func() {}
	fail := func(err error) (auth.Principal, *sigv4.Signature, url.Values, func(), error) {
		return auth.Principal{}, nil, nil, none, err
	}
	if headerFields(r) > MaxHeaderFields {
		return fail(awserr.WithStatus(http.StatusRequestHeaderFieldsTooLarge, "RequestHeaderSectionTooLarge",
			"Your request header section exceeds the maximum allowed size."))
	}
	// Pick the service from the signature scope, so that even
	// authentication errors have its shape. Only the scope's service ever
	// executes a signed request: the signing key is derived for it, and a
	// key for another service must not buy an action of ours however the
	// Version parameter reads.
	sig, serr := sigv4.Parse(r)
	if serr == nil {
		c.binding = h.byScope[sig.Service]
	}
	if c.binding == nil {
		return fail(h.refuseUnscoped(r, c, sig, serr))
	}
	c.action = r.URL.Query().Get("Action")
	if t := c.binding.JSONTarget; t != "" && isJSON(r) {
		c.json = true
		c.action = strings.TrimPrefix(r.Header.Get("X-Amz-Target"), t+".")
	}
	if s := c.binding.CBOR; s != nil {
		if op, ok := s.CBOROperation(r); ok {
			c.cbor, c.json, c.action = true, false, op
			if op == "" {
				return fail(unknownOperation(r))
			}
		}
	}
	if !h.regions[sig.Region] {
		return fail(h.invalidRegion(c, sig.Region))
	}
	key, err := h.authenticate(r, c, sig)
	if err != nil {
		return fail(err)
	}
	body, release, err := h.readBody(r, w, c.binding.Service)
	if err != nil {
		return fail(err)
	}
	if err := h.verify(r, c, sig, key, body); err != nil {
		return auth.Principal{}, nil, nil, release, err
	}
	if body, err = decompress(r, body); err != nil {
		return auth.Principal{}, nil, nil, release, err
	}
	if c.cbor {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); len(body) > 0 && ct != awsproto.CBORContentType {
			return auth.Principal{}, nil, nil, release, awserr.WithStatus(http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException",
				"Unsupported Content-Type %q: an RPC v2 CBOR request body is %s", r.Header.Get("Content-Type"), awsproto.CBORContentType)
		}
	}
	if c.json || c.cbor {
		c.body = body
		return key.Principal, sig, nil, release, nil
	}
	params, err := parseParams(r, body)
	if err != nil {
		return auth.Principal{}, nil, nil, release, awserr.New("MalformedQueryString", "The request parameters are not well-formed: %v", err)
	}
	c.action = params.Get("Action")
	return key.Principal, sig, params, release, nil
}

// refuseUnscoped answers a request that is unsigned, whose signature
// cannot be parsed, or that is signed for a service not ours. The Version
// in the first bytes of its body, if any, picks the shape of the answer.
func (h *Handler) refuseUnscoped(r *http.Request, c *call, sig *sigv4.Signature, serr error) error {
	params := peekParams(r)
	c.binding = h.byVersion[params.Get("Version")]
	c.action = params.Get("Action")
	if name, op, ok := awsproto.CBORPath(r); ok {
		// The path names the service and operation: answer in its protocol.
		c.binding, c.action = h.bySmithy[name], op
		c.cbor = c.binding != nil
	}
	if serr != nil {
		if errors.Is(serr, sigv4.ErrMissing) {
			return h.authError(c, "MissingAuthenticationToken", "Request is missing Authentication Token")
		}
		return h.authError(c, "IncompleteSignature", serr.Error())
	}
	if c.binding != nil {
		// AWS's words when the scope names another service than the
		// endpoint's (the trailing space is AWS's).
		return awserr.WithStatus(http.StatusForbidden, "SignatureDoesNotMatch",
			"Credential should be scoped to correct service: '%s'. ", c.binding.Service.SigningName)
	}
	return awserr.WithStatus(http.StatusForbidden, "SignatureDoesNotMatch",
		"Credential should be scoped to a valid service: '%s'.", sig.Service)
}

// invalidRegion answers a request whose credential scope names a region
// the endpoint does not serve. AWS's query services answer
// SignatureDoesNotMatch "Credential should be scoped to a valid region"
// (the trailing space is AWS's); EC2 answers AuthFailure, as it does for a
// scope whose region is not its endpoint's.
func (h *Handler) invalidRegion(c *call, region string) error {
	if c.binding.Service.Protocol == awsproto.ProtocolEC2 {
		return awserr.WithStatus(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	}
	return awserr.WithStatus(http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to a valid region, not '%s'. ", region)
}

// authenticate checks what the headers alone can tell of the signature:
// that its access key is known, with the session token it was issued with,
// and that the request is on time. It returns the key.
func (h *Handler) authenticate(r *http.Request, c *call, sig *sigv4.Signature) (auth.Key, error) {
	ec2 := c.binding.Service.Protocol == awsproto.ProtocolEC2
	key, err := h.cfg.Keys.ResolveKey(r.Context(), sig.AccessKeyID)
	if errors.Is(err, auth.ErrUnknownKey) || (err == nil && key.SessionToken != sig.SecurityToken) {
		if ec2 {
			return auth.Key{}, awserr.WithStatus(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
		}
		return auth.Key{}, awserr.WithStatus(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if err != nil {
		return auth.Key{}, fmt.Errorf("resolve access key: %w", err)
	}
	now := h.cfg.Now()
	skew := 5 * time.Minute
	if ec2 {
		skew = 15 * time.Minute
	}
	if err := sig.CheckTime(now, skew); err != nil {
		if ec2 {
			return auth.Key{}, awserr.New("RequestExpired", "Request has expired.")
		}
		if errors.Is(err, sigv4.ErrExpired) {
			return auth.Key{}, awserr.WithStatus(http.StatusForbidden, "AccessDenied", "Request has expired")
		}
		return auth.Key{}, awserr.WithStatus(http.StatusForbidden, "SignatureDoesNotMatch",
			"Signature expired: %s is now earlier than %s (%s - %s.)", sig.Date.Format("20060102T150405Z"),
			now.UTC().Add(-skew).Format("20060102T150405Z"), now.UTC().Format("20060102T150405Z"), skewText(skew))
	}
	return key, nil
}

// verify checks the signature over the request and its body, then the
// key's expiry, and records the caller.
func (h *Handler) verify(r *http.Request, c *call, sig *sigv4.Signature, key auth.Key, body []byte) error {
	if err := sig.VerifyWithKey(r, body, h.keys.SigningKey(key.SecretAccessKey, sig.Day, sig.Region, sig.Service)); err != nil {
		return awserr.WithStatus(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	if !key.Expires.IsZero() && h.cfg.Now().After(key.Expires) {
		if c.binding.Service.Protocol == awsproto.ProtocolEC2 {
			return awserr.New("RequestExpired", "Request has expired.")
		}
		return awserr.WithStatus(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
	}
	c.caller, c.account = key.Principal.ARN, key.Principal.AccountID
	return nil
}

func skewText(d time.Duration) string { return fmt.Sprintf("%d min", int(d.Minutes())) }

// authError builds an authentication error in the service's wording.
func (h *Handler) authError(c *call, code, msg string) error {
	if c.binding != nil && c.binding.Service.Protocol == awsproto.ProtocolEC2 && code == "MissingAuthenticationToken" {
		return awserr.WithStatus(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	}
	if code == "IncompleteSignature" {
		return awserr.New(code, "%s", msg)
	}
	return awserr.WithStatus(http.StatusForbidden, code, "%s", msg)
}

// dryRun reports whether an (EC2) input asks for a dry run: the caller was
// authorized, so the answer is DryRunOperation without acting.
func dryRun(in any) bool {
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("DryRun")
	return f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.Bool && f.Elem().Bool()
}

// parseParams returns the parameters of the query string and, for a form
// POST, of the body.
func parseParams(r *http.Request, body []byte) (url.Values, error) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if isForm(r) && len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	return params, nil
}

// peekParams returns what parameters can be read from the query string and
// the first peekBytes of the body, ignoring malformed ones.
func peekParams(r *http.Request) url.Values {
	params, _ := url.ParseQuery(r.URL.RawQuery)
	if isForm(r) {
		form, _ := url.ParseQuery(string(peekBody(r)))
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	return params
}

func isForm(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "" || ct == "application/x-www-form-urlencoded"
}

// isJSON reports whether a request is in the awsJson 1.0 form.
func isJSON(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return r.Method == http.MethodPost && ct == awsproto.JSONContentType && r.Header.Get("X-Amz-Target") != ""
}

// unknownOperation answers an RPC v2 CBOR request whose path names
// another service than the one its signature is scoped to.
func unknownOperation(r *http.Request) error {
	return awserr.WithStatus(http.StatusNotFound, "UnknownOperationException", "No operation at %s", r.URL.Path)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) writeError(w http.ResponseWriter, c *call, err error) {
	e, ok := awserr.As(err)
	if !ok {
		if errors.Is(err, context.Canceled) {
			// The client hung up (or the server is shutting down): nothing
			// failed, and nobody reads the answer.
			h.cfg.Logger.Info("request cancelled before it completed", "request_id", c.id, "action", c.action)
		} else {
			h.cfg.Logger.Error("internal failure", "request_id", c.id, "action", c.action, "err", err)
		}
		e = awserr.Internal()
	}
	svc := awsproto.Service{Protocol: awsproto.ProtocolQuery, SigningName: "sts", APIVersion: "2011-06-15"}
	if c.binding != nil {
		svc = c.binding.Service
	}
	c.code = e.Code
	if c.json {
		w.Header().Set("x-amzn-query-error", awsproto.QueryErrorHeader(e))
		h.write(w, c, e.HTTPStatus(), awsproto.EncodeJSONError(e))
		return
	}
	if c.cbor {
		if c.binding.CBOR.QueryCompatible {
			w.Header().Set("x-amzn-query-error", awsproto.QueryErrorHeader(e))
		}
		h.write(w, c, e.HTTPStatus(), c.binding.CBOR.EncodeCBORError(e))
		return
	}
	h.write(w, c, e.HTTPStatus(), awsproto.EncodeError(svc, e, c.id))
}

func (h *Handler) write(w http.ResponseWriter, c *call, status int, body []byte) {
	switch {
	case c.json:
		w.Header().Set("Content-Type", awsproto.JSONContentType)
	case c.cbor:
		w.Header().Set(awsproto.SmithyProtocolName, awsproto.SmithyProtocol)
		if len(body) > 0 {
			w.Header().Set("Content-Type", awsproto.CBORContentType)
		}
	default:
		w.Header().Set("Content-Type", "text/xml")
	}
	w.Header().Set("x-amzn-RequestId", c.id)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
	h.logRequest(c, status)
}
