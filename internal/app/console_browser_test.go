package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/console/consoletest"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// Shorthands for the browser steps.
var (
	css      = func(s string) chromedp.CSS { return chromedp.CSS(s) }
	click    = func(s string) chromedp.Action[chromedp.Void] { return chromedp.Click(css(s)) }
	visible  = func(s string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(css(s)) }
	typeInto = func(s, v string) chromedp.Action[chromedp.Void] { return chromedp.SendKeys(css(s), v) }
)

// consoleSignIn signs the tab in with an access key.
func consoleSignIn(t *testing.T, ctx context.Context, base, akid, secret string) {
	t.Helper()
	consoletest.Do(t, ctx, "sign in with access keys",
		chromedp.Navigate(base+"/console/signin?mode=keys"),
		typeInto("#access_key", akid), typeInto("#secret_key", secret),
		click("button.primary"), visible("table.grid"))
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`(function(){var e=document.querySelector(`+jsString(sel)+`);return !!e && e.textContent.indexOf(`+jsString(want)+`)>=0})()`,
		chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %q in %s: %v; page:\n%.1000s", want, sel, err, got)
	}
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestConsoleSeedFlowsVPC clicks through the console flows of SEEDS 000
// and 001 in headless Chromium: create a cache and watch it become
// available without reloading; Set up compute connection (an instance of
// another VPC listed as unavailable, the preview of the decision table,
// the result), the connected compute resources, "Why can't this instance
// connect?"; the default group's Edit inbound rules with Custom TCP 6379
// from Anywhere-IPv4. Each result is checked through the API, and the
// compute connection by a real connection from the instance.
func TestConsoleSeedFlowsVPC(t *testing.T) {
	consoletest.Chromium(t)
	privtest.RequireRoot(t)
	n := nettest.Start(t)
	ctx := context.Background()
	ecc := elasticache.NewFromConfig(n.Config())
	art := consoletest.Artifacts(t)
	app := n.CreateGroup(t, "app", "")
	inst := n.RunInstance(t, "", app)
	otherVPC, subnets := n.CreateVPC(t, "10.77.0.0/16", "10.77.1.0/24")
	other := n.RunInstance(t, subnets[0])

	b := consoletest.Browser(t, 4*time.Minute)
	consoleSignIn(t, b, n.URL, n.Root.AccessKeyID, n.Root.SecretAccessKey)

	// Create a cache; its status moves to available without a reload.
	consoletest.Do(t, b, "create a cache",
		chromedp.Navigate(n.URL+"/console/elasticache/caches?engine=redis"),
		click(`a[href$="caches/create?engine=redis"]`), visible("#name"),
		consoletest.Choose("#engine", "redis"), typeInto("#name", "web"),
		click("form.stack button.primary"), visible("#cache-status"))
	consoletest.Do(t, b, "mark the page", consoletest.Eval(`window.__sameDocument = true`))
	waitText(t, b, "#cache-status", "available")
	if same, err := chromedp.Run(b, chromedp.Evaluate[bool](`window.__sameDocument === true`)); err != nil || !same {
		t.Errorf("the page was reloaded while the status changed (%v)", err)
	}
	// The details refresh in place: the node's endpoint appears.
	waitText(t, b, "main table.grid", ".cache.amazonaws.com")
	consoletest.Screenshot(t, b, art, "1-cache-available")
	cc, err := ecc.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("web"), ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil || aws.ToString(cc.CacheClusters[0].CacheClusterStatus) != "available" || aws.ToString(cc.CacheClusters[0].Engine) != "redis" {
		t.Fatalf("DescribeCacheClusters(web) = %v, %v; want an available redis cache", cc, err)
	}
	addr := aws.ToString(cc.CacheClusters[0].CacheNodes[0].Endpoint.Address)
	ip := nettest.WaitResolve(t, n.App.Plane(), inst.ENI, addr)
	n.WaitIdle(t)
	if p, err := nettest.Connect(n, inst.ENI, ip, 6379, 1500*time.Millisecond); err != nil || p.Passed {
		t.Fatalf("before the compute connection, the instance reaches the cache: %+v, %v", p, err)
	}

	// Set up compute connection.
	consoletest.Do(t, b, "open Set up compute connection",
		chromedp.Navigate(n.URL+"/console/elasticache/caches/web?tab=connectivity"),
		click(`a[href$="/compute-connection"]`), visible("fieldset.choices"))
	if dis, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.getElementById("inst-`+other.ID+`").disabled`)); err != nil || !dis {
		t.Errorf("instance %s of %s is selectable (%v)", other.ID, otherVPC, err)
	}
	if why := consoletest.Text(t, b, "#why-"+other.ID); !strings.Contains(why, "create an EC2 instance in "+inst.VPC) {
		t.Errorf("unavailable instance says %q, want the pointer to create one in %s", why, inst.VPC)
	}
	consoletest.Do(t, b, "choose the instance and review", click("#inst-"+inst.ID), click("button.primary"), visible("#decision"))
	if d := consoletest.Text(t, b, "#decision"); !strings.Contains(d, "row 2") {
		t.Errorf("preview = %q, want decision table row 2", d)
	}
	consoletest.Screenshot(t, b, art, "2-compute-connection-preview")
	if cc, _ := ecc.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("web")}); len(cc.CacheClusters[0].SecurityGroups) != 1 {
		t.Errorf("the preview changed the cache's groups: %+v", cc.CacheClusters[0].SecurityGroups)
	}
	consoletest.Do(t, b, "set up", click("form.actions button.primary"), visible("#connect-result"))
	consoletest.Screenshot(t, b, art, "3-compute-connection-result")
	cc, _ = ecc.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("web")})
	if len(cc.CacheClusters[0].SecurityGroups) != 2 {
		t.Errorf("cache groups after the compute connection = %+v, want 2", cc.CacheClusters[0].SecurityGroups)
	}
	ni, err := n.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{inst.ENI}})
	if err != nil || !slices.ContainsFunc(ni.NetworkInterfaces[0].Groups, func(g ec2types.GroupIdentifier) bool {
		return aws.ToString(g.GroupName) == "ec2-elasticache-"+inst.ID+":web"
	}) {
		t.Errorf("instance groups = %+v, %v; want ec2-elasticache-%s:web", ni, err, inst.ID)
	}
	n.WaitIdle(t)
	nettest.RedisPing(t, n.App.Plane(), inst.ENI, ip)

	// Connected compute resources, and the explanation.
	consoletest.Do(t, b, "connected compute resources", chromedp.Navigate(n.URL+"/console/elasticache/caches/web?tab=connectivity"), visible("#connected"))
	if got := consoletest.Text(t, b, "#connected"); !strings.Contains(got, inst.ID) {
		t.Errorf("connected compute resources = %q, want %s", got, inst.ID)
	}
	consoletest.Screenshot(t, b, art, "4-connected-compute-resources")
	consoletest.Do(t, b, "why can't this instance connect", consoletest.Choose("#explain-instance", inst.ID),
		click("form.inline button"), visible("#explanation"))
	if got := consoletest.Text(t, b, "#explanation"); !strings.HasPrefix(strings.TrimSpace(got), "Reachable") {
		t.Errorf("explanation = %q, want Reachable", got)
	}
	consoletest.Screenshot(t, b, art, "5-explain")

	// The default group: Edit inbound rules, Custom TCP 6379 from Anywhere-IPv4.
	def := n.DefaultGroupOf(t, inst.VPC)
	consoletest.Do(t, b, "edit inbound rules",
		chromedp.Navigate(n.URL+"/console/ec2/security-groups/"+def),
		click(`a[href$="/inbound"]`), visible("#default-warning"),
		consoletest.Choose("#type", "Custom TCP"), typeInto("#port", "6379"),
		consoletest.Choose("#source", "anywhere-ipv4"))
	if v, _ := chromedp.Run(b, chromedp.Value(css("#cidr"))); v != "0.0.0.0/0" {
		t.Errorf("Anywhere-IPv4 fills the source with %q, want 0.0.0.0/0", v)
	}
	consoletest.Do(t, b, "save rules", click("div.actions button.primary"), visible(".alert.success"))
	consoletest.Screenshot(t, b, art, "6-inbound-rule-saved")
	sg, err := n.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{def}})
	if err != nil || !slices.ContainsFunc(sg.SecurityGroups[0].IpPermissions, func(p ec2types.IpPermission) bool {
		return aws.ToString(p.IpProtocol) == "tcp" && aws.ToInt32(p.FromPort) == 6379 && aws.ToInt32(p.ToPort) == 6379 &&
			slices.ContainsFunc(p.IpRanges, func(r ec2types.IpRange) bool { return aws.ToString(r.CidrIp) == "0.0.0.0/0" })
	}) {
		t.Errorf("default group %s rules = %+v, %v; want TCP 6379 from 0.0.0.0/0", def, sg, err)
	}
}

// TestConsoleIAMAndClassic: IAM create a user with a console password,
// attach AmazonElastiCacheFullAccess, set up a virtual MFA device from
// the served QR code's secret with two codes, then sign in as that user
// with the password and an MFA code. EC2-Classic: ElastiCache → Security
// groups → default → add an EC2 security group, then remove it. Each
// result is checked through the API.
func TestConsoleIAMAndClassic(t *testing.T) {
	consoletest.Chromium(t)
	env := apptest.Start(t)
	ctx := context.Background()
	art := consoletest.Artifacts(t)
	b := consoletest.Browser(t, 3*time.Minute)
	consoleSignIn(t, b, env.URL, env.Root.AccessKeyID, env.Root.SecretAccessKey)

	const pw = "Console-pass-1234"
	consoletest.Do(t, b, "create user",
		chromedp.Navigate(env.URL+"/console/iam/users/create"),
		typeInto("#name", "ops"), click("#console_access"), typeInto("#password", pw),
		click("form.stack button.primary"), visible("#attached"),
		typeInto("#policy_filter", "ElastiCacheFull"), click(`form[role=search] button`), visible("#attached"),
		consoletest.Choose("#policy_arn", "arn:aws:iam::aws:policy/AmazonElastiCacheFullAccess"),
		click(`form[action$="/policies"] button`), consoletest.Contains("#attached", "AmazonElastiCacheFullAccess"))
	if got := consoletest.Text(t, b, "#attached"); !strings.Contains(got, "AmazonElastiCacheFullAccess") {
		t.Errorf("attached policies = %q", got)
	}
	im := iam.NewFromConfig(env.Config())
	ap, err := im.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("ops")})
	if err != nil || len(ap.AttachedPolicies) != 1 || aws.ToString(ap.AttachedPolicies[0].PolicyName) != "AmazonElastiCacheFullAccess" {
		t.Errorf("ListAttachedUserPolicies(ops) = %+v, %v", ap, err)
	}
	consoletest.Screenshot(t, b, art, "1-user-policy-attached")

	// Virtual MFA: the QR code is served as an image; two codes enable it.
	consoletest.Do(t, b, "assign MFA device", click(`form[action$="/mfa"] button`), visible("#mfa-qr"))
	if w, err := chromedp.Run(b, chromedp.Poll[int](`(function(){var i=document.getElementById("mfa-qr");return i.complete&&i.naturalWidth>0?i.naturalWidth:null})()`)); err != nil || w < 100 {
		t.Errorf("QR code image width = %d, %v; want a served PNG", w, err)
	}
	consoletest.Screenshot(t, b, art, "2-mfa-qr")
	consoletest.Do(t, b, "show secret key", click("details summary"), visible("#mfa-secret"))
	seed := strings.TrimSpace(consoletest.Text(t, b, "#mfa-secret"))
	now := time.Now()
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(seed, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatalf("TOTP of the shown secret: %v", err)
		}
		return c
	}
	consoletest.Do(t, b, "enable MFA", typeInto("#code1", code(now.Add(-30*time.Second))), typeInto("#code2", code(now)),
		click("form.stack button.primary"), visible(".alert.success"), visible("#mfa-devices"))
	consoletest.Screenshot(t, b, art, "3-mfa-enabled")
	mfa, err := im.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("ops")})
	if err != nil || len(mfa.MFADevices) != 1 {
		t.Fatalf("ListMFADevices(ops) = %+v, %v; want one", mfa, err)
	}

	// Sign in as ops: password, then the MFA code.
	u := b
	consoletest.Do(t, u, "sign out, sign in as ops",
		click(`form[action$="/signout"] button`), visible("#account"),
		typeInto("#account", env.App.AccountID()), typeInto("#user", "ops"), typeInto("#password", pw),
		click("button.primary"), visible("#mfa_code"),
		typeInto("#mfa_code", code(time.Now())), click("button.primary"), visible("table.grid"))
	if who := consoletest.Text(t, u, ".who"); !strings.Contains(who, "ops") {
		t.Errorf("signed in as %q, want ops", who)
	}
	consoletest.Screenshot(t, u, art, "4-signed-in-with-mfa")

	consoletest.Do(t, b, "sign out ops", click(`form[action$="/signout"] button`), visible("#account"))
	consoleSignIn(t, b, env.URL, env.Root.AccessKeyID, env.Root.SecretAccessKey)

	// EC2-Classic: authorize an EC2 security group on the default cache
	// security group, then remove it.
	if err := env.App.Accounts().SetEC2Classic(ctx, env.App.AccountID(), true); err != nil {
		t.Fatal(err)
	}
	e2 := ec2.NewFromConfig(env.Config())
	if _, err := e2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web-servers"), Description: aws.String("web servers")}); err != nil {
		t.Fatal(err)
	}
	consoletest.Do(t, b, "add an EC2 security group to default",
		chromedp.Navigate(env.URL+"/console/elasticache/security-groups"),
		click(`a[href$="/security-groups/default"]`), visible("#ec2_group"),
		consoletest.Choose("#ec2_group", "web-servers"), click(`form[action$="/authorize"] button`), visible(".alert.success"))
	if got := consoletest.Text(t, b, "#authorized"); !strings.Contains(got, "web-servers") {
		t.Errorf("authorized EC2 groups = %q", got)
	}
	consoletest.Screenshot(t, b, art, "5-classic-authorized")
	ecc := elasticache.NewFromConfig(env.Config())
	csg, err := ecc.DescribeCacheSecurityGroups(ctx, &elasticache.DescribeCacheSecurityGroupsInput{CacheSecurityGroupName: aws.String("default")})
	if err != nil || len(csg.CacheSecurityGroups[0].EC2SecurityGroups) != 1 {
		t.Fatalf("DescribeCacheSecurityGroups(default) = %+v, %v; want web-servers", csg, err)
	}
	consoletest.Do(t, b, "remove it", click(`form[action$="/revoke"] button`), consoletest.Lacks("#authorized", "web-servers"), visible(".alert.success"))
	consoletest.Screenshot(t, b, art, "6-classic-removed")
	csg, err = ecc.DescribeCacheSecurityGroups(ctx, &elasticache.DescribeCacheSecurityGroupsInput{CacheSecurityGroupName: aws.String("default")})
	if err != nil || slices.ContainsFunc(csg.CacheSecurityGroups[0].EC2SecurityGroups, func(g ectypes.EC2SecurityGroup) bool { return aws.ToString(g.Status) == "authorized" }) {
		t.Errorf("after Remove, DescribeCacheSecurityGroups(default) = %+v, %v", csg, err)
	}
}
