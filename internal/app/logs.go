package app

import (
	"path/filepath"

	"github.com/cachalot-dev/cachalot/internal/engine"
)

// EnginesDir is where the engines of the installation at dataDir keep
// their nodes' directories (<account>.<region>.<cache>.<node>).
func EnginesDir(dataDir string) string { return filepath.Join(dataDir, "engines") }

// EngineLogFiles returns the log files of the node whose directory (under
// EnginesDir) is dir, for `cachalot logs`.
func EngineLogFiles(dir string) []string { return engine.LogFiles(dir) }
