// Package app is Cachalot's wiring: the one package that imports everything.
// It builds the store, the accounts, the services and their wire bindings,
// the reconcilers and the HTTP listener, starts them in order and closes
// them in reverse. cmd/cachalot and tests construct an App; nothing else
// does.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/cachalot-dev/cachalot/internal/access"
	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/admin"
	"github.com/cachalot-dev/cachalot/internal/api/cachalotapi"
	"github.com/cachalot-dev/cachalot/internal/api/cloudwatchapi"
	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
	"github.com/cachalot-dev/cachalot/internal/cachectl"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/cloudwatch"
	"github.com/cachalot-dev/cachalot/internal/dnsctl"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
	"github.com/cachalot-dev/cachalot/internal/engine"
	ids "github.com/cachalot-dev/cachalot/internal/engine/identity"
	"github.com/cachalot-dev/cachalot/internal/iam"
	"github.com/cachalot-dev/cachalot/internal/iamauth"
	"github.com/cachalot-dev/cachalot/internal/imds"
	"github.com/cachalot-dev/cachalot/internal/instancectl"
	"github.com/cachalot-dev/cachalot/internal/metricsctl"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/pki"
	"github.com/cachalot-dev/cachalot/internal/publishctl"
	"github.com/cachalot-dev/cachalot/internal/reconcile"
	"github.com/cachalot-dev/cachalot/internal/snapctl"
	"github.com/cachalot-dev/cachalot/internal/store"
	"github.com/cachalot-dev/cachalot/internal/telemetry"
	"github.com/cachalot-dev/cachalot/internal/vpcnet"
)

// Network modes.
const (
	// NetworkNamespaces realises VPCs in network namespaces with nftables
	// enforcement (root on Linux).
	NetworkNamespaces = "namespaces"
	// NetworkLoopback is for machines without root or Linux: nothing is
	// realised in the kernel, cache nodes listen on 127.0.0.1 ports of
	// their own, and security groups are NOT enforced.
	NetworkLoopback = "loopback"
)

// ErrOutsideAddress marks an address that cannot be an outside client's
// (OutsideClient).
var ErrOutsideAddress = vpcnet.ErrOutsideAddress

// InstallPrefix is the kernel-object prefix of the installation whose data
// dir is dir: "cl" and five hex digits of the directory's absolute path.
func InstallPrefix(dir string) string { return vpcnet.InstallPrefix(dir) }

// Files in the data directory.
const (
	StoreFile       = "state.db"
	CredentialsFile = "credentials.json" // root credentials, mode 0600
	EndpointFile    = "endpoint"         // URL of the running service
	ResolvDir       = "resolv"           // the VPCs' resolv.conf files (<vpc-id>.conf)
	CADir           = "ca"               // the installation's CA (internal/pki): ca.pem, its key (0600), issued certificates
	// userDataIdentitiesDir is the registry of the accounts' user-data
	// identities (internal/engine/identity, UserData range).
	userDataIdentitiesDir = "user-data-identities"
)

// DefaultAccountID is the account of a fresh installation.
const DefaultAccountID = "000000000000"

// Config configures an App.
type Config struct {
	// Listen is the HTTP address; default 127.0.0.1:4566.
	Listen string
	// DataDir holds the store and credentials; required.
	DataDir string
	// AccountID of the installation's first account; default 000000000000.
	AccountID string
	// RootCredentials of that account; nil: read from the data dir, or
	// generated there on first start.
	RootCredentials *account.Credentials
	// Network is NetworkNamespaces (default as root on Linux) or
	// NetworkLoopback (default otherwise).
	Network string
	// Regions a request may be signed for; default every region of AWS's
	// commercial, China and GovCloud partitions (dnsname.Regions).
	Regions []string
	// PublishAll publishes every cache to the host (serve --publish-all);
	// default false: caches are published one by one (PublishCache).
	PublishAll bool
	// HostsFile is the hosts file where the names of published caches are
	// written (a managed block); default "": none.
	HostsFile string
	// DNSDomain is the domain of endpoint names (serve --dns-domain);
	// default dnsname.DefaultDomain, cache.amazonaws.com. Start refuses one
	// dnsname.ValidateDomain rejects.
	DNSDomain string
	// MetricsInterval is how often every cache node's engine statistics
	// are sampled into the CloudWatch metrics (and /metrics); default
	// metricsctl.DefaultInterval, 10 s.
	MetricsInterval time.Duration
	// IdleEngineHz is the hz of Redis OSS/Valkey engines nothing uses
	// (engine.Config.IdleHz; serve --idle-engine-hz); default 0: 1,
	// negative: engines keep the default 10 always.
	IdleEngineHz int
	// MetricsPerNode adds per-node engine series (labelled by cache cluster
	// and node id) to /metrics (serve --metrics-per-node); default false:
	// only totals by engine, naming no resource.
	MetricsPerNode bool
	// NoFastPath turns off the VPC routers' eBPF fast path for established
	// connections inside a subnet (serve --no-fast-path; netplane's design
	// note, "Fast path"): every packet then crosses the router's nftables.
	NoFastPath bool
	// DataStorageUnit is the bytes of a GB of serverless caches' data
	// storage limits; default 1 GiB. Tests scale it down.
	DataStorageUnit int64
	// IAMReauth is how long an IAM-authenticated cache connection lasts
	// without a new IAM AUTH; default 12 hours, as on ElastiCache. Tests
	// shorten it.
	IAMReauth time.Duration
	Logger    *slog.Logger // default slog.Default()
}

