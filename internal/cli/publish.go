package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/cachalotapi"
)

// The publish commands call Cachalot's own actions PublishCache,
// UnpublishCache and DescribePublishedCaches (docs/api-extensions.md).

// cacheArg parses the flags of a command taking one cache id.
func cacheArg(name string, args []string, stderr io.Writer, optional bool) (dataDir, region, cache string, err error) {
	fs, dd, rg := accessFlags(name, args, stderr)
	if err := fs.Parse(args); err != nil {
		return "", "", "", err
	}
	rest := fs.Args()
	if len(rest) > 1 || (len(rest) == 0 && !optional) {
		arg := "CACHE"
		if optional {
			arg = "[CACHE]"
		}
		return "", "", "", fmt.Errorf("usage: cachalot %s [--region REGION] %s", name, arg)
	}
	if len(rest) == 1 {
		cache = rest[0]
	}
	return *dd, *rg, cache, nil
}

// withCache parses a one-cache command's flags and calls do with a client
// of Cachalot's own API and a context bounded as the access commands are.
func withCache(ctx context.Context, name string, args []string, stderr io.Writer, optional bool,
	do func(ctx context.Context, c cachalotapi.Client, cache string) error) error {
	dataDir, region, cache, err := cacheArg(name, args, stderr, optional)
	if err != nil {
		return err
	}
	c, err := newAPI(dataDir, region)
	if err != nil {
		return err
	}
	ctx, cancel := accessTimeout(ctx)
	defer cancel()
	return do(ctx, c, cache)
}

// publishCmd: cachalot publish CACHE
func publishCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withCache(ctx, "publish", args, stderr, false, func(ctx context.Context, c cachalotapi.Client, cache string) error {
		out, err := c.PublishCache(ctx, &cachalotapi.PublishCacheMessage{CacheClusterId: aws.String(cache)})
		if err != nil {
			return err
		}
		printPublished(stdout, "published", out.PublishedCache)
		return nil
	})
}

// unpublishCmd: cachalot unpublish CACHE
func unpublishCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withCache(ctx, "unpublish", args, stderr, false, func(ctx context.Context, c cachalotapi.Client, cache string) error {
		out, err := c.UnpublishCache(ctx, &cachalotapi.PublishCacheMessage{CacheClusterId: aws.String(cache)})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "unpublished %s: its addresses and names leave this host\n", aws.ToString(out.PublishedCache.CacheClusterId))
		return nil
	})
}

// publishedCmd: cachalot published [CACHE]
func publishedCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withCache(ctx, "published", args, stderr, true, func(ctx context.Context, c cachalotapi.Client, cache string) error {
		in := &cachalotapi.DescribePublishedCachesMessage{}
		if cache != "" {
			in.CacheClusterId = aws.String(cache)
		}
		out, err := c.DescribePublishedCaches(ctx, in)
		if err != nil {
			return err
		}
		if len(out.PublishedCaches) == 0 {
			fmt.Fprintln(stdout, "no cache is published to this host")
		}
		for i := range out.PublishedCaches {
			printPublished(stdout, "published", &out.PublishedCaches[i])
		}
		return nil
	})
}

func printPublished(w io.Writer, verb string, pc *cachalotapi.PublishedCache) {
	if pc == nil {
		return
	}
	by := ""
	if aws.ToString(pc.PublishedBy) == "publish-all" {
		by = " (by serve --publish-all)"
	}
	fmt.Fprintf(w, "%s %s%s", verb, aws.ToString(pc.CacheClusterId), by)
	if hc := aws.ToString(pc.HostClientAddress); hc != "" {
		fmt.Fprintf(w, "; its security groups see this host as %s", hc)
	} else {
		fmt.Fprintf(w, "; loopback network mode: security groups are not enforced")
	}
	fmt.Fprintln(w)
	if len(pc.Endpoints) == 0 {
		fmt.Fprintln(w, "  (no node has an address yet: see 'cachalot published' once the cache is available)")
	}
	for _, ep := range pc.Endpoints {
		fmt.Fprintf(w, "  %s\t%s\t%s:%d\t(%s, %s)\n", aws.ToString(ep.CacheNodeId), aws.ToString(ep.Name), aws.ToString(ep.Address),
			aws.ToInt32(ep.Port), aws.ToString(ep.PrivateIpAddress), aws.ToString(ep.NetworkInterfaceId))
	}
}
