package sigv4

import (
	"crypto/sha256"
	"sync"
)

// KeyCache memoises derived signing keys: a key depends only on the secret,
// the day, the region and the service, so one derivation (four HMACs)
// serves a whole day of requests. Safe for concurrent use; bounded.
type KeyCache struct {
	mu   sync.Mutex // guards keys
	keys map[[32]byte][]byte
}

const keyCacheMax = 4096

// SigningKey returns the signing key, derived at most once per inputs.
func (c *KeyCache) SigningKey(secret, day, region, service string) []byte {
	id := sha256.Sum256([]byte(secret + "\x00" + day + "\x00" + region + "\x00" + service))
	c.mu.Lock()
	k, ok := c.keys[id]
	c.mu.Unlock()
	if ok {
		return k
	}
	k = SigningKey(secret, day, region, service)
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= keyCacheMax {
		c.keys = make(map[[32]byte][]byte)
	}
	c.keys[id] = k
	c.mu.Unlock()
	return k
}