// App is a running Cachalot.
type App struct {
	cfg Config
	log *slog.Logger

	st       *store.Bolt
	accounts *account.Accounts
	creds    account.Credentials
	recon    *reconcile.Manager
	ec2      *ec2.Service
	ec       *elasticache.Service
	plane    *netplane.Plane    // nil in loopback mode
	net      *vpcnet.Controller // the VPC network, in either mode
	engines  *engine.Supervisor
	ecCtl    *cachectl.Controller
	dns      *dnsctl.Controller    // the VPCs' DNS servers
	metadata *instancectl.Metadata // the instances' metadata endpoints
	imds     *imds.Server          // what they serve; watches the store
	ln       net.Listener
	srv      *http.Server
	srvDone  chan struct{}
	admin    *admin.Server
	lock     *dataDirLock // the data dir's LockFile, held from Start to Close
	tel      *telemetry.Telemetry
	cw       *cloudwatch.Service // the CloudWatch metrics of caches
	sampler  *metricsctl.Sampler // samples the engines into cw
}

// New returns an App; it has no side effects.
func New(cfg Config) *App {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:4566"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DNSDomain == "" {
		cfg.DNSDomain = dnsname.DefaultDomain
	}
	if cfg.Network == "" {
		cfg.Network = NetworkLoopback
		if runtime.GOOS == "linux" && os.Geteuid() == 0 {
			cfg.Network = NetworkNamespaces
		}
	}
	return &App{cfg: cfg, log: cfg.Logger}
}

