package instancectl_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// helperEnv marks the test binary run inside an instance as the SDK
// program of TestInstanceMetadataService.
const helperEnv = "CACHALOT_IMDS_HELPER"

// sdkResult is what the SDK program inside the instance reports.
type sdkResult struct {
	InstanceID, Region, AccountID string // from the identity document
	AccessKeyID                   string // of the credentials the provider got
	CallerARN                     string
	DescribeErr, DeniedCode       string
}

// TestInstanceSDKHelper is the program TestInstanceMetadataService runs
// inside the instance: aws-sdk-go-v2's IMDS client and EC2 role
// credentials provider (what the default credential chain uses on EC2),
// against 169.254.169.254, then calls to Cachalot with those credentials.
// The Cachalot endpoint is reached through a Unix socket the test bridges
// to it (the VPC has, by the network rule, no route to the host's
// loopback); everything else is the SDK's defaults.
func TestInstanceSDKHelper(t *testing.T) {
	sock := os.Getenv(helperEnv)
	if sock == "" {
		t.Skip("the program run inside an instance by TestInstanceMetadataService")
	}
	ctx := context.Background()
	client := imds.New(imds.Options{})
	doc, err := client.GetInstanceIdentityDocument(ctx, nil)
	if err != nil {
		t.Fatalf("identity document: %v", err)
	}
	res := sdkResult{InstanceID: doc.InstanceID, Region: doc.Region, AccountID: doc.AccountID}
	provider := aws.NewCredentialsCache(ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }))
	creds, err := provider.Retrieve(ctx)
	if err != nil {
		t.Fatalf("role credentials: %v", err)
	}
	res.AccessKeyID = creds.AccessKeyID
	cfg := aws.Config{Region: doc.Region, Credentials: provider, BaseEndpoint: aws.String("http://cachalot.invalid"), RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	res.CallerARN = aws.ToString(id.Arn)
	if _, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{doc.InstanceID}}); err != nil {
		res.DescribeErr = err.Error()
	}
	_, err = iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
	var ae smithy.APIError
	if errors.As(err, &ae) {
		res.DeniedCode = ae.ErrorCode()
	}
	b, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", b)
}

// bridge forwards connections on a Unix socket to the Cachalot endpoint.
func bridge(t *testing.T, endpoint string) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return sock
}

// inInstance runs argv inside the instance's network with no AWS
// configuration but what the instance finds, and returns its output and
// exit code.
func inInstance(t *testing.T, env *apptest.Env, eni string, extraEnv []string, argv ...string) (string, int) {
	t.Helper()
	cmd, err := env.App.InstanceCommand(context.Background(), eni, argv...)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + t.TempDir(),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}, extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// curl fetches path of the metadata service inside the instance (with
// token when not empty) and returns the HTTP status and body; status 0
// when nothing answered.
func curl(t *testing.T, env *apptest.Env, eni, method, path, token string, hdr ...string) (int, string) {
	t.Helper()
	argv := []string{"curl", "-s", "--max-time", "5", "-X", method, "-w", "\n%{http_code}", "http://169.254.169.254" + path}
	if token != "" {
		argv = append(argv, "-H", "X-aws-ec2-metadata-token: "+token)
	}
	for _, h := range hdr {
		argv = append(argv, "-H", h)
	}
	out, code := inInstance(t, env, eni, nil, argv...)
	if code != 0 {
		return 0, out
	}
	i := strings.LastIndexByte(out, '\n')
	var status int
	fmt.Sscan(out[i+1:], &status)
	return status, out[:i]
}

func token(t *testing.T, env *apptest.Env, eni string) string {
	t.Helper()
	status, tok := curl(t, env, eni, "PUT", "/latest/api/token", "", "X-aws-ec2-metadata-token-ttl-seconds: 21600")
	if status != 200 || tok == "" {
		t.Fatalf("PUT /latest/api/token = %d %q, want a token", status, tok)
	}
	return tok
}

