package ec2

import (
	"net/url"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// callWire decodes form parameters through the generated operation table,
// calls the service and encodes the result, as the wire layer does.
func callWire(t *testing.T, s *Service, params url.Values) (string, error) {
	t.Helper()
	ops := ec2api.OperationTable(s)
	op, found := ops[params.Get("Action")]
	if !found {
		t.Fatalf("no operation %s", params.Get("Action"))
	}
	in := op.NewInput()
	if err := awsproto.Decode(ec2api.Metadata, params, in); err != nil {
		return "", err
	}
	out, err := op.Call(ctxFor(acctA), in)
	if err != nil {
		return "", err
	}
	return string(awsproto.EncodeResult(ec2api.Metadata, op, out, "req-1")), nil
}

func TestWireNames(t *testing.T) {
	s, _ := newTestService(t)
	def := defaults(t, s, acctA)
	// As the AWS CLI sends `authorize-security-group-ingress --group-id --protocol tcp --port 6379 --cidr 0.0.0.0/0`.
	body, err := callWire(t, s, url.Values{"Action": {"AuthorizeSecurityGroupIngress"}, "Version": {"2016-11-15"}, "GroupId": {def.DefaultGroupID},
		"IpPermissions.1.IpProtocol": {"tcp"}, "IpPermissions.1.FromPort": {"6379"}, "IpPermissions.1.ToPort": {"6379"},
		"IpPermissions.1.IpRanges.1.CidrIp": {"0.0.0.0/0"}})
	ok(t, err)
	for _, want := range []string{"<AuthorizeSecurityGroupIngressResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">",
		"<requestId>req-1</requestId>", "<return>true</return>", "<securityGroupRuleSet><item>", "<securityGroupRuleId>sgr-",
		"<cidrIpv4>0.0.0.0/0</cidrIpv4>", "<isEgress>false</isEgress>"} {
		if !strings.Contains(body, want) {
			t.Errorf("authorize response lacks %q:\n%s", want, body)
		}
	}
	body, err = callWire(t, s, url.Values{"Action": {"DescribeSecurityGroups"}, "Version": {"2016-11-15"}, "Filter.1.Name": {"group-name"}, "Filter.1.Value.1": {"default"}})
	ok(t, err)
	for _, want := range []string{"<securityGroupInfo><item>", "<groupName>default</groupName>", "<item><fromPort>6379</fromPort><ipProtocol>tcp</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges>",
		"<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol>", "<groups><item><groupId>" + def.DefaultGroupID + "</groupId><userId>" + acctA + "</userId></item></groups>"} {
		if !strings.Contains(body, want) {
			t.Errorf("describe response lacks %q:\n%s", want, body)
		}
	}
	body, err = callWire(t, s, url.Values{"Action": {"DescribeAccountAttributes"}, "Version": {"2016-11-15"}, "AttributeName.1": {"supported-platforms"}})
	ok(t, err)
	if !strings.Contains(body, "<accountAttributeSet><item><attributeName>supported-platforms</attributeName><attributeValueSet><item><attributeValue>VPC</attributeValue></item></attributeValueSet></item></accountAttributeSet>") {
		t.Errorf("account attributes:\n%s", body)
	}
	body, err = callWire(t, s, url.Values{"Action": {"RunInstances"}, "Version": {"2016-11-15"}, "ImageId": {"ami-12345678"}, "MinCount": {"1"}, "MaxCount": {"1"},
		"SecurityGroupId.1": {def.DefaultGroupID}})
	ok(t, err)
	for _, want := range []string{"<RunInstancesResponse", "<reservationId>r-", "<instancesSet><item><amiLaunchIndex>0</amiLaunchIndex>", "<instanceState><code>0</code><name>pending</name></instanceState>",
		"<groupSet><item><groupId>" + def.DefaultGroupID + "</groupId><groupName>default</groupName></item></groupSet>"} {
		if !strings.Contains(body, want) {
			t.Errorf("run instances lacks %q:\n%s", want, body)
		}
	}
	// Operations without output answer <return>true</return>.
	body, err = callWire(t, s, url.Values{"Action": {"CreateTags"}, "Version": {"2016-11-15"}, "ResourceId.1": {def.ID}, "Tag.1.Key": {"k"}, "Tag.1.Value": {"v"}})
	ok(t, err)
	if !strings.Contains(body, "<return>true</return>") {
		t.Errorf("CreateTags:\n%s", body)
	}
	_, err = callWire(t, s, url.Values{"Action": {"DescribeSecurityGroups"}, "Version": {"2016-11-15"}, "GroupId.1": {"sg-nothex"}})
	wantCode(t, err, "InvalidGroupId.Malformed")
}
