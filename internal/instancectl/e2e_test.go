package instancectl_test

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/engine/identity"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestUserDataAndConsoleOutput: RunInstances user data runs at launch inside
// the instance's network, as the account's user-data identity, resolving
// names through the VPC's DNS server (its own private DNS name here), and
// GetConsoleOutput returns its output.
func TestUserDataAndConsoleOutput(t *testing.T) {
	privtest.RequireRoot(t)
	env := apptest.Start(t)
	c := ec2.NewFromConfig(env.Config())
	ctx := context.Background()
	script := "#!/bin/sh\necho hello from $INSTANCE_ID\nid -u\nip -4 -o addr show eth0 | awk '{print $4}'\n" +
		"grep ^nameserver /etc/resolv.conf\n" +
		// The VPC's DNS server learns the instance's name asynchronously
		// (the DNS controller): the script asks again for a few seconds.
		"n=ip-$(ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1 | tr . -).ec2.internal\n" +
		"for i in 1 2 3 4 5 6 7 8 9 10; do getent hosts $n && exit 0; sleep 0.5; done; exit 1\n"
	out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(script)))})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	ip := aws.ToString(out.Instances[0].PrivateIpAddress)
	var console string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		co, err := c.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if co.Output != nil {
			b, err := base64.StdEncoding.DecodeString(aws.ToString(co.Output))
			if err != nil {
				t.Fatal(err)
			}
			if console = string(b); console != "" {
				break
			}
		}
	}
	name := "ip-" + strings.ReplaceAll(ip, ".", "-") + ".ec2.internal"
	for _, want := range []string{"hello from " + id + "\n", ip + "/", "nameserver 172.31.0.2\n", ip + " ", " " + name + "\n"} {
		if !strings.Contains(console, want) {
			t.Errorf("console output = %q, want it to contain %q", console, want)
		}
	}
	if lines := strings.Split(console, "\n"); len(lines) < 2 {
		t.Errorf("console output = %q, want the script's uid on its second line", console)
	} else if uid, err := strconv.ParseUint(lines[1], 10, 32); err != nil || !identity.UserData().Contains(uint32(uid)) {
		t.Errorf("user data ran as uid %q, want one of the user-data range %+v", lines[1], identity.UserData())
	}
	if _, err := c.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String("i-0123456789abcdef0")}); err == nil {
		t.Error("GetConsoleOutput of an unknown instance succeeded")
	}
}
