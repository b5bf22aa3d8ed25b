package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cachalot-dev/cachalot/internal/api/cachalotapi"
	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// The access commands call Cachalot's own ElastiCache actions
// (docs/api-extensions.md), signed with SigV4 like every request: with the
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) of the
// environment when set, else the data dir's root credentials.

// apiClient signs and sends requests to the endpoint.
type apiClient struct {
	url    string
	region string
	creds  aws.Credentials
	http   *http.Client
}

// newAPI returns the client of Cachalot's own actions.
func newAPI(dataDir, region string) (cachalotapi.Client, error) {
	c, err := newAPIClient(dataDir, region)
	if err != nil {
		return cachalotapi.Client{}, err
	}
	return cachalotapi.Client{Caller: c}, nil
}

func newAPIClient(dataDir, region string) (*apiClient, error) {
	c := &apiClient{region: region, http: &http.Client{Timeout: 2 * time.Minute}}
	if u := os.Getenv("AWS_ENDPOINT_URL"); u != "" {
		c.url = u
	} else if b, err := os.ReadFile(filepath.Join(dataDir, app.EndpointFile)); err == nil {
		c.url = strings.TrimSpace(string(b))
	} else {
		return nil, fmt.Errorf("no running service for %s (set AWS_ENDPOINT_URL or --data-dir): %w", dataDir, err)
	}
	if ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); ak != "" && sk != "" {
		c.creds = aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk, SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
		return c, nil
	}
	creds, err := app.ReadCredentials(dataDir)
	if err != nil {
		return nil, fmt.Errorf("no AWS_* credentials and none in %s: %w", dataDir, err)
	}
	c.creds = aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}
	return c, nil
}

// Call sends one request of svc, signed for its signing name, and decodes the
// response into out (awsproto.Caller).
func (c *apiClient) Call(ctx context.Context, svc awsproto.Service, op awsproto.Operation, in, out any) error {
	body := awsproto.EncodeRequest(svc, op, in).Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), svc.SigningName, c.region, time.Now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	return awsproto.DecodeResponse(svc, op, resp.StatusCode, b, out)
}

func accessFlags(name string, args []string, stderr io.Writer) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := dataDirFlag(fs, args)
	region := fs.String("region", envOr("AWS_DEFAULT_REGION", "us-east-1"), "region")
	return fs, dataDir, region
}

func accessTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 2*time.Minute)
}

// connectCompute: cachalot connect-compute --cache ID --instance i-…
func connectCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dataDir, region := accessFlags("connect-compute", args, stderr)
	cache := fs.String("cache", "", "cache cluster id")
	instance := fs.String("instance", "", "instance id (i-…)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cache == "" || *instance == "" {
		return errors.New("usage: cachalot connect-compute --cache ID --instance i-…")
	}
	c, err := newAPI(*dataDir, *region)
	if err != nil {
		return err
	}
	ctx, cancel := accessTimeout(ctx)
	defer cancel()
	r, err := c.ConnectCompute(ctx, &cachalotapi.ConnectComputeMessage{CacheClusterId: cache, InstanceId: instance})
	if err != nil {
		return err
	}
	conn := r.Connection
	if conn == nil {
		conn = &cachalotapi.ComputeConnection{}
	}
	verb := map[string]string{"none": "already connected, nothing changed", "create": "created a new pair of security groups",
		"associate": "associated the existing instance-side group with the instance"}[aws.ToString(r.Action)]
	fmt.Fprintf(stdout, "%s (decision table row %d: %s)\n", verb, aws.ToInt32(r.DecisionRow), aws.ToString(r.Reason))
	fmt.Fprintf(stdout, "cache    %s: %s (%s)\n", aws.ToString(conn.CacheClusterId), aws.ToString(conn.CacheSecurityGroupId), aws.ToString(conn.CacheSecurityGroupName))
	fmt.Fprintf(stdout, "instance %s: %s (%s) on %s\n", aws.ToString(conn.InstanceId), aws.ToString(conn.InstanceSecurityGroupId), aws.ToString(conn.InstanceSecurityGroupName), aws.ToString(conn.NetworkInterfaceId))
	fmt.Fprintf(stdout, "port     tcp/%d in %s\n", aws.ToInt32(conn.Port), aws.ToString(conn.VpcId))
	return nil
}

