// Command cachalot is a self-hosted, AWS-compatible Amazon ElastiCache.
// See internal/cli for the commands.
package main

import (
	"context"
	"os"

	"github.com/cachalot-dev/cachalot/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
