package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/identity"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// TLS is a node's in-transit encryption (every engine): its
// server certificate and key and the CA that issued them, PEM. The
// engine then speaks TLS only on its port, and the supervisor reaches it
// over TLS too.
//
// The files are written into the node's data directory (the engine's
// working directory, its identity's), each created anew under a random
// name (never following a link the engine could plant), given to the
// node's identity, mode 0400, then renamed into place: readable by that
// engine only. Their names carry the certificate's hash, so a renewal
// (a Start with another certificate for a running node) writes new files
// and sets them live (CONFIG SET, no restart); the old ones are removed
// once the engine took the new. Memcached reads its files again from the
// names it started with (refresh_certs), so its files have fixed names
// (memcachedTLS), replaced by a rename.
type TLS struct {
	CertPEM, KeyPEM, CAPEM []byte
}

func (t *TLS) equal(o *TLS) bool {
	if t == nil || o == nil {
		return t == o
	}
	return bytes.Equal(t.CertPEM, o.CertPEM) && bytes.Equal(t.KeyPEM, o.KeyPEM) && bytes.Equal(t.CAPEM, o.CAPEM)
}

// ID identifies t: NodeStatus.TLS of a node given it. "" for nil.
func (t *TLS) ID() string {
	if t == nil {
		return ""
	}
	sum := sha256.Sum256(bytes.Join([][]byte{t.CertPEM, t.KeyPEM, t.CAPEM}, nil))
	return hex.EncodeToString(sum[:6])
}

// names are the engine's file names of t, relative to its data directory.
func (t *TLS) names() redis.TLS {
	h := t.ID()
	return redis.TLS{CertFile: "tls-" + h + "-cert.pem", KeyFile: "tls-" + h + "-key.pem", CAFile: "tls-" + h + "-ca.pem"}
}

// files are t's files by name.
func (t *TLS) files() map[string][]byte {
	n := t.names()
	return map[string][]byte{n.CertFile: t.CertPEM, n.KeyFile: t.KeyPEM, n.CAFile: t.CAPEM}
}

// Memcached's TLS files, in its data directory (memcached.TLS).
var memcachedTLS = memcached.TLS{CertFile: "tls-cert.pem", KeyFile: "tls-key.pem"}

// filesFor are t's files by name for an engine (catalog.Memcached or
// another).
func (t *TLS) filesFor(eng string) map[string][]byte {
	if eng == catalog.Memcached {
		return map[string][]byte{memcachedTLS.CertFile: t.CertPEM, memcachedTLS.KeyFile: t.KeyPEM}
	}
	return t.files()
}

// withTLS returns admin reaching a node of spec: over TLS when the node
// has it.
func withTLS(admin redis.Admin, spec NodeSpec) (redis.Admin, error) {
	admin.TLS = nil
	if spec.TLS == nil || spec.Split != nil && spec.Split.Plain != 0 {
		// Split: reached on its plaintext port.
		return admin, nil
	}
	cfg, err := redis.ClientConfig(spec.TLS.CAPEM)
	if err != nil {
		return admin, err
	}
	admin.TLS = cfg
	return admin, nil
}

// writeEngineFiles writes files into the data directory for the engine's
// identity id (nil: the daemon's own), as TLS's comment says.
func writeEngineFiles(data string, id *identity.ID, files map[string][]byte) error {
	for name, b := range files {
		rnd := make([]byte, 8)
		_, _ = rand.Read(rnd) // never fails (crypto/rand)
		tmp := filepath.Join(data, ".cachalot-"+hex.EncodeToString(rnd)+".tmp")
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o400)
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		_, err = f.Write(b)
		if err == nil && id != nil {
			err = f.Chown(int(id.UID), int(id.GID))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, filepath.Join(data, name))
		}
		if err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

var tlsFileRE = regexp.MustCompile(`^tls-([0-9a-f]{12}-)?(cert|key|ca)\.pem$`)

// removeOldTLSFiles removes the TLS files in data not named in want
// (unlinking never follows a link).
func removeOldTLSFiles(data string, want map[string][]byte) {
	ents, err := os.ReadDir(data)
	if err != nil {
		return
	}
	for _, e := range ents {
		if _, ok := want[e.Name()]; !ok && tlsFileRE.MatchString(e.Name()) {
			_ = os.Remove(filepath.Join(data, e.Name()))
		}
	}
}

// renewTLS serves reqTLS: the new files are written and set live; the
// spec takes them (the configuration the engine restarts with names
// them) once the engine did.
func (n *node) renewTLS(ctx context.Context, w *watcher, t *TLS, quiet bool) error {
	var id *identity.ID
	if runningAsRoot() {
		claimed, err := n.s.ids.Claim(n.id)
		if err != nil {
			return err
		}
		id = &claimed
	}
	data := filepath.Join(n.dir, dataDirName)
	eng := n.spec.Engine.Engine // fixed for the node's life
	if err := writeEngineFiles(data, id, t.filesFor(eng)); err != nil {
		return err
	}
	n.mu.Lock()
	old := n.spec.TLS
	n.spec.TLS = t
	spec, admin := cloneSpec(n.spec), n.admin
	n.mu.Unlock()
	if w != nil && eng == catalog.Memcached {
		// Over the TLS the engine speaks now (admin's, the old CA's).
		c, err := memcached.DialTLS(ctx, spec.Dial, spec.Addr(), admin.TLS)
		if err == nil {
			err = c.RefreshCerts(ctx)
			c.Close()
		}
		if err != nil {
			n.mu.Lock()
			n.spec.TLS = old
			n.mu.Unlock()
			return fmt.Errorf("renew certificate of %s: %w", n.id, err)
		}
	} else if w != nil {
		c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
		if err == nil {
			defer c.Close()
			for _, args := range t.names().RenewCommands() {
				if _, err = admin.Do(ctx, c, args...); err != nil {
					break
				}
			}
		}
		if err != nil {
			n.mu.Lock()
			n.spec.TLS = old
			n.mu.Unlock()
			return fmt.Errorf("renew certificate of %s: %w", n.id, err)
		}
	}
	if admin, err := withTLS(admin, spec); err == nil {
		n.mu.Lock()
		n.admin = admin
		n.mu.Unlock()
	}
	if err := n.writeConfig(); err != nil {
		return err
	}
	removeOldTLSFiles(data, t.filesFor(eng))
	n.setStatus(func(s *NodeStatus) { s.TLS = t.ID() })
	if !quiet {
		n.emit(Event{Type: EventTLSRenewed, Message: "TLS certificate renewed"})
	}
	return nil
}