// disconnectCompute: cachalot disconnect-compute --cache ID --instance i-…
func disconnectCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dataDir, region := accessFlags("disconnect-compute", args, stderr)
	cache := fs.String("cache", "", "cache cluster id")
	instance := fs.String("instance", "", "instance id (i-…)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cache == "" || *instance == "" {
		return errors.New("usage: cachalot disconnect-compute --cache ID --instance i-…")
	}
	c, err := newAPI(*dataDir, *region)
	if err != nil {
		return err
	}
	ctx, cancel := accessTimeout(ctx)
	defer cancel()
	out, err := c.DisconnectCompute(ctx, &cachalotapi.ConnectComputeMessage{CacheClusterId: cache, InstanceId: instance})
	if err != nil {
		return err
	}
	if len(out.RemovedSecurityGroupIds) == 0 {
		fmt.Fprintln(stdout, "no compute connection to remove")
		return nil
	}
	fmt.Fprintln(stdout, "removed", strings.Join(out.RemovedSecurityGroupIds, " "))
	return nil
}

// connectedCompute: cachalot connected-compute --cache ID
func connectedCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dataDir, region := accessFlags("connected-compute", args, stderr)
	cache := fs.String("cache", "", "cache cluster id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cache == "" {
		return errors.New("usage: cachalot connected-compute --cache ID")
	}
	c, err := newAPI(*dataDir, *region)
	if err != nil {
		return err
	}
	ctx, cancel := accessTimeout(ctx)
	defer cancel()
	out, err := c.DescribeConnectedComputeResources(ctx, &cachalotapi.DescribeConnectedComputeResourcesMessage{CacheClusterId: cache})
	if err != nil {
		return err
	}
	for _, r := range out.ConnectedComputeResources {
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\n", aws.ToString(r.InstanceId), aws.ToString(r.NetworkInterfaceId), aws.ToString(r.PrivateIpAddress),
			aws.ToString(r.InstanceSecurityGroupId), aws.ToString(r.CacheSecurityGroupId))
	}
	return nil
}

// explainReachability: cachalot explain --from i-… --to CACHE [--port N];
// exit status 0 when allowed, 3 when denied.
func explainReachability(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs, dataDir, region := accessFlags("explain", args, stderr)
	from := fs.String("from", "", "instance id (i-…), or 'host' for this host through the cache's published endpoints")
	to := fs.String("to", "", "cache cluster id")
	port := fs.Int("port", 0, "TCP port (default: the cache's port)")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	if *from == "" || *to == "" {
		return 2, errors.New("usage: cachalot explain --from i-…|host --to CACHE_ID [--port N]")
	}
	c, err := newAPI(*dataDir, *region)
	if err != nil {
		return 1, err
	}
	ctx, cancel := accessTimeout(ctx)
	defer cancel()
	in := &cachalotapi.ExplainCacheReachabilityMessage{CacheClusterId: to, InstanceId: from}
	if *from == "host" {
		in.InstanceId, in.FromHost = nil, aws.Bool(true)
	}
	if *port > math.MaxInt32 || *port < math.MinInt32 {
		return 2, fmt.Errorf("--port %d is not an integer the API takes", *port)
	}
	if *port != 0 {
		in.Port = aws.Int32(int32(*port))
	}
	out, err := c.ExplainCacheReachability(ctx, in)
	if err != nil {
		return 1, err
	}
	fmt.Fprintln(stdout, aws.ToString(out.Explanation))
	if !aws.ToBool(out.Allowed) {
		return 3, nil
	}
	return 0, nil
}