// Start opens the store, ensures the root account, starts the reconcilers and
// begins serving. On error, Close releases whatever was started.
func (a *App) Start(ctx context.Context) error {
	if a.cfg.DataDir == "" {
		return errors.New("data dir is required")
	}
	if err := dnsname.ValidateDomain(a.cfg.DNSDomain); err != nil {
		return err
	}
	if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	lock, err := lockDataDir(a.cfg.DataDir)
	if err != nil {
		return err
	}
	a.lock = lock
	st, err := store.OpenBolt(filepath.Join(a.cfg.DataDir, StoreFile))
	if err != nil {
		return err
	}
	a.st = st
	a.accounts = account.New(st)
	creds, err := a.rootCredentials()
	if err != nil {
		return err
	}
	a.creds = creds
	if _, err := a.accounts.Ensure(ctx, a.cfg.AccountID, creds); err != nil {
		return err
	}

	names, err := loadNamer(ctx, st, a.cfg.DNSDomain)
	if err != nil {
		return err
	}
	profiles := &instanceProfiles{}
	a.ec2 = ec2.New(st, ec2.Config{Accounts: a.accounts, Profiles: profiles, Logger: a.log})
	id, err := buildIdentity(ctx, st, a.accounts, a.ec2, a.log)
	if err != nil {
		return err
	}
	profiles.iam = id.svc
	switch a.cfg.Network {
	case NetworkNamespaces:
		plane, err := netplane.New(netplane.Config{Prefix: InstallPrefix(a.cfg.DataDir), Logger: a.log, NoFastPath: a.cfg.NoFastPath})
		if err != nil {
			return fmt.Errorf("network plane: %w", err)
		}
		a.plane = plane
	case NetworkLoopback:
		a.log.Warn("LOOPBACK NETWORK MODE: cache nodes listen on 127.0.0.1 ports, VPCs are not realised and security groups are NOT enforced; run as root on Linux for the namespaces mode")
	default:
		return fmt.Errorf("unknown network mode %q (want %s or %s)", a.cfg.Network, NetworkNamespaces, NetworkLoopback)
	}
	// The published endpoints, read by the network controller from the
	// access domain (set below, before any controller starts).
	var published func(context.Context) ([]access.HostEndpoint, error)
	a.net = vpcnet.New(vpcnet.Config{EC2: a.ec2, Plane: a.plane, Store: st, ResolvDir: filepath.Join(a.cfg.DataDir, ResolvDir),
		Published: func(ctx context.Context) ([]netplane.PublishedEndpoint, error) {
			return publishedEndpoints(ctx, published)
		}})
	installed, err := engine.Discover(ctx, nil)
	if err != nil {
		a.log.Warn("no cache engines found; install redis-server, valkey-server or memcached", "err", err)
		installed = &catalog.Catalog{}
	}
	ecSvc := elasticache.New(st, elasticache.Config{Network: a.ec2, Engines: installed, Roles: id.svc, Names: names, HostAddrs: a.net,
		DataStorageUnit: a.cfg.DataStorageUnit, Logger: a.log})
	a.ec = ecSvc
	a.cw = cloudwatch.New(cloudwatch.Config{})
	a.tel = a.newTelemetry()
	a.engines = a.newEngines(ecSvc)
	// Cachalot's own ElastiCache actions (docs/api-extensions.md): the
	// compute connection, reachability explanations and publishing to the
	// host of internal/access.
	acc, err := a.accessService(st, names, id.authorizer, ecSvc)
	if err != nil {
		return err
	}
	published = acc.HostEndpoints
	ecOps := refusing(elasticacheapi.OperationTable(ecSvc), elasticache.RefuseParams)
	maps.Copy(ecOps, cachalotapi.OperationTable(acc.API()))
	h := endpoint.New(endpoint.Config{
		Keys:       id.keys,
		Authorizer: id.authorizer,
		Resources:  id.resources,
		Conditions: iam.ConditionKeys,
		Regions:    a.cfg.Regions,
		Logger:     a.log,
		Observe:    a.observeRequest,
		Services: []endpoint.Binding{
			{Service: elasticacheapi.Metadata, Operations: ecOps},
			{Service: stsapi.Metadata, Operations: stsapi.OperationTable(id.sts)},
			{Service: ec2api.Metadata, Operations: refusing(ec2api.OperationTable(a.ec2), ec2.RefuseParams)},
			{Service: iamapi.Metadata, Operations: iamapi.OperationTable(id.iam)},
			{Service: cloudwatchapi.Metadata, Operations: cloudwatchapi.OperationTable(a.cw),
				ActionPrefix: "cloudwatch", JSONTarget: cloudwatchapi.Smithy.Name, CBOR: cloudwatchCBOR()},
		},
	})

	ca, err := pki.Open(filepath.Join(a.cfg.DataDir, CADir), nil)
	if err != nil {
		return fmt.Errorf("certificate authority: %w", err)
	}
	secret, err := iamSecret(a.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("IAM authentication secret: %w", err)
	}
	a.ecCtl = cachectl.New(cachectl.Config{Domain: ecSvc, EC2: a.ec2, Network: a.net, Engines: a.engines, Catalog: installed,
		SnapshotDir: SnapshotsDir(a.cfg.DataDir), Certificates: ca, Logger: a.log,
		IAM: tokenVerifier{&iamauth.Verifier{Keys: id.keys, Authorizer: id.authorizer}}, IAMSecret: secret, IAMReauth: a.cfg.IAMReauth})
	snaps := snapctl.New(snapctl.Config{Domain: ecSvc, Engines: a.engines, Dir: SnapshotsDir(a.cfg.DataDir),
		NodeID: cachectl.EngineNodeID, Loader: a.engines, Catalog: installed, Logger: a.log})
	groups := cachectl.NewGroups(cachectl.GroupConfig{Domain: ecSvc, Engines: a.engines, Logger: a.log, OnFailover: a.tel.ObserveFailover})
	a.imds = imds.New(imds.Config{Instances: a.ec2, Roles: instanceRoles{id.svc}, Logger: a.log})
	a.imds.WatchStore(st)
	a.metadata = instancectl.NewMetadata(a.ec2, a.net, a.imds, a.log)
	userData := instancectl.New(a.ec2, a.net, instancectl.Config{
		Identities: userDataIdentities(a.cfg.DataDir),
		Metadata:   a.metadata,
		Logger:     a.log,
	})
	if err := a.keepHostsFile(); err != nil {
		return err
	}
	pub := publishctl.New(publishctl.Config{Domain: acc, HostsFile: a.cfg.HostsFile, Prefix: InstallPrefix(a.cfg.DataDir), Logger: a.log})
	a.dns = dnsctl.New(dnsctl.Config{EC2: a.ec2, Caches: ecSvc, Network: a.net, Domain: names.Domain(), Logger: a.log})
	a.recon = reconcile.NewManager(st, reconcile.Options{Logger: a.log, Observe: a.tel.ObserveReconcile}, a.net, a.ecCtl, groups, snaps, userData, a.metadata, pub, a.dns)
	a.recon.Start(context.WithoutCancel(ctx))
	a.sampler = metricsctl.New(metricsctl.Config{Caches: ecSvc, Engines: a.engines, Metrics: a.cw,
		EngineNodeID: cachectl.EngineNodeID, Interval: a.cfg.MetricsInterval, Logger: a.log, Hz: a.engines})
	a.sampler.Start(context.WithoutCancel(ctx))

	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
	a.ln = ln
	served, err := a.withConsole(h, id)
	if err != nil {
		return err
	}
	a.srv = endpoint.Server(a.tel.Handler(served), a.log)
	a.srvDone = make(chan struct{})
	go func() {
		defer close(a.srvDone)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server stopped", "err", err)
		}
	}()
	if err := a.startAdmin(); err != nil {
		// Not fatal: the AWS APIs work without it (e.g. a data dir whose path
		// is too long for a Unix socket).
		a.log.Warn("no admin socket: 'cachalot account' commands will not work", "err", err)
	}
	if err := os.WriteFile(filepath.Join(a.cfg.DataDir, EndpointFile), []byte(a.URL()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write endpoint file: %w", err)
	}
	a.log.Info("cachalot serving", "endpoint", a.URL(), "data_dir", a.cfg.DataDir, "account", a.cfg.AccountID)
	return nil
}

