package cachectl

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
)

// IAM authentication (ElastiCache users with AuthenticationMode iam). A
// client authenticates as an IAM user by sending, as the password of AUTH
// or HELLO … AUTH, a SigV4-presigned token that only the daemon can check
// (internal/iamauth, injected as Config.IAM). A stock engine cannot, so
// the cache port of a node whose ACL has an IAM user is served by a front
// of the daemon in the node's network (as preferred's, front.go), which
// terminates TLS with the group's certificate (and, in preferred, takes
// plaintext too) and passes the client's commands to the engine on its
// Unix socket (engine.NodeStatus.Socket: no plaintext port of the
// network). It reads the client's commands only to find AUTH and HELLO …
// AUTH (resp.go): for an IAM user it checks the token and gives the
// engine, in its place, the user's derived password (a valid token) or
// one that never matches (any other); the engine answers OK or
// WRONGPASS itself, in order, and applies the user's access string. The
// engine's replies pass verbatim.
//
// The engine knows an IAM user by the SHA-256 of its derived password,
// HMAC-SHA256(Config.IAMSecret, "iam:"+user): the secret is the
// installation's (a 0600 file of the data directory), never logged;
// nothing outside the daemon knows a derived password.
//
// ElastiCache closes an IAM-authenticated connection 12 hours after its
// last successful IAM AUTH or HELLO (Config.IAMReauth); so does the front.
//
// The engine listens with TLS on a port of its own at the node's address
// (engine.Split with no plaintext port): the supervisor reaches it there,
// and so does the cluster bus (port+10000). Replicas reach their primary
// at its cache port, through its front, as the admin user.

// TokenCheck is an IAM authentication to verify (iamauth.Check).
type TokenCheck struct {
	Account, Region string
	Cache           string // replication group id or serverless cache name
	Serverless      bool
	User            string
}

// TokenVerifier checks IAM authentication tokens (internal/iamauth,
// bound by the wiring): nil when token lets the client connect as
// c.User.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, c TokenCheck, token string) error
}

// DefaultIAMReauth is how long an IAM-authenticated connection lasts
// without a new IAM AUTH or HELLO: 12 hours, as on ElastiCache.
const DefaultIAMReauth = 12 * time.Hour

// iamConf is what an IAM front serves with; the controller replaces it
// live (a renewed certificate, users added or removed).
type iamConf struct {
	cert   *tls.Certificate
	plain  bool // preferred: plaintext accepted too
	check  TokenCheck
	users  map[string]bool // the engine names of the IAM users
	verify TokenVerifier
	secret []byte
	reauth time.Duration
	// ecpu meters commands against the serverless cache's ECPU/s
	// maximum (ecpu.go); nil without one.
	ecpu *rate.Limiter
}

// frontMode reports whether a cluster's nodes are served by a terminating
// front: in-transit encryption and an IAM user in its ACL, or
// TransitEncryptionMode preferred (plaintext and TLS on the cache port),
// or a serverless cache's ECPU/s maximum to meter (ecpu.go).
// In preferred, terminating TLS in the daemon and passing commands on the
// engine's Unix socket costs less than splicing to the engine's own TLS
// and plaintext ports (bench/tls): the engine's one thread does no TLS.
func frontMode(cl *elasticache.Cluster) bool {
	if cl.TransitEncryptionMode == "" || cl.Engine == "memcached" {
		return false
	}
	if cl.TransitEncryptionMode == elasticache.TransitPreferred || (cl.ServerlessCache != "" && cl.ECPULimit > 0) {
		return true
	}
	for _, u := range cl.ACL {
		if u.IAM {
			return true
		}
	}
	return false
}

// iamPassword is the password the engine knows IAM user by.
func iamPassword(secret []byte, user string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("iam:" + user))
	return hex.EncodeToString(m.Sum(nil))
}

// iamHashRule is the engine's ACL rule for iamPassword.
func iamHashRule(secret []byte, user string) string {
	sum := sha256.Sum256([]byte(iamPassword(secret, user)))
	return "#" + hex.EncodeToString(sum[:])
}

// refusedPassword is what the engine gets for a refused token: random,
// so no ACL password hash matches it.
var refusedPassword = func() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "iam-token-refused-" + hex.EncodeToString(b)
}()

// iamCheck is the TokenCheck of a cluster's nodes, but for the user.
func iamCheck(cl *elasticache.Cluster) TokenCheck {
	c := TokenCheck{Account: cl.Account, Region: cl.Region, Cache: cl.ReplicationGroupID}
	if cl.ServerlessCache != "" {
		c.Cache, c.Serverless = cl.ServerlessCache, true
	}
	return c
}

