package snapctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/reconcile"
)

// Automatic snapshots: a Valkey or Redis OSS cluster outside a group, a
// replication group or a serverless cache (of any engine), with a SnapshotRetentionLimit
// above zero gets one snapshot a day, started in its SnapshotWindow (UTC;
// a serverless cache's is the hour from its DailySnapshotTime) and named
// automatic.<id>-YYYY-MM-DD-HH-MM (a serverless cache's among its
// serverless snapshots, of type automated); an automatic snapshot is expired
// (deleted) once older than the retention, when the retention drops to
// zero, or when its source is gone. The controller asks to run again at
// the next window and the next expiry.

// source is a cache that takes automatic snapshots.
type source struct {
	ref       elasticache.SnapshotSourceRef
	id        string // the cluster's or group's
	window    string
	retain    int
	available bool
}

func (c *Controller) automatic(ctx context.Context, st elasticache.SnapshotState) error {
	now := c.cfg.Now().UTC()
	sources := map[elasticache.SnapshotSourceRef]source{}
	for _, cl := range st.Clusters {
		if cl.ReplicationGroupID == "" && cl.Engine != catalog.Memcached {
			ref := elasticache.SnapshotSourceRef{Account: cl.Account, Region: cl.Region, ClusterID: cl.ID}
			sources[ref] = source{ref, cl.ID, cl.SnapshotWindow, cl.SnapshotRetain, cl.APIStatus() == elasticache.StatusAvailable}
		}
	}
	for _, g := range st.Groups {
		ref := elasticache.SnapshotSourceRef{Account: g.Account, Region: g.Region, GroupID: g.ID}
		if sv := g.Serverless; sv != nil {
			// A serverless cache: its daily snapshot starts at
			// DailySnapshotTime, within the hour.
			w, err := dailyWindow(sv.DailySnapshotTime)
			if err != nil {
				c.cfg.Logger.Warn("serverless daily snapshot time", "cache", sv.Name, "err", err)
				continue
			}
			sources[ref] = source{ref, sv.Name, w, sv.SnapshotRetain, g.APIStatus() == elasticache.GroupAvailable && g.Snapshotting == ""}
			continue
		}
		sources[ref] = source{ref, g.ID, g.SnapshotWindow, g.SnapshotRetain, g.APIStatus() == elasticache.GroupAvailable}
	}
	var errs []error
	latest := map[elasticache.SnapshotSourceRef]time.Time{}
	for _, sn := range st.Snapshots {
		if sn.Source != elasticache.SourceAutomated {
			continue
		}
		ref := elasticache.SnapshotSourceRef{Account: sn.Account, Region: sn.Region, GroupID: sn.GroupID}
		if sn.GroupID == "" {
			ref.ClusterID = sn.ClusterID
		}
		if sn.CreatedAt.After(latest[ref]) {
			latest[ref] = sn.CreatedAt
		}
		if sn.Status != elasticache.SnapshotAvailable {
			continue
		}
		src, ok := sources[ref]
		expires := sn.CreatedAt.Add(time.Duration(src.retain) * 24 * time.Hour)
		if !ok || !now.Before(expires) {
			errs = append(errs, c.cfg.Domain.ExpireSnapshot(ctx, sn.Ref()))
			continue
		}
		reconcile.RequeueAt(ctx, expires)
	}
	for ref, src := range sources {
		if src.retain <= 0 {
			continue
		}
		start, end, next, err := window(src.window, now)
		if err != nil {
			c.cfg.Logger.Warn("snapshot window", "source", src.id, "err", err)
			continue
		}
		reconcile.RequeueAt(ctx, next)
		if now.Before(start) || !now.Before(end) || !latest[ref].Before(start) || !src.available {
			continue
		}
		name := AutomaticName(src.id, now)
		if err := c.cfg.Domain.StartAutomaticSnapshot(ctx, ref, name); err != nil {
			errs = append(errs, fmt.Errorf("automatic snapshot %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// AutomaticName is the name of an automatic snapshot of id started at t.
func AutomaticName(id string, t time.Time) string {
	return "automatic." + id + "-" + t.UTC().Format("2006-01-02-15-04")
}

// dailyWindow is the window of an hour starting at a serverless cache's
// DailySnapshotTime "hh:mm".
func dailyWindow(daily string) (string, error) {
	m, err := minuteOfDay(daily)
	if err != nil {
		return "", err
	}
	end := (m + 60) % (24 * 60)
	return fmt.Sprintf("%s-%02d:%02d", daily, end/60, end%60), nil
}

// window returns the occurrence of a daily window "hh:mm-hh:mm" (UTC)
// that contains now, or else the next one, and the start of the one after
// it.
func window(w string, now time.Time) (start, end, next time.Time, err error) {
	from, to, ok := strings.Cut(w, "-")
	if !ok {
		return start, end, next, fmt.Errorf("bad window %q", w)
	}
	f, err1 := minuteOfDay(from)
	t, err2 := minuteOfDay(to)
	if err := errors.Join(err1, err2); err != nil {
		return start, end, next, fmt.Errorf("bad window %q: %w", w, err)
	}
	length := time.Duration((t-f+24*60)%(24*60)) * time.Minute
	if length == 0 {
		length = 24 * time.Hour
	}
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for d := -1; d <= 1; d++ {
		start = day.AddDate(0, 0, d).Add(time.Duration(f) * time.Minute)
		if end = start.Add(length); now.Before(end) {
			return start, end, start.AddDate(0, 0, 1), nil
		}
	}
	return start, end, start.AddDate(0, 0, 1), nil
}

func minuteOfDay(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}