// rootCredentials returns the configured root credentials, or those kept in
// the data dir, generating and keeping them on first start.
func (a *App) rootCredentials() (account.Credentials, error) {
	path := filepath.Join(a.cfg.DataDir, CredentialsFile)
	if c := a.cfg.RootCredentials; c != nil {
		return *c, writeCredentials(path, *c)
	}
	if c, err := ReadCredentials(a.cfg.DataDir); err == nil {
		return c, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return account.Credentials{}, err
	}
	c, err := account.NewCredentials()
	if err != nil {
		return account.Credentials{}, err
	}
	return c, writeCredentials(path, c)
}

func writeCredentials(path string, c account.Credentials) error {
	b, _ := json.MarshalIndent(c, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	return nil
}

// ReadCredentials reads the root credentials kept in a data dir.
func ReadCredentials(dataDir string) (account.Credentials, error) {
	var c account.Credentials
	b, err := os.ReadFile(filepath.Join(dataDir, CredentialsFile))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" {
		return c, fmt.Errorf("credentials file in %s is corrupt", dataDir)
	}
	return c, nil
}

// URL is the endpoint URL clients use.
func (a *App) URL() string {
	if a.ln == nil {
		return ""
	}
	return "http://" + a.ln.Addr().String()
}

// RootCredentials are the first account's root credentials.
func (a *App) RootCredentials() account.Credentials { return a.creds }

// AccountID is the first account's id.
func (a *App) AccountID() string { return a.cfg.AccountID }

// Accounts gives access to the installation's accounts.
func (a *App) Accounts() *account.Accounts { return a.accounts }

// Store is the app's store (tests and admin commands).
func (a *App) Store() store.Store { return a.st }

// WaitIdle waits until the reconcilers have converged to the store.
func (a *App) WaitIdle(ctx context.Context) error { return a.recon.WaitIdle(ctx) }

// Close stops serving and releases everything; safe after a partial Start.
// Caches and instances keep running (a restart re-adopts them).
func (a *App) Close() error {
	var errs []error
	if a.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, a.srv.Shutdown(ctx))
		cancel()
		<-a.srvDone
		os.Remove(filepath.Join(a.cfg.DataDir, EndpointFile))
	}
	if a.admin != nil {
		a.admin.Close()
	}
	if a.sampler != nil {
		a.sampler.Close()
	}
	if a.recon != nil {
		errs = append(errs, a.recon.Close())
	}
	if a.ecCtl != nil {
		a.ecCtl.Close()
	}
	if a.metadata != nil {
		a.metadata.Close()
	}
	if a.imds != nil {
		a.imds.Close()
	}
	if a.dns != nil {
		a.dns.Close()
	}
	if a.plane != nil {
		a.plane.Close()
	}
	if a.engines != nil {
		errs = append(errs, a.engines.Close())
	}
	if a.st != nil {
		errs = append(errs, a.st.Close())
	}
	a.lock.release()
	return errors.Join(errs...)
}

