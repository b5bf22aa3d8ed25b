package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/app"
)

// logs prints the engine logs of a cache's nodes: `cachalot logs CACHE
// [--node 0001] [-f]`. Nodes are found in the data dir's engines directory
// (<account>.<region>.<cache>.<node>); with several accounts holding the
// cache id, --account picks one.
func logs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := clientDataDirFlag(fs, stderr, args)
	region := fs.String("region", envOr("AWS_REGION", envOr("AWS_DEFAULT_REGION", "us-east-1")), "region of the cache (env AWS_REGION)")
	account := fs.String("account", "", "account id of the cache, when several accounts have one of that id")
	node := fs.String("node", "", "only this node (e.g. 0001); default every node")
	follow := fs.Bool("f", false, "keep printing what the engines write")
	cache, rest := splitFirstArg(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if cache == "" && fs.NArg() > 0 {
		cache = fs.Arg(0)
	}
	if cache == "" {
		return errors.New("usage: cachalot logs CACHE [--node 0001] [-f] [--region R] [--account ID]")
	}
	dirs, err := nodeDirs(app.EnginesDir(*dataDir), *account, *region, strings.ToLower(cache), *node)
	if err != nil {
		return err
	}
	var files []string
	for _, d := range dirs {
		files = append(files, app.EngineLogFiles(d)...)
	}
	if len(files) == 0 {
		return fmt.Errorf("cache %s has no engine log yet", cache)
	}
	offsets := make([]int64, len(files))
	for i, f := range files {
		if offsets[i], err = copyFrom(stdout, f, 0, len(files) > 1); err != nil {
			return err
		}
	}
	for *follow {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
		for i, f := range files {
			if offsets[i], err = copyFrom(stdout, f, offsets[i], len(files) > 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitFirstArg takes a leading positional argument off args, so that
// `logs CACHE --node 0001` parses its flags after the cache id.
func splitFirstArg(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// nodeDirs returns the node directories of the cache under engines.
func nodeDirs(engines, account, region, cache, node string) ([]string, error) {
	acct := account
	if acct == "" {
		acct = "*"
	}
	pat := filepath.Join(engines, acct+"."+region+"."+cache+".*")
	if node != "" {
		pat = filepath.Join(engines, acct+"."+region+"."+cache+"."+node)
	}
	dirs, err := filepath.Glob(pat)
	if err != nil {
		return nil, err
	}
	accounts := map[string]bool{}
	for _, d := range dirs {
		accounts[strings.SplitN(filepath.Base(d), ".", 2)[0]] = true
	}
	switch {
	case len(dirs) == 0 && node != "":
		return nil, fmt.Errorf("cache %s in %s has no node %s here (%s)", cache, region, node, engines)
	case len(dirs) == 0:
		return nil, fmt.Errorf("cache %s in %s has no node here (%s); see --region and --data-dir", cache, region, engines)
	case len(accounts) > 1:
		return nil, fmt.Errorf("several accounts have a cache %s in %s: name one with --account", cache, region)
	}
	slices.Sort(dirs)
	return dirs, nil
}

// copyFrom copies file from offset to w, each line prefixed with the
// node's name when prefix is set, and returns the new offset.
func copyFrom(w io.Writer, file string, offset int64, prefix bool) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return offset, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < offset {
		offset = 0 // truncated or replaced: start again
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return offset, err
	}
	// Only whole lines; the rest is read again next time.
	end := strings.LastIndexByte(string(b), '\n') + 1
	text := string(b[:end])
	if prefix && text != "" {
		parts := strings.Split(filepath.Base(filepath.Dir(file)), ".")
		tag := parts[len(parts)-1]
		if filepath.Base(filepath.Dir(file)) == "data" {
			parts = strings.Split(filepath.Base(filepath.Dir(filepath.Dir(file))), ".")
			tag = parts[len(parts)-1]
		}
		text = tag + " | " + strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n"+tag+" | ") + "\n"
	}
	if _, err := io.WriteString(w, text); err != nil {
		return offset, err
	}
	return offset + int64(end), nil
}
