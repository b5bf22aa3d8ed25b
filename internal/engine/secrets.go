package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// The secrets file holds a node's private credentials: the password of
// the admin user Cachalot reaches a Redis/Valkey node as, and the suffix
// its restricted commands are renamed with (internal/engine/redis,
// restrict.go). It is made once per node directory, mode 0600, and kept
// for the node's life: a later supervisor re-adopting the running engine
// reads it to keep managing it. The node directory it lies in is the
// supervisor's own (mode 0700 when the daemon runs as root), never the
// engine's.
const secretsFileName = "cachalot-secrets.json"

type secrets struct {
	AdminPassword string `json:"admin_password"`
	CommandSuffix string `json:"command_suffix"`
}

func (s secrets) redisAdmin() redis.Admin {
	return redis.Admin{Password: s.AdminPassword, Suffix: s.CommandSuffix}
}

func readSecrets(dir string) (secrets, error) {
	var s secrets
	b, err := os.ReadFile(filepath.Join(dir, secretsFileName))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("parse %s: %w", secretsFileName, err)
	}
	if s.AdminPassword == "" || s.CommandSuffix == "" {
		return s, fmt.Errorf("%s: incomplete", secretsFileName)
	}
	return s, nil
}

// ensureSecrets returns the node's secrets, making them on first use.
func ensureSecrets(dir string) (secrets, error) {
	s, err := readSecrets(dir)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	random := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		return hex.EncodeToString(b)
	}
	s = secrets{AdminPassword: random(), CommandSuffix: random()}
	b, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	path := filepath.Join(dir, secretsFileName)
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a leftover may have other permissions
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return s, fmt.Errorf("write %s: %w", secretsFileName, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return s, fmt.Errorf("write %s: %w", secretsFileName, err)
	}
	return s, nil
}
