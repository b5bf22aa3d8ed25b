package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cachalot-dev/cachalot/internal/app"
)

// The access commands call Cachalot's own ElastiCache actions
// (docs/api-extensions.md), signed with SigV4 like every request: with the
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) of the
// environment when set, else the data dir's root credentials.

// apiClient signs awsQuery requests to the ElastiCache endpoint.
type apiClient struct {
	url    string
	region string
	creds  aws.Credentials
	http   *http.Client
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

// apiError is an awsQuery error response.
type apiError struct {
	Code    string `xml:"Error>Code"`
	Message string `xml:"Error>Message"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// call runs action with params and decodes the <ActionResult> into out.
func (c *apiClient) call(ctx context.Context, action string, params url.Values, out any) error {
	params.Set("Action", action)
	params.Set("Version", "2015-02-02")
	body := params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), "elasticache", c.region, time.Now()); err != nil {
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
	if resp.StatusCode != http.StatusOK {
		var e apiError
		if xml.Unmarshal(b, &e) == nil && e.Code != "" {
			return &e
		}
		return fmt.Errorf("%s: HTTP %d: %s", action, resp.StatusCode, b)
	}
	return xml.Unmarshal(b, out)
}

type xmlConnection struct {
	CacheClusterId            string
	InstanceId                string
	NetworkInterfaceId        string
	PrivateIpAddress          string
	VpcId                     string
	Port                      int
	CacheSecurityGroupId      string
	CacheSecurityGroupName    string
	InstanceSecurityGroupId   string
	InstanceSecurityGroupName string
}

func accessFlags(name string, stderr io.Writer) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := dataDirFlag(fs)
	region := fs.String("region", envOr("AWS_DEFAULT_REGION", "us-east-1"), "region")
	return fs, dataDir, region
}

func accessTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 2*time.Minute)
}

// connectCompute: cachalot connect-compute --cache ID --instance i-…
func connectCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dataDir, region := accessFlags("connect-compute", stderr)
	cache := fs.String("cache", "", "cache cluster id")
	instance := fs.String("instance", "", "instance id (i-…)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cache == "" || *instance == "" {
		return errors.New("usage: cachalot connect-compute --cache ID --instance i-…")
	}
	c, err := newAPIClient(*dataDir, *region)
	if err != nil {
		return err
	}
	ctx, cancel := accessTimeout(ctx)
	defer cancel()
	var out struct {
		R struct {
			Action      string
			DecisionRow int
			Reason      string
			Connection  xmlConnection
		} `xml:"ConnectComputeResult"`
	}
	if err := c.call(ctx, "ConnectCompute", url.Values{"CacheClusterId": {*cache}, "InstanceId": {*instance}}, &out); err != nil {
		return err
	}
	r := out.R
	verb := map[string]string{"none": "already connected, nothing changed", "create": "created a new pair of security groups",
		"associate": "associated the existing instance-side group with the instance"}[r.Action]
	fmt.Fprintf(stdout, "%s (decision table row %d: %s)\n", verb, r.DecisionRow, r.Reason)
	fmt.Fprintf(stdout, "cache    %s: %s (%s)\n", r.Connection.CacheClusterId, r.Connection.CacheSecurityGroupId, r.Connection.CacheSecurityGroupName)
	fmt.Fprintf(stdout, "instance %s: %s (%s) on %s\n", r.Connection.InstanceId, r.Connection.InstanceSecurityGroupId, r.Connection.InstanceSecurityGroupName, r.Connection.NetworkInterfaceId)
	fmt.Fprintf(stdout, "port     tcp/%d in %s\n", r.Connection.Port, r.Connection.VpcId)
	return nil
}

// disconnectCompute: cachalot disconnect-compute --cache ID --instance i-…
func disconnectCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dataDir, region := accessFlags("disconnect-compute", stderr)
	cache := fs.String("cache", "", "cache cluster id")
	instance := fs.String("instance", "", "instance id (i-…)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cache == "" || *instance == "" {
		return errors.New("usage: cachalot disconnect-compute --cache ID --instance i-…")
	}
	c, err := newAPIClient(*dataDir, *region)
	if err != nil {
		return err
	}
	ctx, cancel := accessTimeout(ctx)
	defer cancel()
	var out struct {
		Removed []string `xml:"DisconnectComputeResult>RemovedSecurityGroupIds>SecurityGroupId"`
	}
	if err := c.call(ctx, "DisconnectCompute", url.Values{"CacheClusterId": {*cache}, "InstanceId": {*instance}}, &out); err != nil {
		return err
	}
	if len(out.Removed) == 0 {
		fmt.Fprintln(stdout, "no compute connection to remove")
		return nil
	}
	fmt.Fprintln(stdout, "removed", strings.Join(out.Removed, " "))
	return nil
}

// connectedCompute: cachalot connected-compute --cache ID
func connectedCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dataDir, region := accessFlags("connected-compute", stderr)
	cache := fs.String("cache", "", "cache cluster id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cache == "" {
		return errors.New("usage: cachalot connected-compute --cache ID")
	}
	c, err := newAPIClient(*dataDir, *region)
	if err != nil {
		return err
	}
	ctx, cancel := accessTimeout(ctx)
	defer cancel()
	var out struct {
		Rs []xmlConnection `xml:"DescribeConnectedComputeResourcesResult>ConnectedComputeResources>member"`
	}
	if err := c.call(ctx, "DescribeConnectedComputeResources", url.Values{"CacheClusterId": {*cache}}, &out); err != nil {
		return err
	}
	for _, r := range out.Rs {
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\n", r.InstanceId, r.NetworkInterfaceId, r.PrivateIpAddress, r.InstanceSecurityGroupId, r.CacheSecurityGroupId)
	}
	return nil
}

// explainReachability: cachalot explain --from i-… --to CACHE [--port N];
// exit status 0 when allowed, 3 when denied.
func explainReachability(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs, dataDir, region := accessFlags("explain", stderr)
	from := fs.String("from", "", "instance id (i-…)")
	to := fs.String("to", "", "cache cluster id")
	port := fs.Int("port", 0, "TCP port (default: the cache's port)")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	if *from == "" || *to == "" {
		return 2, errors.New("usage: cachalot explain --from i-… --to CACHE_ID [--port N]")
	}
	c, err := newAPIClient(*dataDir, *region)
	if err != nil {
		return 1, err
	}
	ctx, cancel := accessTimeout(ctx)
	defer cancel()
	params := url.Values{"CacheClusterId": {*to}, "InstanceId": {*from}}
	if *port != 0 {
		params.Set("Port", strconv.Itoa(*port))
	}
	var out struct {
		Allowed     bool   `xml:"ExplainCacheReachabilityResult>Allowed"`
		Explanation string `xml:"ExplainCacheReachabilityResult>Explanation"`
	}
	if err := c.call(ctx, "ExplainCacheReachability", params, &out); err != nil {
		return 1, err
	}
	fmt.Fprintln(stdout, out.Explanation)
	if !out.Allowed {
		return 3, nil
	}
	return 0, nil
}