// dialUnix connects to a Unix socket; a path too long for sockaddr_un is
// reached through its directory's descriptor.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	if len(path) < 100 {
		return d.DialContext(ctx, "unix", path)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return d.DialContext(ctx, "unix", "/proc/self/fd/"+strconv.Itoa(int(dir.Fd()))+"/"+filepath.Base(path))
}

// handleConn serves one connection of a front: TLS terminated (or
// plaintext in preferred), commands to the engine's socket through the
// AUTH rewriter, replies back verbatim.
func (f *front) handleConn(c net.Conn) {
	defer f.forget(c)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-f.done:
		case <-ctx.Done():
		}
		c.Close()
	}()
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return
	}
	conf := f.iam.Load()
	pc := &prefixConn{Conn: c, first: first[:]}
	var client net.Conn = pc
	kind := frontPlain
	if first[0] == tlsRecordHandshake {
		kind = frontTLS
		tc := tls.Server(pc, &tls.Config{MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return f.iam.Load().cert, nil }})
		hctx, hcancel := context.WithTimeout(ctx, 30*time.Second)
		err := tc.HandshakeContext(hctx)
		hcancel()
		if err != nil {
			return
		}
		client = tc
	} else if !conf.plain {
		return // required: TLS only
	}
	if !f.track(c, kind) {
		return
	}
	up, err := dialUnix(ctx, f.unix)
	if err != nil {
		f.log.Debug("front: dial engine", "socket", f.unix, "err", err)
		return
	}
	defer up.Close()
	var (
		mu    sync.Mutex
		timer *time.Timer
	)
	defer func() {
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
	}()
	authed := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if timer == nil {
			timer = time.AfterFunc(d, func() { c.Close(); up.Close() })
			return
		}
		timer.Reset(d)
	}
	counted := &countingReader{r: client}
	rw := &authRewriter{r: bufio.NewReaderSize(counted, 16<<10), w: bufio.NewWriterSize(up, 16<<10),
		auth: func(user, pass string) (string, bool) {
			cf := f.iam.Load()
			if !cf.users[user] {
				return "", false
			}
			check := cf.check
			check.User = user
			if cf.verify == nil {
				f.log.Info("IAM authentication refused: no verifier configured", "cache", check.Cache, "user", user)
				return refusedPassword, true
			}
			if err := cf.verify.VerifyToken(ctx, check, pass); err != nil {
				f.log.Info("IAM authentication refused", "cache", check.Cache, "user", user, "reason", err)
				return refusedPassword, true
			}
			authed(cf.reauth)
			return iamPassword(cf.secret, user), true
		}}
	if lim := conf.ecpu; lim != nil {
		var metered int64 // bytes of the commands metered so far
		rw.metered = func() {
			read := counted.n - int64(rw.r.Buffered())
			cost := ecpuCost(read - metered)
			metered = read
			_ = lim.WaitN(ctx, min(cost, lim.Burst())) // ends with the connection
		}
	}
	errc := make(chan struct{})
	go func() {
		defer close(errc)
		_, _ = io.Copy(client, up)
		c.Close()
	}()
	_ = rw.run()
	up.Close()
	c.Close()
	<-errc
}

// prefixConn is a connection whose first bytes were already read.
type prefixConn struct {
	net.Conn
	first []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.first) > 0 {
		n := copy(b, p.first)
		p.first = p.first[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// iamConfOf is the IAM front configuration of a cluster's nodes.
func (c *Controller) iamConfOf(cl *elasticache.Cluster, t *tlsPair) (*iamConf, error) {
	cert, err := tls.X509KeyPair(t.cert, t.key)
	if err != nil {
		return nil, fmt.Errorf("IAM front certificate: %w", err)
	}
	users := map[string]bool{}
	for _, u := range cl.ACL {
		if u.IAM {
			users[u.Name] = true
		}
	}
	reauth := c.cfg.IAMReauth
	if reauth <= 0 {
		reauth = DefaultIAMReauth
	}
	return &iamConf{cert: &cert, plain: cl.TransitEncryptionMode == elasticache.TransitPreferred, check: iamCheck(cl),
		users: users, verify: c.cfg.IAM, secret: c.cfg.IAMSecret, reauth: reauth, ecpu: c.ecpu.of(cl)}, nil
}

// tlsPair is a certificate and key in PEM.
type tlsPair struct{ cert, key []byte }
