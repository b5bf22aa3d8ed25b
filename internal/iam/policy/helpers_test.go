package policy

import (
	"testing"
	"time"
)

const (
	acct     = "111122223333"
	aliceARN = "arn:aws:iam::111122223333:user/alice"
)

func mustParse(t testing.TB, doc string, kind Kind) *Policy {
	t.Helper()
	p, err := Parse(doc, kind)
	if err != nil {
		t.Fatalf("Parse(%s) = %v", doc, err)
	}
	return p
}

// testTime is the request time of every test request.
func testTime() time.Time { return time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC) }

// aliceReq is a request by IAM user alice with a long-term access key.
func aliceReq(action, resource string) Request {
	return Request{
		Action:   action,
		Resource: resource,
		Caller: Caller{
			Type:      PrincipalUser,
			ARN:       aliceARN,
			AccountID: acct,
			UserID:    "AIDAEXAMPLEALICE",
			Username:  "alice",
		},
		Time:            testTime(),
		SourceIP:        "192.0.2.10",
		SecureTransport: true,
		Region:          "us-east-1",
	}
}

// roleReq is a request by a session of role deployer.
func roleReq(action, resource string, mfa bool) Request {
	return Request{
		Action:   action,
		Resource: resource,
		Caller: Caller{
			Type:         PrincipalAssumedRole,
			ARN:          "arn:aws:sts::111122223333:assumed-role/deployer/build-42",
			PrincipalARN: "arn:aws:iam::111122223333:role/deployer",
			AccountID:    acct,
			UserID:       "AROAEXAMPLEDEPLOY:build-42",
			Temporary:    true,
			MFA:          mfa,
			MFAAuthTime:  testTime().Add(-10 * time.Minute),
			TokenIssued:  testTime().Add(-10 * time.Minute),
		},
		Time:            testTime(),
		SourceIP:        "198.51.100.7",
		SecureTransport: true,
		Region:          "us-east-1",
	}
}
