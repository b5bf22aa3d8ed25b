// Command iamauth measures the cost of the IAM authentication front
// (issue 14's figure for IAM-authenticated connections) through the real
// product: it starts `cachalot serve` (as root, namespaces network mode)
// with a fresh data dir, launches one EC2 instance, creates an IAM user
// allowed elasticache:Connect, an ElastiCache user with AuthenticationMode
// iam and a password user in a user group, and a one-node TLS replication
// group with that group — its cache port is served by the IAM front
// (internal/cachectl/iamfront.go), its engine listens with TLS on a port
// of its own. From inside the instance, in the same rounds, alternating:
// redis-benchmark --tls (1) through the front authenticated with an IAM
// token (aws-sdk-go-v2's presigner), (2) through the front with the
// password user, (3) the same engine's own TLS port directly with the
// password user. It prints a Markdown report on stdout, progress on
// stderr; everything started is removed on exit. Usage (as root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/iamauth [-requests 20000] [-rounds 5] > bench/iamauth/RESULTS.md
package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

type options struct {
	bin              string
	requests, rounds int
	clients          int
	keep             bool
}

const (
	groupID    = "iambench"
	iamUser    = "iam-bench"
	writerPass = "writer-password-0123456789"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.IntVar(&o.requests, "requests", 20000, "redis-benchmark requests per test")
	flag.IntVar(&o.rounds, "rounds", 5, "alternating rounds over the three targets")
	flag.IntVar(&o.clients, "c", 50, "redis-benchmark parallel connections")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for the server log) after the run")
	flag.Parse()
	cachalotproc.Main(func(ctx context.Context) error { return run(ctx, o) })
}

type target struct {
	name string
	argv func() *exec.Cmd
}

func run(ctx context.Context, o options) error {
	fmt.Printf("# IAM authentication through the product: the cost of the front\n\n")
	hostinfo.PrintGenerated("iamauth")
	b, err := cachalotproc.StartBench(ctx, o.bin, cachalotproc.Options{
		DirPrefix: "cachalot-iambench-", Key: "AKIAIAMBENCHBENCHBNC", Secret: "iambench-secret", LogLevel: "warn",
	}, o.keep)
	if err != nil {
		return err
	}
	defer b.Close()
	srv, inst, ca := b.Server, b.Inst, b.CA
	cred, err := iamPrincipal(ctx, srv)
	if err != nil {
		return err
	}
	host, err := createGroup(ctx, srv)
	if err != nil {
		return err
	}
	// The engine's own TLS port in IAM mode (cachectl splitPorts: the
	// cache port + 20001).
	const direct = "26380"
	n, c := strconv.Itoa(o.requests), strconv.Itoa(o.clients)
	bench := func(port, user, pass string) *exec.Cmd {
		return srv.ExecCmd(ctx, inst.ID, "redis-benchmark", "--tls", "--cacert", ca, "-h", host, "-p", port,
			"--user", user, "-a", pass, "-c", c, "-n", n, "-t", "set,get", "--csv")
	}
	targets := []target{
		{"IAM front, IAM token", func() *exec.Cmd { return bench("6379", iamUser, token(cred, time.Now())) }},
		{"IAM front, password user", func() *exec.Cmd { return bench("6379", "writer", writerPass) }},
		{"engine's TLS port, password user", func() *exec.Cmd { return bench(direct, "writer", writerPass) }},
	}
	res := map[string]map[string][]float64{}
	for r := range o.rounds {
		order := slices.Clone(targets)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range order {
			got, err := benchmark(t.argv())
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if res[t.name] == nil {
				res[t.name] = map[string][]float64{}
			}
			for test, rps := range got {
				res[t.name][test] = append(res[t.name][test], rps)
			}
			log.Printf("round %d %s: %v", r+1, t.name, got)
		}
	}
	fmt.Printf("`redis-benchmark --tls --cacert <cachalot ca> --user U -a P -c %d -n %d -t set,get --csv` from inside an instance, "+
		"%d rounds, the order of the three targets reversed every other round, against one cache.t3.micro node of a TLS "+
		"replication group whose user group has an IAM user: (1) %s: its cache port (6379, the front terminates TLS, reads "+
		"the commands for AUTH/HELLO, verifies the token once per connection and passes the bytes to the engine's Unix "+
		"socket; replies copied back), AUTH with a fresh token of an IAM user allowed elasticache:Connect; (2) %s: the same "+
		"path, AUTH with a password; (3) %s: the same engine's own TLS listener (port %s at the node's address), "+
		"nothing of Cachalot in the path. Medians of requests/s; ratios per round, median.\n\n",
		o.clients, o.requests, o.rounds, targets[0].name, targets[1].name, targets[2].name, direct)
	fmt.Printf("| test | (1) %s | (2) %s | (3) %s | (1)/(3) | (2)/(3) |\n|---|---|---|---|---|---|\n", targets[0].name, targets[1].name, targets[2].name)
	for _, test := range []string{"SET", "GET"} {
		r := func(i int) []float64 { return res[targets[i].name][test] }
		fmt.Printf("| %s | %.0f | %.0f | %.0f | %.2f | %.2f |\n", test, median(r(0)), median(r(1)), median(r(2)), ratio(r(0), r(2)), ratio(r(1), r(2)))
	}
	fmt.Printf("\nLoad average at the end: %s.\n", hostinfo.LoadAvg())
	return nil
}

