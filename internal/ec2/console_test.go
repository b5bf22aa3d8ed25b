package ec2

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// The console write API and GetConsoleOutput: nothing until the user data
// starts, an empty console once started, then the tail of the output.
func TestConsoleOutput(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	script := "#!/bin/sh\necho hi\n"
	r := must[*ec2api.Reservation](t)(s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)),
		UserData: ptr(base64.StdEncoding.EncodeToString([]byte(script)))}))
	id := *r.Instances[0].InstanceId

	if got := string(must[[]byte](t)(s.UserData(ctx, acctA, region, id))); got != script {
		t.Errorf("UserData = %q, want %q", got, script)
	}
	get := func() *ec2api.GetConsoleOutputResult {
		t.Helper()
		return must[*ec2api.GetConsoleOutputResult](t)(s.GetConsoleOutput(ctx, &ec2api.GetConsoleOutputRequest{InstanceId: ptr(id)}))
	}
	if started := must[bool](t)(s.ConsoleStarted(ctx, acctA, region, id)); started {
		t.Error("console started before StartConsole")
	}
	if out := get(); out.Output != nil || out.Timestamp != nil || *out.InstanceId != id {
		t.Errorf("console before start = %+v, want the id only", out)
	}
	ok(t, s.StartConsole(ctx, acctA, region, id))
	if started := must[bool](t)(s.ConsoleStarted(ctx, acctA, region, id)); !started {
		t.Error("console not started after StartConsole")
	}
	if out := get(); out.Timestamp == nil || *out.Output != "" {
		t.Errorf("console once started = %+v, want a timestamp and no output", out)
	}
	long := strings.Repeat("x", ConsoleOutputMax) + "tail\n"
	ok(t, s.WriteConsoleOutput(ctx, acctA, region, id, []byte(long)))
	out := get()
	b, err := base64.StdEncoding.DecodeString(*out.Output)
	ok(t, err)
	if len(b) != ConsoleOutputMax || !strings.HasSuffix(string(b), "tail\n") {
		t.Errorf("console = %d bytes ending %q, want the last %d bytes", len(b), b[len(b)-5:], ConsoleOutputMax)
	}
	// Another account does not see the instance.
	_, err = s.GetConsoleOutput(ctxFor(acctB), &ec2api.GetConsoleOutputRequest{InstanceId: ptr(id)})
	wantCode(t, err, "InvalidInstanceID.NotFound")
}
