// Package account owns the accounts of an installation: their ids, root
// credentials and account-level settings (EC2-Classic). It resolves root
// access keys for request verification; IAM users' and temporary keys are
// resolved by iam and sts. Imported by the wiring package and by services
// that read account settings.
package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Account is one AWS account of the installation.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	Email     string    `json:"email,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// EC2Classic makes DescribeAccountAttributes report EC2 and VPC, and
	// enables cache security groups for clusters outside a VPC.
	EC2Classic bool `json:"ec2_classic,omitempty"`
	// Root credentials. The secret is needed to verify signatures; the store
	// file is readable by its owner only.
	RootAccessKeyID     string `json:"root_access_key_id"`
	RootSecretAccessKey string `json:"root_secret_access_key"`
}

// Credentials is an access key pair.
type Credentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

func accountKey(id string) string { return store.Key("account", id) }
func rootKeyIndex(akid string) string {
	return store.Key("account-rootkey", akid)
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// ErrNotFound is returned for an account that does not exist.
var ErrNotFound = errors.New("account not found")

// Accounts manages accounts in the store. Every write of account records
// goes through it, so it keeps the root keys it resolved in memory and
// forgets them on any write.
type Accounts struct {
	st store.Store

	mu    sync.RWMutex // guards cache
	cache map[string]auth.Key
}

// New returns Accounts backed by st.
func New(st store.Store) *Accounts { return &Accounts{st: st, cache: map[string]auth.Key{}} }

func (a *Accounts) update(ctx context.Context, fn func(tx store.Tx) error) error {
	defer func() {
		a.mu.Lock()
		clear(a.cache)
		a.mu.Unlock()
	}()
	return a.st.Update(ctx, fn)
}

// Ensure creates the account if it does not exist and makes creds its root
// credentials (replacing older root keys). It is idempotent.
func (a *Accounts) Ensure(ctx context.Context, id string, creds Credentials) (*Account, error) {
	if !accountIDPattern.MatchString(id) {
		return nil, fmt.Errorf("account id %q: must be 12 digits", id)
	}
	var out Account
	err := a.update(ctx, func(tx store.Tx) error {
		err := store.GetJSON(tx, accountKey(id), &out)
		switch {
		case errors.Is(err, store.ErrNotFound):
			out = Account{ID: id, CreatedAt: time.Now().UTC()}
		case err != nil:
			return err
		}
		if out.RootAccessKeyID == creds.AccessKeyID && out.RootSecretAccessKey == creds.SecretAccessKey {
			return nil
		}
		if out.RootAccessKeyID != "" {
			if err := tx.Delete(rootKeyIndex(out.RootAccessKeyID)); err != nil {
				return err
			}
		}
		out.RootAccessKeyID, out.RootSecretAccessKey = creds.AccessKeyID, creds.SecretAccessKey
		if err := tx.Put(rootKeyIndex(creds.AccessKeyID), []byte(id)); err != nil {
			return err
		}
		return store.PutJSON(tx, accountKey(id), &out)
	})
	if err != nil {
		return nil, fmt.Errorf("ensure account %s: %w", id, err)
	}
	return &out, nil
}

// Create makes a new account with a fresh id and root credentials.
func (a *Accounts) Create(ctx context.Context, name, email string, ec2Classic bool) (*Account, error) {
	for range 5 {
		id, err := randomDigits(12)
		if err != nil {
			return nil, err
		}
		creds, err := NewCredentials()
		if err != nil {
			return nil, err
		}
		acct := Account{ID: id, Name: name, Email: email, EC2Classic: ec2Classic, CreatedAt: time.Now().UTC(),
			RootAccessKeyID: creds.AccessKeyID, RootSecretAccessKey: creds.SecretAccessKey}
		exists := false
		err = a.update(ctx, func(tx store.Tx) error {
			if _, err := tx.Get(accountKey(id)); err == nil {
				exists = true
				return nil
			}
			if err := tx.Put(rootKeyIndex(acct.RootAccessKeyID), []byte(id)); err != nil {
				return err
			}
			return store.PutJSON(tx, accountKey(id), &acct)
		})
		if err != nil {
			return nil, fmt.Errorf("create account: %w", err)
		}
		if !exists {
			return &acct, nil
		}
	}
	return nil, errors.New("create account: no free account id")
}

// Get returns the account with the given id.
func (a *Accounts) Get(ctx context.Context, id string) (*Account, error) {
	var out Account
	err := a.st.View(ctx, func(tx store.Tx) error { return store.GetJSON(tx, accountKey(id), &out) })
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get account %s: %w", id, err)
	}
	return &out, nil
}

// List returns every account.
func (a *Accounts) List(ctx context.Context) ([]*Account, error) {
	var out []*Account
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = store.ListJSON[Account](tx, "account/")
		return err
	})
	return out, err
}

// SetEC2Classic turns EC2-Classic on or off for an account.
func (a *Accounts) SetEC2Classic(ctx context.Context, id string, on bool) error {
	return a.update(ctx, func(tx store.Tx) error {
		var acct Account
		if err := store.GetJSON(tx, accountKey(id), &acct); err != nil {
			return fmt.Errorf("account %s: %w", id, err)
		}
		acct.EC2Classic = on
		return store.PutJSON(tx, accountKey(id), &acct)
	})
}

// EC2Classic reports whether the account has EC2-Classic enabled.
func (a *Accounts) EC2Classic(ctx context.Context, id string) (bool, error) {
	acct, err := a.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return acct.EC2Classic, nil
}

// ResolveKey implements auth.KeyResolver for root access keys.
func (a *Accounts) ResolveKey(ctx context.Context, akid string) (auth.Key, error) {
	a.mu.RLock()
	k, ok := a.cache[akid]
	a.mu.RUnlock()
	if ok {
		return k, nil
	}
	var acct Account
	err := a.st.View(ctx, func(tx store.Tx) error {
		id, err := tx.Get(rootKeyIndex(akid))
		if err != nil {
			return err
		}
		return store.GetJSON(tx, accountKey(string(id)), &acct)
	})
	if errors.Is(err, store.ErrNotFound) {
		return auth.Key{}, auth.ErrUnknownKey
	}
	if err != nil {
		return auth.Key{}, fmt.Errorf("resolve root key: %w", err)
	}
	k = auth.Key{
		AccessKeyID:     akid,
		SecretAccessKey: acct.RootSecretAccessKey,
		Principal:       RootPrincipal(acct.ID, akid),
	}
	a.mu.Lock()
	a.cache[akid] = k
	a.mu.Unlock()
	return k, nil
}

// RootPrincipal is the principal of an account's root user.
func RootPrincipal(accountID, akid string) auth.Principal {
	return auth.Principal{
		Type:        auth.Root,
		AccountID:   accountID,
		ARN:         "arn:aws:iam::" + accountID + ":root",
		UserID:      accountID,
		Name:        "root",
		AccessKeyID: akid,
	}
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretSet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// NewAccessKeyID returns a random access key id with the given prefix
// (AKIA for long-term keys, ASIA for temporary ones), 20 characters in all.
func NewAccessKeyID(prefix string) (string, error) {
	s, err := randomString(upperAlnum, 20-len(prefix))
	return prefix + s, err
}

// NewCredentials returns a fresh long-term access key pair.
func NewCredentials() (Credentials, error) {
	id, err := NewAccessKeyID("AKIA")
	if err != nil {
		return Credentials{}, err
	}
	secret, err := randomString(secretSet, 40)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
}

// RandomString returns n characters drawn uniformly from set.
func RandomString(set string, n int) (string, error) { return randomString(set, n) }

func randomString(set string, n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(set)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("random: %w", err)
		}
		b[i] = set[v.Int64()]
	}
	return string(b), nil
}

func randomDigits(n int) (string, error) { return randomString("0123456789", n) }
