// Package identity allocates the unprivileged Unix identities Cachalot
// runs untrusted programs under, one per program that must not signal or
// read another's files (each cache node's engine; each account's instance
// user data), and renders the command line that drops to one.
//
// An identity is a uid with the gid of the same number, taken from a
// range no distribution assigns (the shape of systemd's DynamicUser):
// nothing is written to /etc/passwd or /etc/group, and the number is all
// the kernel needs. Claims persist as symbolic links in a registry
// directory, one per uid, named by the uid and pointing at the key that
// claimed it (e.g. the node id); creating a link is atomic, so two
// claimers never get the same uid, and a key keeps its uid across daemon
// restarts, which keeps the files it owns its own.
//
// It imports nothing of Cachalot's. internal/engine uses it for cache
// nodes (Engines range); the instance controller (internal/instancectl)
// for user data (UserData range, its own registry directory). Both ranges
// are disjoint, so no engine ever shares a uid with user data.
package identity

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"sync"
)

// Range is a block of uids (and gids of the same numbers).
type Range struct {
	First uint32
	Count uint32
}

// Contains reports whether uid lies in r.
func (r Range) Contains(uid uint32) bool { return uid >= r.First && uid-r.First < r.Count }

// Engines is the range of cache node identities: 0x7c000000 and the
// 65536 following.
func Engines() Range { return Range{First: 0x7c000000, Count: 0x10000} }

// UserData is the range of instance user-data identities, after Engines.
func UserData() Range { return Range{First: 0x7c010000, Count: 0x10000} }

// ID is an allocated identity: run as UID, with primary group GID and no
// supplementary groups.
type ID struct {
	UID, GID uint32
}

// ErrExhausted means every uid of the range is claimed.
var ErrExhausted = errors.New("identity range exhausted")

// Allocator hands out identities of one range, recorded in one registry
// directory. Create it with New; it is safe for concurrent use within
// one process (one daemon owns a registry).
type Allocator struct {
	dir string
	r   Range

	mu sync.Mutex // serialises claims and releases of this process
}

// New returns an Allocator over registry directory dir (created on the
// first claim, mode 0700) and range r. It has no side effects.
func New(dir string, r Range) *Allocator { return &Allocator{dir: dir, r: r} }

// Range returns the allocator's range.
func (a *Allocator) Range() Range { return a.r }

func checkKey(key string) error {
	if key == "" || len(key) > 255 {
		return fmt.Errorf("identity key %q: empty or longer than 255 bytes", key)
	}
	for i := 0; i < len(key); i++ {
		if key[i] == 0 || key[i] == '/' {
			return fmt.Errorf("identity key %q: holds '/' or NUL", key)
		}
	}
	return nil
}

// Lookup returns the identity key holds, if any.
func (a *Allocator) Lookup(key string) (ID, bool, error) {
	if err := checkKey(key); err != nil {
		return ID{}, false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lookup(key)
}

func (a *Allocator) lookup(key string) (ID, bool, error) {
	ents, err := os.ReadDir(a.dir)
	if errors.Is(err, os.ErrNotExist) {
		return ID{}, false, nil
	}
	if err != nil {
		return ID{}, false, fmt.Errorf("read identity registry: %w", err)
	}
	for _, e := range ents {
		uid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil || !a.r.Contains(uint32(uid)) {
			continue
		}
		if target, err := os.Readlink(a.dir + "/" + e.Name()); err == nil && target == key {
			return ID{UID: uint32(uid), GID: uint32(uid)}, true, nil
		}
	}
	return ID{}, false, nil
}

// Claimed returns every identity of the range claimed in the registry,
// by key.
func (a *Allocator) Claimed() (map[string]ID, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ents, err := os.ReadDir(a.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read identity registry: %w", err)
	}
	out := map[string]ID{}
	for _, e := range ents {
		uid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil || !a.r.Contains(uint32(uid)) {
			continue
		}
		if key, err := os.Readlink(a.dir + "/" + e.Name()); err == nil {
			out[key] = ID{UID: uint32(uid), GID: uint32(uid)}
		}
	}
	return out, nil
}

// Claim returns the identity of key, allocating one if key has none. The
// first uid tried is derived from key, so claims rarely collide; a taken
// uid moves on to the next.
func (a *Allocator) Claim(key string) (ID, error) {
	if err := checkKey(key); err != nil {
		return ID{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if id, ok, err := a.lookup(key); err != nil || ok {
		return id, err
	}
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return ID{}, fmt.Errorf("identity registry: %w", err)
	}
	if a.r.Count == 0 {
		return ID{}, ErrExhausted
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	start := h.Sum32() % a.r.Count
	for i := range a.r.Count {
		uid := a.r.First + (start+i)%a.r.Count
		err := os.Symlink(key, a.dir+"/"+strconv.FormatUint(uint64(uid), 10))
		if err == nil {
			return ID{UID: uid, GID: uid}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return ID{}, fmt.Errorf("claim identity for %s: %w", key, err)
		}
	}
	return ID{}, fmt.Errorf("claim identity for %s: %w", key, ErrExhausted)
}

// Release gives key's identity back; releasing a key without one is not
// an error. The caller makes sure nothing runs as it any more and no file
// it owns is kept: the uid may go to another key.
func (a *Allocator) Release(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok, err := a.lookup(key)
	if err != nil || !ok {
		return err
	}
	if err := os.Remove(a.dir + "/" + strconv.FormatUint(uint64(id.UID), 10)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release identity of %s: %w", key, err)
	}
	return nil
}