// TestInstanceMetadataService: an instance launched with an instance
// profile and HttpTokens required reaches 169.254.169.254 from inside its
// network: IMDSv1 is refused, IMDSv2 answers its identity, user data,
// tags and identity document; aws-sdk-go-v2 inside the instance gets the
// role's credentials from it and Cachalot accepts them with the role's
// permissions (an allowed call succeeds, another is AccessDenied), as does
// the AWS CLI's credential chain; optional tokens allow IMDSv1; a role EC2
// may not assume gets AssumeRoleUnauthorizedAccess; disassociating the
// profile removes the credentials; a disabled endpoint is unreachable;
// HttpProtocolIpv6 enabled serves fd00:ec2::254 too.
func TestInstanceMetadataService(t *testing.T) {
	privtest.RequireRoot(t)
	env := apptest.Start(t)
	ctx := context.Background()
	e := ec2.NewFromConfig(env.Config())
	ic := iam.NewFromConfig(env.Config())
	trust := func(principal string) *string {
		return aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":` + principal + `,"Action":"sts:AssumeRole"}]}`)
	}
	for _, r := range []struct{ role, profile, principal string }{
		{"app-role", "app-profile", `{"Service":"ec2.amazonaws.com"}`},
		{"lambda-role", "lambda-profile", `{"Service":"lambda.amazonaws.com"}`},
	} {
		if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(r.role), AssumeRolePolicyDocument: trust(r.principal)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(r.profile)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(r.profile), RoleName: aws.String(r.role)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("describe"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}

	run := &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String("nosuch")}}
	_, err := e.RunInstances(ctx, run)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" || !strings.Contains(ae.ErrorMessage(), "iamInstanceProfile.name") {
		t.Fatalf("RunInstances with an unknown profile = %v, want InvalidParameterValue naming iamInstanceProfile.name", err)
	}
	run.IamInstanceProfile.Name = aws.String("app-profile")
	// The launch script reads its instance's metadata, as scripts do on EC2.
	script := "#!/bin/sh\nT=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)\n" +
		"echo launched as $(curl -s -H \"X-aws-ec2-metadata-token: $T\" http://169.254.169.254/latest/meta-data/instance-id)\n"
	run.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(script)))
	run.MetadataOptions = &ec2types.InstanceMetadataOptionsRequest{HttpTokens: ec2types.HttpTokensStateRequired,
		InstanceMetadataTags: ec2types.InstanceMetadataTagsStateEnabled}
	run.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web-1")}}}}
	out, err := e.RunInstances(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	inst := out.Instances[0]
	id, eni, ip := aws.ToString(inst.InstanceId), aws.ToString(inst.NetworkInterfaces[0].NetworkInterfaceId), aws.ToString(inst.PrivateIpAddress)
	if p := inst.IamInstanceProfile; p == nil || !strings.HasSuffix(aws.ToString(p.Arn), ":instance-profile/app-profile") {
		t.Errorf("RunInstances IamInstanceProfile = %+v, want app-profile", p)
	}
	if err := env.App.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}

	var console string
	for deadline := time.Now().Add(20 * time.Second); console == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		co, err := e.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := base64.StdEncoding.DecodeString(aws.ToString(co.Output))
		console = string(b)
	}
	if !strings.Contains(console, "launched as "+id+"\n") {
		t.Errorf("console of the launch script = %q, want it to have read its instance id from the metadata service", console)
	}
	if status, _ := curl(t, env, eni, "GET", "/latest/meta-data/instance-id", ""); status != 401 {
		t.Errorf("IMDSv1 with HttpTokens required = %d, want 401", status)
	}
	// A program of the instance binds port 80 on every address (a web
	// server) beside the metadata service, and both answer.
	web, err := env.App.InstanceCommand(context.Background(), eni, "python3", "-m", "http.server", "80", "--bind", "0.0.0.0", "--directory", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := web.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Process.Kill(); web.Wait() })
	waitWeb := time.Now().Add(10 * time.Second)
	for {
		out, code := inInstance(t, env, eni, nil, "curl", "-s", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", "http://"+ip+":80/")
		if code == 0 && out == "200" {
			break
		}
		if time.Now().After(waitWeb) {
			t.Fatalf("a web server on 0.0.0.0:80 in the instance: %q (exit %d), want 200 (port 80 left to the instance's programs)", out, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	tok := token(t, env, eni)
	for path, want := range map[string]string{
		"/latest/meta-data/instance-id":                 id,
		"/latest/meta-data/local-ipv4":                  ip,
		"/latest/meta-data/placement/region":            apptest.Region,
		"/latest/meta-data/tags/instance/Name":          "web-1",
		"/latest/meta-data/iam/security-credentials/":   "app-role",
		"/latest/user-data":                             script,
		"/latest/meta-data/placement/availability-zone": aws.ToString(inst.Placement.AvailabilityZone),
	} {
		if status, body := curl(t, env, eni, "GET", path, tok); status != 200 || body != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, status, body, want)
		}
	}
	var doc map[string]any
	if status, body := curl(t, env, eni, "GET", "/latest/dynamic/instance-identity/document", tok); status != 200 || json.Unmarshal([]byte(body), &doc) != nil ||
		doc["instanceId"] != id || doc["privateIp"] != ip || doc["accountId"] != app.DefaultAccountID {
		t.Errorf("identity document = %d %s, want %s %s of %s", status, body, id, ip, app.DefaultAccountID)
	}

	// The SDK inside the instance: credentials from the metadata service,
	// accepted by Cachalot with the role's permissions.
	sdk := func() sdkResult {
		t.Helper()
		out, code := inInstance(t, env, eni, []string{helperEnv + "=" + bridge(t, env.URL)}, os.Args[0], "-test.run=^TestInstanceSDKHelper$", "-test.v")
		_, line, ok := strings.Cut(out, "RESULT ")
		var res sdkResult
		if !ok || code != 0 || json.Unmarshal([]byte(strings.SplitN(line, "\n", 2)[0]), &res) != nil {
			t.Fatalf("SDK program in the instance: exit %d:\n%s", code, out)
		}
		return res
	}
	res := sdk()
	wantARN := "arn:aws:sts::" + app.DefaultAccountID + ":assumed-role/app-role/" + id
	if res.InstanceID != id || res.Region != apptest.Region || res.CallerARN != wantARN || res.DescribeErr != "" || res.DeniedCode != "AccessDenied" ||
		!strings.HasPrefix(res.AccessKeyID, "ASIA") {
		t.Errorf("SDK in the instance = %+v, want identity %s, caller %s, DescribeInstances allowed, ListUsers AccessDenied", res, id, wantARN)
	}
	// The AWS CLI's credential chain finds the same credentials.
	if _, err := os.Stat(apptest.AWSCLI); err == nil {
		out, code := inInstance(t, env, eni, []string{"AWS_DEFAULT_REGION=" + apptest.Region}, apptest.AWSCLI, "configure", "export-credentials", "--format", "env")
		if code != 0 || !strings.Contains(out, "AWS_ACCESS_KEY_ID="+res.AccessKeyID) {
			t.Errorf("aws configure export-credentials in the instance = exit %d %q, want the role's key %s", code, out, res.AccessKeyID)
		}
	}

	// Optional tokens: IMDSv1 answers.
	if _, err := e.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String(id), HttpTokens: ec2types.HttpTokensStateOptional}); err != nil {
		t.Fatal(err)
	}
	if status, body := curl(t, env, eni, "GET", "/latest/meta-data/instance-id", ""); status != 200 || body != id {
		t.Errorf("IMDSv1 with HttpTokens optional = %d %q, want 200 %s", status, body, id)
	}

	// A role EC2 may not assume.
	assocs, err := e.DescribeIamInstanceProfileAssociations(ctx, &ec2.DescribeIamInstanceProfileAssociationsInput{
		Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: []string{id}}}})
	if err != nil || len(assocs.IamInstanceProfileAssociations) != 1 {
		t.Fatalf("DescribeIamInstanceProfileAssociations = %+v, %v; want one", assocs, err)
	}
	rep, err := e.ReplaceIamInstanceProfileAssociation(ctx, &ec2.ReplaceIamInstanceProfileAssociationInput{
		AssociationId: assocs.IamInstanceProfileAssociations[0].AssociationId, IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String("lambda-profile")}})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := curl(t, env, eni, "GET", "/latest/meta-data/iam/security-credentials/lambda-role", ""); status != 200 || !strings.Contains(body, `"Code": "AssumeRoleUnauthorizedAccess"`) {
		t.Errorf("credentials of a role trusting lambda only = %d %s, want AssumeRoleUnauthorizedAccess", status, body)
	}

	// Disassociated: no credentials.
	if _, err := e.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{AssociationId: rep.IamInstanceProfileAssociation.AssociationId}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/latest/meta-data/iam/info", "/latest/meta-data/iam/security-credentials/app-role", "/latest/meta-data/iam/security-credentials/lambda-role"} {
		if status, _ := curl(t, env, eni, "GET", path, ""); status != 404 {
			t.Errorf("GET %s after disassociation = %d, want 404", path, status)
		}
	}

	// Disabled: unreachable; enabled again: back.
	setEndpoint := func(state ec2types.InstanceMetadataEndpointState) {
		t.Helper()
		if _, err := e.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String(id), HttpEndpoint: state}); err != nil {
			t.Fatal(err)
		}
		if err := env.App.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	setEndpoint(ec2types.InstanceMetadataEndpointStateDisabled)
	if status, body := curl(t, env, eni, "GET", "/latest/meta-data/instance-id", ""); status != 0 {
		t.Errorf("GET with the endpoint disabled = %d %q, want no answer", status, body)
	}
	setEndpoint(ec2types.InstanceMetadataEndpointStateEnabled)
	if status, body := curl(t, env, eni, "GET", "/latest/meta-data/instance-id", ""); status != 200 || body != id {
		t.Errorf("GET with the endpoint enabled again = %d %q, want 200 %s", status, body, id)
	}

	// The IPv6 endpoint, when enabled.
	v6 := []string{"curl", "-s", "-g", "--max-time", "5", "http://[fd00:ec2::254]/latest/meta-data/instance-id"}
	if out, code := inInstance(t, env, eni, nil, v6...); code == 0 {
		t.Errorf("IPv6 endpoint with HttpProtocolIpv6 disabled = %q, want no answer", out)
	}
	if _, err := e.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String(id), HttpProtocolIpv6: ec2types.InstanceMetadataProtocolStateEnabled}); err != nil {
		t.Fatal(err)
	}
	if err := env.App.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if out, code := inInstance(t, env, eni, nil, v6...); code != 0 || out != id {
		t.Errorf("IPv6 endpoint with HttpProtocolIpv6 enabled = exit %d %q, want %s", code, out, id)
	}
}
