package iam

import (
	"errors"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
)

// TestSignInPassword: the console sign-in of an IAM user: the login
// profile's password, then, once the user has an MFA device, a code of it.
// Every wrong answer is the same ErrSignIn, whatever was wrong.
func TestSignInPassword(t *testing.T) {
	f := newFixture(t)
	ctx := as(f.root)
	p := f.user(t, "alice")
	if _, err := f.svc.SignInPassword(ctx, acct, "alice", "whatever-pass", ""); !errors.Is(err, ErrSignIn) {
		t.Errorf("without a login profile: SignInPassword = %v, want ErrSignIn", err)
	}
	if _, err := f.svc.CreateLoginProfile(ctx, &iamapi.CreateLoginProfileRequest{UserName: ptr("alice"), Password: ptr("correct-horse")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, acct, user, pw string }{
		{"wrong password", acct, "alice", "correct-horsE"},
		{"no such user", acct, "bob", "correct-horse"},
		{"other account", "999988887777", "alice", "correct-horse"},
	} {
		if _, err := f.svc.SignInPassword(ctx, c.acct, c.user, c.pw, ""); !errors.Is(err, ErrSignIn) {
			t.Errorf("%s: SignInPassword = %v, want ErrSignIn", c.name, err)
		}
	}
	got, err := f.svc.SignInPassword(ctx, acct, "alice", "correct-horse", "")
	if err != nil || got.ARN != p.ARN || got.UserID != p.UserID || got.MFAAuthenticated {
		t.Fatalf("SignInPassword = %+v, %v; want alice (%s) without MFA", got, err, p.ARN)
	}

	dev, err := f.svc.CreateVirtualMFADevice(ctx, &iamapi.CreateVirtualMFADeviceRequest{VirtualMFADeviceName: ptr("alice-mfa")})
	if err != nil {
		t.Fatal(err)
	}
	seed, serial := string(dev.VirtualMFADevice.Base32StringSeed), *dev.VirtualMFADevice.SerialNumber
	step := f.clock.Now().Unix() / 30
	c1, _ := totpAt(seed, step-1)
	c2, _ := totpAt(seed, step)
	if err := f.svc.EnableMFADevice(ctx, &iamapi.EnableMFADeviceRequest{UserName: ptr("alice"), SerialNumber: ptr(serial),
		AuthenticationCode1: ptr(c1), AuthenticationCode2: ptr(c2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SignInPassword(ctx, acct, "alice", "correct-horse", ""); !errors.Is(err, ErrMFARequired) {
		t.Errorf("with MFA, no code: SignInPassword = %v, want ErrMFARequired", err)
	}
	if _, err := f.svc.SignInPassword(ctx, acct, "alice", "wrong-horse", ""); !errors.Is(err, ErrSignIn) {
		t.Errorf("with MFA, wrong password: SignInPassword = %v, want ErrSignIn (the device is not revealed)", err)
	}
	bad := "000000"
	if bad == c2 {
		bad = "000001"
	}
	if _, err := f.svc.SignInPassword(ctx, acct, "alice", "correct-horse", bad); !errors.Is(err, ErrMFACode) {
		t.Errorf("with MFA, wrong code: SignInPassword = %v, want ErrMFACode", err)
	}
	got, err = f.svc.SignInPassword(ctx, acct, "alice", "correct-horse", c2)
	if err != nil || got.ARN != p.ARN || !got.MFAAuthenticated {
		t.Errorf("with MFA and its code: SignInPassword = %+v, %v; want alice, MFA-authenticated", got, err)
	}
}