// Teardown removes every engine process, user-data process and kernel
// object of the installation whose data dir is dir. It refuses (ErrServing) while a
// serve of dir runs, which would otherwise rebuild or lose track of what
// is removed under it, and holds the data dir's lock while it works so
// that no serve starts meanwhile.
func Teardown(ctx context.Context, dir string, log *slog.Logger) error {
	if _, err := os.Stat(dir); err == nil {
		lock, err := lockDataDir(dir)
		if err != nil {
			return err
		}
		defer lock.release()
	}
	var errs []error
	sup := engine.New(engine.Config{DataDir: EnginesDir(dir), Logger: log})
	errs = append(errs, sup.Teardown(ctx))
	if runtime.GOOS == "linux" && os.Geteuid() == 0 {
		errs = append(errs, instancectl.KillAll(ctx, userDataIdentities(dir)))
		errs = append(errs, TeardownPrefix(ctx, InstallPrefix(dir), log))
	}
	errs = append(errs, removeHostsBlock(dir, InstallPrefix(dir)))
	return errors.Join(errs...)
}

// userDataIdentities is the registry of the accounts' user-data
// identities of the installation whose data dir is dir.
func userDataIdentities(dir string) *ids.Allocator {
	return ids.New(filepath.Join(dir, userDataIdentitiesDir), ids.UserData())
}

// TeardownPrefix removes the kernel objects (namespaces, links, nft tables)
// carrying prefix. It leaves hosts files alone (TeardownHostsFile).
func TeardownPrefix(ctx context.Context, prefix string, log *slog.Logger) error {
	plane, err := netplane.New(netplane.Config{Prefix: prefix, Logger: log})
	if err != nil {
		return err
	}
	return plane.Teardown(ctx)
}

// NetworkMode is the network mode in force.
func (a *App) NetworkMode() string { return a.cfg.Network }

// EC2 is the EC2 service (tests).
func (a *App) EC2() *ec2.Service { return a.ec2 }

// OutsideClient makes (if needed) a simulated client on the internet with
// address addr — a namespace of its own attached to the internet namespace,
// from which the Elastic IPs of VPCs with an internet gateway are reached —
// and returns the netplane id of its namespace, for Plane().Command, Dial
// and Listen. See vpcnet.Controller.AddOutside for the addresses refused.
func (a *App) OutsideClient(ctx context.Context, addr netip.Addr) (string, error) {
	if a.plane == nil {
		return "", fmt.Errorf("outside clients need the namespaces network mode (this service runs in %s mode)", a.cfg.Network)
	}
	return a.net.AddOutside(ctx, addr)
}

// InstanceCommand returns a command that runs argv as on the instance (or
// cache node) owning the interface — in its network namespace, with its
// VPC's resolv.conf naming the VPC's DNS server — as cachalot exec does;
// namespaces mode only.
func (a *App) InstanceCommand(ctx context.Context, interfaceID string, argv ...string) (*exec.Cmd, error) {
	return a.net.InstanceCommand(ctx, interfaceID, argv...)
}

// Plane is the network plane, nil without the namespaces mode.
func (a *App) Plane() *netplane.Plane { return a.plane }

// newEngines builds the engine supervisor: its events become the nodes'
// clusters' events and metrics, and an engine held on crash that dies (a
// replication group's primary) wakes the group controller, which fails
// over.
func (a *App) newEngines(ecSvc *elasticache.Service) *engine.Supervisor {
	engineEvents := a.countEngineEvents(cachectl.EngineEvents(ecSvc, a.log))
	idleHz := a.cfg.IdleEngineHz
	if idleHz == 0 {
		idleHz = 1
	}
	return engine.New(engine.Config{
		DataDir: EnginesDir(a.cfg.DataDir),
		Logger:  a.log,
		IdleHz:  max(idleHz, 0),
		OnEvent: func(e engine.Event) {
			engineEvents(e)
			if e.Type == engine.EventFailed && a.recon != nil {
				a.recon.Wake(cachectl.GroupsName)
			}
		},
	})
}

// cloudwatchCBOR is CloudWatch in the Smithy RPC v2 CBOR protocol, the
// newest SDKs' default: its errors are named by shape ID, in the model's
// Smithy namespace.
func cloudwatchCBOR() *awsproto.SmithyService {
	s := cloudwatchapi.Smithy
	s.Namespace = "com.amazonaws.cloudwatch"
	return &s
}
