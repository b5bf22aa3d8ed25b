package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Snapshots (ElastiCache's backups) are the engine's own RDB file: BGSAVE
// through the admin connection writes it as DumpFile in the engine's
// working directory (the engine writes a temporary file and renames it,
// so the file is always whole), and the engine loads DumpFile at its
// start, which is how a restored node gets its data.

// DumpFile is the RDB file's name in the engine's working directory.
const DumpFile = "dump.rdb"

// Persistence is what INFO persistence and INFO memory say of a node's
// RDB saves.
type Persistence struct {
	Loading        bool
	SaveInProgress bool
	LastSave       int64 // rdb_last_save_time, Unix seconds
	LastSaveOK     bool  // rdb_last_bgsave_status:ok
	UsedMemory     int64 // used_memory, bytes: an upper bound of the RDB's size
}

// ParsePersistence reads the fields of Persistence from INFO output.
func ParsePersistence(s string) (Persistence, error) {
	var p Persistence
	seen := false
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "loading":
			p.Loading = v == "1"
		case "rdb_bgsave_in_progress":
			p.SaveInProgress = v == "1"
		case "rdb_last_save_time":
			p.LastSave, _ = strconv.ParseInt(v, 10, 64)
			seen = true
		case "rdb_last_bgsave_status":
			p.LastSaveOK = v == "ok"
		case "used_memory":
			p.UsedMemory, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if !seen {
		return p, fmt.Errorf("INFO persistence: no rdb_last_save_time in %q", s)
	}
	return p, nil
}

// Persistence reads INFO persistence and INFO memory.
func (a Admin) Persistence(ctx context.Context, c *Conn) (Persistence, error) {
	pers, err := c.String(ctx, "INFO", "persistence")
	if err != nil {
		return Persistence{}, err
	}
	mem, err := c.String(ctx, "INFO", "memory")
	if err != nil {
		return Persistence{}, err
	}
	return ParsePersistence(pers + "\n" + mem)
}

// BackgroundSave makes the engine write DumpFile anew (BGSAVE) and waits
// until it is written: a save finishing after the call began, and
// successful. A save already running (a replica's full synchronisation)
// is waited for first. poll is the interval between checks.
func (a Admin) BackgroundSave(ctx context.Context, c *Conn, poll time.Duration) error {
	for {
		before, err := a.Persistence(ctx, c)
		if err != nil {
			return err
		}
		if !before.SaveInProgress {
			_, err = a.Do(ctx, c, "BGSAVE")
			if err == nil {
				return a.waitSave(ctx, c, before.LastSave, poll)
			}
			var e Error
			if !errors.As(err, &e) || !strings.Contains(string(e), "in progress") {
				return fmt.Errorf("BGSAVE: %w", err)
			}
		}
		if err := sleep(ctx, poll); err != nil {
			return err
		}
	}
}

// waitSave waits until no save runs and the last one is later than
// (or, within its second, as late as) after, and reports its outcome.
func (a Admin) waitSave(ctx context.Context, c *Conn, after int64, poll time.Duration) error {
	for {
		p, err := a.Persistence(ctx, c)
		if err != nil {
			return err
		}
		if !p.SaveInProgress {
			if !p.LastSaveOK {
				return fmt.Errorf("BGSAVE failed (rdb_last_bgsave_status is not ok; see the engine's log)")
			}
			if p.LastSave >= after {
				return nil
			}
		}
		if err := sleep(ctx, poll); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// IsLoading reports whether err is the engine's reply while it loads its
// dataset (-LOADING).
func IsLoading(err error) bool {
	var e Error
	return errors.As(err, &e) && strings.HasPrefix(string(e), "LOADING")
}

// StreamRDB has the engine send its dataset as an RDB stream, as to a
// replica's full synchronisation but without the replication that would
// follow (REPLCONF rdb-only, then SYNC: what `redis-cli --rdb` does), and
// writes it to w; it returns the bytes written. With diskless
// synchronisation (the engines' default) the engine's fork writes to the
// socket, not to its disk. ctx ending closes the connection.
func (a Admin) StreamRDB(ctx context.Context, c *Conn, w io.Writer) (int64, error) {
	for _, args := range [][]string{{"REPLCONF", "capa", "eof"}, {"REPLCONF", "rdb-only", "1"}} {
		if _, err := a.Do(ctx, c, args...); err != nil {
			return 0, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
		}
	}
	if err := c.c.SetDeadline(time.Time{}); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	defer stop()
	name := a.Name("SYNC")
	if _, err := fmt.Fprintf(c.c, "*1\r\n$%d\r\n%s\r\n", len(name), name); err != nil {
		return 0, fmt.Errorf("send SYNC: %w", err)
	}
	for {
		l, err := c.line()
		if err != nil {
			return 0, fmt.Errorf("SYNC: %w", err)
		}
		switch {
		case l == "": // a keepalive while the engine prepares the RDB
		case l[0] == '-':
			return 0, fmt.Errorf("SYNC: %w", Error(l[1:]))
		case strings.HasPrefix(l, "$EOF:") && len(l) == 5+40:
			return copyUntil(w, c.r, []byte(l[5:]))
		case l[0] == '$':
			n, err := strconv.ParseInt(l[1:], 10, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("SYNC: bad reply %q", l)
			}
			return io.CopyN(w, c.r, n)
		default:
			return 0, fmt.Errorf("SYNC: bad reply %q", l)
		}
	}
}

// copyUntil copies r to w up to the end mark, which is not written.
func copyUntil(w io.Writer, r io.Reader, mark []byte) (int64, error) {
	buf := make([]byte, 1<<20)
	held := 0 // bytes at buf's start not written yet: a possible start of the mark
	var total int64
	for {
		n, err := r.Read(buf[held:])
		end := held + n
		if end >= len(mark) && bytes.Equal(buf[end-len(mark):end], mark) {
			m, werr := w.Write(buf[:end-len(mark)])
			return total + int64(m), werr
		}
		keep := min(len(mark), end)
		m, werr := w.Write(buf[:end-keep])
		total += int64(m)
		if werr != nil {
			return total, werr
		}
		copy(buf, buf[end-keep:end])
		held = keep
		if err != nil {
			return total, fmt.Errorf("SYNC stream: %w", err)
		}
	}
}
