package app

import (
	"path/filepath"

	"github.com/cachalot-dev/cachalot/internal/engine"
)

// EnginesDir is where the engines of the installation at dataDir keep
// their nodes' directories (<account>.<region>.<cache>.<node>).
func EnginesDir(dataDir string) string { return filepath.Join(dataDir, "engines") }

// SnapshotsDir is the snapshot store of the data dir (internal/snapctl):
// the RDB files of the snapshots, one per node group.
func SnapshotsDir(dataDir string) string { return filepath.Join(dataDir, "snapshots") }

// EngineLogFiles returns the log files of the node whose directory (under
// EnginesDir) is dir, for `cachalot logs`.
func EngineLogFiles(dir string) []string { return engine.LogFiles(dir) }