// token is an IAM authentication token for iamUser on the group, as
// AWS's examples generate it.
func token(cred aws.Credentials, at time.Time) string {
	q := url.Values{"Action": {"connect"}, "User": {iamUser}, "X-Amz-Expires": {"900"}}
	req, _ := http.NewRequest(http.MethodGet, "http://"+groupID+"/?"+q.Encode(), nil)
	empty := sha256.Sum256(nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), cred, req, hex.EncodeToString(empty[:]), "elasticache", cachalotproc.Region, at)
	if err != nil {
		log.Fatalf("presign: %v", err)
	}
	return strings.TrimPrefix(u, "http://")
}

// iamPrincipal creates an IAM user allowed elasticache:Connect on the
// group and the ElastiCache user, and returns its access key.
func iamPrincipal(ctx context.Context, srv *cachalotproc.Server) (aws.Credentials, error) {
	c := iam.NewFromConfig(aws.Config{Region: cachalotproc.Region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: srv.Key, SecretAccessKey: srv.Secret}}})
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bench")}); err != nil {
		return aws.Credentials{}, err
	}
	arn := "arn:aws:elasticache:" + cachalotproc.Region + ":" + srv.Account + ":"
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:Connect","Resource":["` +
		arn + "replicationgroup:" + groupID + `","` + arn + "user:" + iamUser + `"]}]}`
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bench"), PolicyName: aws.String("connect"), PolicyDocument: aws.String(policy)}); err != nil {
		return aws.Credentials{}, err
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bench")})
	if err != nil {
		return aws.Credentials{}, err
	}
	return aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}, nil
}

// createGroup creates the users, the user group and the one-node TLS
// group, and returns its primary endpoint's name.
func createGroup(ctx context.Context, srv *cachalotproc.Server) (string, error) {
	for _, u := range []*elasticache.CreateUserInput{
		{UserId: aws.String("bench-default"), UserName: aws.String("default"), AccessString: aws.String("off ~* +@all"), NoPasswordRequired: aws.Bool(true)},
		{UserId: aws.String(iamUser), UserName: aws.String(iamUser), AccessString: aws.String("on ~* +@all"),
			AuthenticationMode: &ectypes.AuthenticationMode{Type: ectypes.InputAuthenticationTypeIam}},
		{UserId: aws.String("writer"), UserName: aws.String("writer"), AccessString: aws.String("on ~* +@all"), Passwords: []string{writerPass}},
	} {
		u.Engine = aws.String("redis")
		if _, err := srv.EC.CreateUser(ctx, u); err != nil {
			return "", err
		}
	}
	if _, err := srv.EC.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("benchug"), Engine: aws.String("redis"),
		UserIds: []string{"bench-default", iamUser, "writer"}}); err != nil {
		return "", err
	}
	if _, err := srv.EC.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(groupID),
		ReplicationGroupDescription: aws.String("iam bench"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(1), TransitEncryptionEnabled: aws.Bool(true), UserGroupIds: []string{"benchug"}}); err != nil {
		return "", err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		out, err := srv.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(groupID)})
		if err != nil {
			return "", err
		}
		g := out.ReplicationGroups[0]
		if aws.ToString(g.Status) == "available" && len(g.NodeGroups) > 0 && g.NodeGroups[0].PrimaryEndpoint != nil {
			return aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("group %s not available after 2 minutes", groupID)
}

func benchmark(cmd *exec.Cmd) (map[string]float64, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %w: %s", cmd.Args[:6], err, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, `"`) {
			lines = append(lines, l)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.Join(lines, "\n"))).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", out, err)
	}
	res := map[string]float64{}
	for _, r := range recs {
		if len(r) < 2 || r[0] == "test" {
			continue
		}
		if v, err := strconv.ParseFloat(r[1], 64); err == nil {
			res[r[0]] = v
		}
	}
	if res["SET"] == 0 || res["GET"] == 0 {
		return nil, fmt.Errorf("no SET/GET figures in %q (%s)", out, stderr.String())
	}
	return res, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// ratio is the median of the per-round ratios a[i]/b[i].
func ratio(a, b []float64) float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		rs = append(rs, a[i]/b[i])
	}
	return median(rs)
}
