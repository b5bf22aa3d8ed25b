package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// driver is what supervision needs of one engine kind; the engine's own
// knowledge (configuration language, protocol) lives in its sub-package
// (internal/engine/redis, internal/engine/memcached) and the driver adapts
// a NodeSpec to it. Supervision itself (launch, adopt, watch, restart,
// stop) is the same for every kind.
type driver interface {
	// defaultPort is the port of a spec without one.
	defaultPort() int
	// render returns the command line that starts the engine and the
	// files, named relative to the node directory, it needs written first.
	render(spec NodeSpec, node nodeEnv) (rendered, error)
	// ping reports whether the engine at addr answers, reached as admin.
	ping(ctx context.Context, dial DialFunc, addr string, admin redis.Admin) error
	// applyLive applies parameter changes (already merged into spec) to
	// the running engine, reached as admin. It returns the names that
	// wait for a reboot, or restart=true when the engine has no live
	// configuration and must be restarted to take them. An error wrapped
	// in unreachable means the engine could not be reached: it restarts
	// with the new values.
	applyLive(ctx context.Context, spec NodeSpec, admin redis.Admin, changes map[string]string) (pending []string, restart bool, err error)
	// logFile is the engine's own log in its data directory, "" if none.
	logFile() string
}

// nodeEnv is what a driver renders from besides the spec: facts about the
// node directory and the host.
type nodeEnv struct {
	id, dir string
	fdLimit int         // hard RLIMIT_NOFILE the engine inherits; 0 unknown
	admin   redis.Admin // the node's secrets (Redis/Valkey)
	// upstream is the primary a replica follows, with its admin password
	// (role.go); nil for a primary.
	upstream *redis.Upstream
}

// rendered is a driver's output. The engine starts in the node's data
// directory, which is its working directory, and names every file
// relative to it: running as its own identity, it may not traverse the
// path to it.
type rendered struct {
	argv  []string          // binary first
	files map[string][]byte // written to the node directory first
	// stdin names the one of files the engine reads on standard input
	// (its configuration); "" for none.
	stdin string
	// dataFiles are written into the engine's data directory, for its
	// identity only (tls.go): its TLS certificate and key.
	dataFiles map[string][]byte
	// dataLimit, when positive, is the RLIMIT_DATA the engine runs under.
	dataLimit int64
}

// unreachable marks an error reaching a running engine; its message is
// the wrapped error's.
type unreachable struct{ error }

func (u unreachable) Unwrap() error { return u.error }

// driverFor returns the driver of an ElastiCache engine name.
func driverFor(engine string) (driver, error) {
	switch engine {
	case catalog.Redis, catalog.Valkey:
		return redisDriver{}, nil
	case catalog.Memcached:
		return memcachedDriver{}, nil
	}
	return nil, fmt.Errorf("unknown engine %q", engine)
}

// redisDriver runs Redis OSS and Valkey: redis.conf in the node directory,
// CONFIG SET for immediate parameters.
type redisDriver struct{}

func (redisDriver) defaultPort() int { return redis.DefaultPort }
func (redisDriver) logFile() string  { return redis.LogFile }

func (redisDriver) render(spec NodeSpec, node nodeEnv) (rendered, error) {
	in := spec.Engine
	if spec.SecondPort != 0 {
		return rendered{}, fmt.Errorf("node %s: a second port is for memcached only", spec.NodeID)
	}
	var tlsNames *redis.TLS
	if spec.TLS != nil {
		n := spec.TLS.names()
		n.Split = spec.Split
		tlsNames = &n
	}
	conf, err := redis.RenderConf(in.Family, redis.Config{
		NodeID: node.id, BindIP: spec.BindIP, Port: spec.port(), MaxMemory: spec.MaxMemory,
		Dir: ".", Save: spec.Save, Parameters: spec.Parameters, FDLimit: node.fdLimit, Admin: node.admin,
		ReplicaOf: node.upstream, TLS: tlsNames, AuthTokens: spec.AuthTokens, AnnounceHostname: spec.AnnounceHostname, Users: spec.Users,
	})
	if err != nil {
		return rendered{}, err
	}
	// The configuration comes on standard input ("-"): redis-server opens
	// a configuration file by its absolute path, which the node's identity
	// may not traverse, and the file holds the node's secrets.
	name := in.Engine + ".conf"
	r := rendered{argv: []string{in.Path, "-"}, files: map[string][]byte{name: conf}, stdin: name}
	if spec.TLS != nil {
		r.dataFiles = spec.TLS.files()
	}
	return r, nil
}

func (redisDriver) ping(ctx context.Context, dial DialFunc, addr string, admin redis.Admin) error {
	return admin.Ping(ctx, dial, addr)
}

func (redisDriver) applyLive(ctx context.Context, spec NodeSpec, admin redis.Admin, changes map[string]string) ([]string, bool, error) {
	cmds, pending, err := redis.LiveChanges(spec.Engine.Family, spec.Parameters, spec.MaxMemory, changes)
	if err != nil {
		return nil, false, err
	}
	if len(cmds) == 0 {
		return pending, false, nil
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return nil, false, unreachable{err}
	}
	defer c.Close()
	for i, args := range cmds {
		if _, err := admin.Do(ctx, c, args...); err != nil {
			// The commands before it (cmds[:i]) did take effect.
			return nil, false, fmt.Errorf("%v refused after %d applied: %w", args[2:], i, err)
		}
	}
	return pending, false, nil
}

// memcachedDriver runs memcached: everything on the command line, no live
// configuration.
type memcachedDriver struct{}

func (memcachedDriver) defaultPort() int { return memcached.DefaultPort }
func (memcachedDriver) logFile() string  { return "" }

func (memcachedDriver) render(spec NodeSpec, node nodeEnv) (rendered, error) {
	in := spec.Engine
	mb := spec.MaxMemory >> 20
	cfg := memcached.Config{
		BindIP: spec.BindIP, Port: spec.port(), SecondPort: spec.SecondPort, MemoryMB: mb,
		FDLimit: node.fdLimit, Parameters: spec.Parameters,
	}
	r := rendered{dataLimit: memcached.DataLimit(mb)}
	if spec.TLS != nil {
		t := memcachedTLS
		cfg.TLS = &t
		r.dataFiles = spec.TLS.filesFor(catalog.Memcached)
	}
	var err error
	r.argv, err = memcached.Args(in.Path, in.Family, cfg)
	// No -u: the supervisor starts memcached as the node's own identity.
	return r, err
}

func (memcachedDriver) ping(ctx context.Context, dial DialFunc, addr string, admin redis.Admin) error {
	return memcached.Ping(ctx, dial, addr, admin.TLS)
}

func (memcachedDriver) applyLive(context.Context, NodeSpec, redis.Admin, map[string]string) ([]string, bool, error) {
	return nil, true, nil
}

// isUnreachable reports whether err says the engine could not be reached.
func isUnreachable(err error) bool {
	var u unreachable
	return errors.As(err, &u)
}
