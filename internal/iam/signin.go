package iam

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// ErrSignIn is the one answer to a console sign-in that fails on the
// account, the user name or the password: which one is never told.
var ErrSignIn = errors.New("your authentication information is incorrect")

// ErrMFARequired is the answer to a correct password of a user with an
// MFA device enabled when no code came with it.
var ErrMFARequired = errors.New("an MFA code is required")

// ErrMFACode is the answer to a wrong MFA code.
var ErrMFACode = errors.New("the MFA code is not valid")

// SignInPassword checks a console sign-in of an IAM user with the password
// of their login profile (CreateLoginProfile) and, when the user has an
// MFA device enabled, a one-time code of it (the current time step or one
// on either side). It returns the user's principal, MFA-authenticated when
// a code was checked. A missing account, user, login profile or a wrong
// password is ErrSignIn; a missing code ErrMFARequired; a wrong one
// ErrMFACode.
func (s *Service) SignInPassword(ctx context.Context, acct, userName, password, mfaCode string) (auth.Principal, error) {
	var u *userRec
	var serial string
	err := s.view(ctx, func(tx store.Tx) (err error) {
		if u, err = s.getUser(tx, acct, userName); err != nil {
			return err
		}
		return store.ScanJSON(tx, prefix(acct, kindMFA), func(_ string, d *mfaRec) error {
			if d.User != "" && strings.EqualFold(d.User, u.Name) && serial == "" {
				serial = d.Serial
			}
			return nil
		})
	})
	if err != nil || u.Login == nil || !passwordMatches(u.Login.PasswordHash, password) {
		if err != nil && !errors.Is(err, store.ErrNotFound) && !awserr.HasCode(err, "NoSuchEntity") {
			return auth.Principal{}, fmt.Errorf("sign in: %w", err)
		}
		return auth.Principal{}, ErrSignIn
	}
	p := auth.Principal{Type: auth.User, AccountID: acct, ARN: userARN(acct, u), UserID: u.ID, Name: u.Name}
	if serial == "" {
		return p, nil
	}
	if mfaCode == "" {
		return auth.Principal{}, ErrMFARequired
	}
	if err := s.VerifyMFA(ctx, acct, u.Name, serial, mfaCode); err != nil {
		return auth.Principal{}, ErrMFACode
	}
	p.MFAAuthenticated = true
	return p, nil
}

// passwordMatches checks pw against a hash of hashPassword, in constant
// time.
func passwordMatches(hash, pw string) bool {
	saltHex, sumHex, ok := strings.Cut(hash, ":")
	if !ok {
		return false
	}
	salt, err1 := hex.DecodeString(saltHex)
	want, err2 := hex.DecodeString(sumHex)
	if err1 != nil || err2 != nil {
		return false
	}
	got := sha256.Sum256(append(salt, pw...))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}
