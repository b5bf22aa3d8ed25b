package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/engine/identity"
)

// How an engine is confined. When the daemon runs as root, each node's
// engine runs as an identity of its own (internal/engine/identity: a uid
// and gid from a dedicated range, claimed by node id), with no
// supplementary groups, no capabilities (bounding set cleared) and
// no_new_privs, dropped to by setpriv(1) after the launcher has entered
// the node's network namespace. It cannot signal another node's engine
// nor read its files:
//
//	DataDir/<node>/        root, 0700: the supervisor's (configuration,
//	                       state file, secrets, engine.out)
//	DataDir/<node>/data/   the node's identity, 0700: the engine's working
//	                       directory and everything it writes (RDB, AOF,
//	                       nodes.conf, its log)
//
// The engine reads its configuration on standard input, opened by the
// supervisor, and names its files relative to its working directory: it
// needs no access to any path above it. The supervisor never writes into
// the data directory after the engine ran there, and reads from it
// (logs, for error messages) without following symbolic links.
//
// When the daemon does not run as root (loopback mode for development)
// nothing can switch identity: engines run as the daemon's user, with
// no_new_privs when setpriv is installed, and the layout is the same.
//
// A private mount namespace is not used: the engine's view of the file
// system is limited by its identity (world-readable files only, its own
// data directory to write), and a read-only root would need a helper to
// set up mounts before the engine starts, which neither setpriv nor the
// launcher offers.

// dataDirName is the engine's working directory in the node directory.
const dataDirName = "data"

// supervisorFile reports whether a node directory entry is the
// supervisor's. Anything else there was written by an engine that a
// Cachalot before the data directory ran in the node directory itself; it
// moves into the data directory at the next launch.
func supervisorFile(name string) bool {
	switch name {
	case dataDirName, stateFileName, secretsFileName, "engine.out", "redis.conf", "valkey.conf":
		return true
	}
	return strings.HasSuffix(name, ".tmp")
}

// confine prepares the node's data directory for the identity the engine
// runs as and returns the argv that starts it confined, the data
// directory, and the identity (nil: the daemon's own).
func (n *node) confine(r rendered) ([]string, string, *identity.ID, error) {
	root := runningAsRoot()
	mode := os.FileMode(0o750)
	if root {
		mode = 0o700
	}
	if err := os.Chmod(n.dir, mode); err != nil {
		return nil, "", nil, fmt.Errorf("node directory: %w", err)
	}
	var id *identity.ID
	if root {
		claimed, err := n.s.ids.Claim(n.id)
		if err != nil {
			return nil, "", nil, err
		}
		id = &claimed
	}
	n.mu.Lock()
	seed, seedName := n.spec.Seed, seedFileName(n.spec.Engine.Engine)
	n.mu.Unlock()
	data, seeded, err := prepareDataDir(n.dir, id, seed, seedName)
	if err != nil {
		return nil, "", nil, err
	}
	n.mu.Lock()
	n.seeded = seeded
	n.mu.Unlock()
	setpriv, err := n.s.tool(n.s.cfg.Setpriv, "setpriv", root)
	if err != nil {
		return nil, "", nil, err
	}
	argv := identity.Drop{Setpriv: setpriv, ID: id}.Argv(r.argv)
	if r.dataLimit > 0 {
		prlimit, err := n.s.tool(n.s.cfg.Prlimit, "prlimit", root)
		if err != nil {
			return nil, "", nil, err
		}
		if prlimit != "" {
			l := strconv.FormatInt(r.dataLimit, 10)
			argv = append([]string{prlimit, "--data=" + l + ":" + l, "--"}, argv...)
		}
	}
	return argv, data, id, nil
}

// tool returns the path of a util-linux helper: configured, else found
// in PATH. Missing, it is an error when required (the daemon runs as
// root and must drop privileges), else "" (run without it).
func (s *Supervisor) tool(configured, name string, required bool) (string, error) {
	if configured != "" {
		return configured, nil
	}
	p, err := exec.LookPath(name)
	if err != nil && required {
		return "", fmt.Errorf("%s (util-linux) is needed to confine engines when running as root: %w", name, err)
	}
	if err != nil {
		return "", nil
	}
	return p, nil
}

// prepareDataDir makes the node's data directory, moves engine files left
// in the node directory by an earlier Cachalot into it, and gives it to id
// (nil: leave owners as they are). A data directory it makes anew gets
// seed, when given, as the engine's dump file (NodeSpec.Seed): no engine
// has run there yet.
func prepareDataDir(dir string, id *identity.ID, seed, seedName string) (string, bool, error) {
	data, seeded, err := makeDataDir(dir, seed, seedName)
	if err != nil {
		return "", false, err
	}
	fi, err := os.Lstat(data)
	if err != nil {
		return "", false, fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return "", false, fmt.Errorf("data directory %s is not a directory", data)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", false, fmt.Errorf("node directory: %w", err)
	}
	var moved []string
	for _, e := range ents {
		if supervisorFile(e.Name()) {
			continue
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(data, e.Name())); err != nil {
			return "", false, fmt.Errorf("move %s into the data directory: %w", e.Name(), err)
		}
		moved = append(moved, filepath.Join(data, e.Name()))
	}
	if id == nil {
		return data, seeded, nil
	}
	// Give the whole tree only when it is not the identity's yet: no
	// process of that identity has run there, so nothing in it can be a
	// link planted to make root change another file's owner.
	if uid, ok := fileOwner(fi); !ok || uid != id.UID {
		moved = []string{data}
	}
	for _, p := range moved {
		if err := chownTree(p, *id); err != nil {
			return "", false, err
		}
	}
	if err := os.Chmod(data, 0o700); err != nil {
		return "", false, fmt.Errorf("data directory: %w", err)
	}
	return data, seeded, nil
}

// makeDataDir makes the data directory if it is missing and then, when
// given, copies seed into it as seedName (seedFileName); it reports
// whether it did.
func makeDataDir(dir, seed, seedName string) (string, bool, error) {
	data := filepath.Join(dir, dataDirName)
	err := os.Mkdir(data, 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return "", false, fmt.Errorf("data directory: %w", err)
	}
	if err != nil || seed == "" {
		return data, false, nil
	}
	if err := seedDump(seed, filepath.Join(data, seedName)); err != nil {
		_ = os.RemoveAll(data) // the next launch seeds again
		return "", false, err
	}
	return data, true, nil
}

// chownTree gives path and everything under it to id, never following a
// symbolic link.
func chownTree(path string, id identity.ID) error {
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, int(id.UID), int(id.GID)); err != nil {
			return fmt.Errorf("give %s to uid %d: %w", p, id.UID, err)
		}
		return nil
	})
}
