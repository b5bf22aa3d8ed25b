package cli

import "path/filepath"

// RuntimeFile is the runtime file of the service of a data dir.
func RuntimeFile(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		panic(err)
	}
	return runtimeFile(abs)
}
