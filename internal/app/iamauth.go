package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cachalot-dev/cachalot/internal/cachectl"
	"github.com/cachalot-dev/cachalot/internal/iamauth"
)

// IAMSecretFile is the installation's secret IAM users' engine passwords
// are derived from (cachectl, iamfront.go): 32 random bytes, mode 0600,
// created on first start, never logged.
const IAMSecretFile = "iam-auth.key"

// iamSecret reads the installation's IAM authentication secret, creating
// it on first start.
func iamSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, IAMSecretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("%s: not a 32-byte secret", path)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return b, nil
}

// tokenVerifier binds iamauth's verifier (the endpoint's key resolution
// and IAM's authorizer) to the cache controller's IAM fronts.
type tokenVerifier struct{ v *iamauth.Verifier }

func (t tokenVerifier) VerifyToken(ctx context.Context, c cachectl.TokenCheck, token string) error {
	return t.v.Verify(ctx, iamauth.Check{Account: c.Account, Region: c.Region, Cache: c.Cache, Serverless: c.Serverless, User: c.User}, token)
}
