package dnsname

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// SecretSize is the size of a secret NewSecret draws; New accepts any
// secret of at least MinSecretSize bytes.
const (
	SecretSize    = 32
	MinSecretSize = 16
)

// NewSecret draws a fresh installation secret. The caller stores it with the
// installation's state (it must survive restarts, or every endpoint name
// changes) and passes it to New.
func NewSecret() []byte {
	b := make([]byte, SecretSize)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
}

// idAlphabet is the alphabet of ids: lowercase letters and digits, as in
// ElastiCache's (km2jzi, 2l2cjw, be6b1p).
const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// idLen is the length of an id.
const idLen = 6

// ScopeID returns the six-character id that stands in every endpoint name of
// one account in one region, the way ElastiCache's stays the same for all of
// an account's caches in a region. It is an HMAC-SHA256 of the account and
// region under the installation secret, written in base 36: stable across
// restarts, different per installation, and not guessable from the account
// id without the secret. Two accounts whose ids collide (one chance in
// about 2 billion per pair) and that also give two caches in one region the
// same identifier get the same name; every VPC's DNS server, which answers
// for every account's caches as AWS's public names do, then gives both
// addresses.
func ScopeID(secret []byte, account, region string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("cachalot endpoint id v1\x00"))
	mac.Write([]byte(account))
	mac.Write([]byte{0})
	mac.Write([]byte(region))
	v := binary.BigEndian.Uint64(mac.Sum(nil)[:8])
	var id [idLen]byte
	for i := idLen - 1; i >= 0; i-- {
		id[i] = idAlphabet[v%36]
		v /= 36
	}
	return string(id[:])
}

var errShortSecret = errors.New("installation secret too short")
