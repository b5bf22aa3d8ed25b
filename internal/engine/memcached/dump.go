package memcached

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Dumps: memcached has no persistence, so a snapshot of a memcached engine
// is its items read out over the text protocol and written to a file of
// Cachalot's own, and a restore writes them back into a new engine.
//
// Reading: `lru_crawler metadump all` lists every key (the crawler
// enabled for it when the engine runs without) (URL-encoded; the
// engine's memcached 1.6.18 has no `lru_crawler mgdump`), then the meta
// command `mg <key> b v f t` (the key base64-encoded, so any key the
// engine holds can be asked for) reads each value with its client flags
// and remaining TTL, pipelined in batches. An item deleted or expired
// between the two is skipped; one written in between is read as it is
// then, one added after the key listing is missed (a dump is not a
// point-in-time image: memcached has none).
//
// Writing back: `ms <key> <len> b F<flags> T<ttl> q`, pipelined, each batch
// ended by `mn`. An item whose expiry has passed is not written; a
// remaining TTL beyond 30 days is given as the absolute Unix time, as
// memcached reads such a T.
//
// The file (DumpVersion 1), all integers big-endian or unsigned varints:
//
//	magic    "CACHALOT-MCDUMP\n" (16 bytes)
//	version  uint16 (1)
//	taken    int64, Unix seconds when the dump began
//	items    repeated: 'I', uvarint key length (1-250), key,
//	         uint32 client flags, varint expiry (Unix seconds; 0 never),
//	         uvarint value length, value
//	end      'E', uvarint item count, uint32 CRC-32C (Castagnoli) of
//	         every byte before it from the magic on
//
// Load verifies the whole file (magic, version, lengths, count, checksum)
// before it writes a single item.

// DumpMagic starts a dump file.
const DumpMagic = "CACHALOT-MCDUMP\n"

// DumpVersion is the dump format written.
const DumpVersion = 1

// MaxKeyLen is memcached's longest key.
const MaxKeyLen = 250

// maxValueLen bounds a value read from a dump (memcached's -I is at most
// 1 GiB).
const maxValueLen = 1 << 30

// relativeTTLMax is the longest TTL memcached takes as relative seconds;
// beyond it a TTL is an absolute Unix time.
const relativeTTLMax = 30 * 24 * 3600

// dumpBatch is the most requests pipelined before their replies are
// read; fewer when the engine serves fewer per event (batchSize).
const dumpBatch = 512

// batchSize is how many item requests are pipelined, with the closing
// "mn", per round trip: within the engine's requests_per_event (-R,
// ElastiCache's default 20). memcached 1.6.18 over TLS yields after that
// many and may not come back to input it has already decrypted (see
// nudgedLine), so a batch it serves in one event never waits on a nudge.
func (m *Conn) batchSize(ctx context.Context) (int, error) {
	l, err := m.roundTrip(ctx, "stats settings\r\n")
	per := 0
	for ; err == nil && l != "END"; l, err = m.line() {
		if v, ok := strings.CutPrefix(l, "STAT reqs_per_event "); ok {
			per, _ = strconv.Atoi(v)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("stats settings: %w", err)
	}
	if per < 2 {
		return 1, nil
	}
	return min(per-1, dumpBatch), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadDump says a dump file is not one Load can read.
var ErrBadDump = errors.New("not a valid memcached dump")

// DumpStats counts what Dump wrote.
type DumpStats struct {
	Items int64 // items written
	Bytes int64 // file size
}

// Dump reads every item of the engine on m and writes them to w in the
// dump format; now is the time the dump is taken at (expiries are stored
// as absolute times from it).
func (m *Conn) Dump(ctx context.Context, w io.Writer, now time.Time) (DumpStats, error) {
	keys, err := m.metadumpKeys(ctx)
	if err != nil {
		return DumpStats{}, err
	}
	cw := &countingWriter{w: w}
	h := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(cw, h), 64<<10)
	var hdr [26]byte
	copy(hdr[:], DumpMagic)
	binary.BigEndian.PutUint16(hdr[16:], DumpVersion)
	binary.BigEndian.PutUint64(hdr[18:], uint64(now.Unix()))
	if _, err := bw.Write(hdr[:]); err != nil {
		return DumpStats{}, err
	}
	size, err := m.batchSize(ctx)
	if err != nil {
		return DumpStats{}, fmt.Errorf("dump: %w", err)
	}
	var st DumpStats
	var req bytes.Buffer
	for start := 0; start < len(keys); start += size {
		batch := keys[start:min(start+size, len(keys))]
		req.Reset()
		for _, k := range batch {
			req.WriteString("mg ")
			req.WriteString(base64.StdEncoding.EncodeToString([]byte(k)))
			req.WriteString(" b v f t\r\n")
		}
		req.WriteString("mn\r\n")
		if err := m.send(ctx, req.Bytes()); err != nil {
			return DumpStats{}, fmt.Errorf("dump: %w", err)
		}
		mns := 1 // "mn" sent: the MN replies awaited at the end
		for _, k := range batch {
			l, err := m.nudgedLine(ctx, &mns)
			if err != nil {
				return DumpStats{}, fmt.Errorf("dump: %w", err)
			}
			if l == "EN" {
				continue // deleted or expired since the listing
			}
			n, flags, ttl, err := parseVA(l)
			if err != nil {
				return DumpStats{}, fmt.Errorf("dump: mg %q: %w", k, err)
			}
			val := make([]byte, n+2)
			if _, err := io.ReadFull(m.r, val); err != nil {
				return DumpStats{}, fmt.Errorf("dump: %w", err)
			}
			var exp int64
			if ttl >= 0 {
				exp = now.Unix() + ttl
			}
			if err := writeItem(bw, k, flags, exp, val[:n]); err != nil {
				return DumpStats{}, err
			}
			st.Items++
		}
		if err := m.awaitMN(ctx, &mns, nil); err != nil {
			return DumpStats{}, fmt.Errorf("dump: %w", err)
		}
	}
	var end [1 + binary.MaxVarintLen64]byte
	end[0] = 'E'
	l := 1 + binary.PutUvarint(end[1:], uint64(st.Items))
	if _, err := bw.Write(end[:l]); err != nil {
		return DumpStats{}, err
	}
	if err := bw.Flush(); err != nil {
		return DumpStats{}, err
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], h.Sum32())
	if _, err := cw.Write(sum[:]); err != nil {
		return DumpStats{}, err
	}
	st.Bytes = cw.n
	return st, nil
}

// metadumpKeys lists the engine's keys (lru_crawler metadump all),
// waiting while another crawl runs.
// An engine started without its crawler (lru_crawler 0, ElastiCache's
// default) has it enabled for the listing and disabled again after.
func (m *Conn) metadumpKeys(ctx context.Context) (_ []string, err error) {
	enabled := false
	defer func() {
		if enabled {
			if l, derr := m.roundTrip(ctx, "lru_crawler disable\r\n"); derr != nil || l != "OK" {
				err = errors.Join(err, fmt.Errorf("lru_crawler disable: %q %w", l, derr))
			}
		}
	}()
list:
	for {
		if err := m.send(ctx, []byte("lru_crawler metadump all\r\n")); err != nil {
			return nil, fmt.Errorf("metadump: %w", err)
		}
		var keys []string
		for {
			l, err := m.r.ReadString('\n')
			if err != nil {
				return nil, fmt.Errorf("metadump: %w", err)
			}
			l = strings.TrimRight(l, "\r\n")
			if l == "END" {
				return keys, nil
			}
			if strings.HasPrefix(l, "BUSY") {
				break // another crawl: ask again
			}
			if l == "CLIENT_ERROR lru crawler disabled" && !enabled {
				if l, err := m.roundTrip(ctx, "lru_crawler enable\r\n"); err != nil || l != "OK" {
					return nil, fmt.Errorf("lru_crawler enable: %q %w", l, err)
				}
				enabled = true
				continue list
			}
			enc, ok := strings.CutPrefix(l, "key=")
			if !ok {
				return nil, fmt.Errorf("metadump: unexpected reply %q", l)
			}
			enc, _, _ = strings.Cut(enc, " ")
			k, err := url.PathUnescape(enc)
			if err != nil {
				return nil, fmt.Errorf("metadump: key %q: %w", enc, err)
			}
			keys = append(keys, k)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("metadump: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// parseVA reads "VA <len> f<flags> t<ttl>"; ttl is -1 for no expiry.
func parseVA(l string) (n int, flags uint32, ttl int64, err error) {
	f := strings.Fields(l)
	if len(f) < 2 || f[0] != "VA" {
		return 0, 0, 0, fmt.Errorf("unexpected reply %q", l)
	}
	if n, err = strconv.Atoi(f[1]); err != nil || n < 0 {
		return 0, 0, 0, fmt.Errorf("bad length in %q", l)
	}
	ttl = -1
	for _, t := range f[2:] {
		switch t[0] {
		case 'f':
			v, err := strconv.ParseUint(t[1:], 10, 32)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("bad flags in %q", l)
			}
			flags = uint32(v)
		case 't':
			if ttl, err = strconv.ParseInt(t[1:], 10, 64); err != nil {
				return 0, 0, 0, fmt.Errorf("bad ttl in %q", l)
			}
		}
	}
	return n, flags, ttl, nil
}

func writeItem(w io.Writer, key string, flags uint32, exp int64, val []byte) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return fmt.Errorf("dump: key of %d bytes", len(key))
	}
	var b [1 + 3*binary.MaxVarintLen64 + 4]byte
	b[0] = 'I'
	l := 1 + binary.PutUvarint(b[1:], uint64(len(key)))
	if _, err := w.Write(b[:l]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, key); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(b[:4], flags)
	l = 4 + binary.PutVarint(b[4:], exp)
	l += binary.PutUvarint(b[l:], uint64(len(val)))
	if _, err := w.Write(b[:l]); err != nil {
		return err
	}
	_, err := w.Write(val)
	return err
}

// Item is one item of a dump.
type Item struct {
	Key    string
	Flags  uint32
	Expiry int64 // Unix seconds; 0 never
	Value  []byte
}

// DumpReader reads a dump's items; it checks the count and checksum at
// the end (Next returns the error then).
type DumpReader struct {
	r     *bufio.Reader // the file
	h     *hashReader   // r, hashed as consumed
	taken time.Time
	items uint64
	done  bool
}

// hashReader hashes what is read through it.
type hashReader struct {
	r *bufio.Reader
	h hash.Hash32
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

func (h *hashReader) ReadByte() (byte, error) {
	b, err := h.r.ReadByte()
	if err == nil {
		h.h.Write([]byte{b})
	}
	return b, err
}

// NewDumpReader reads a dump's header.
func NewDumpReader(r io.Reader) (*DumpReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	d := &DumpReader{r: br, h: &hashReader{r: br, h: crc32.New(castagnoli)}}
	var hdr [26]byte
	if _, err := io.ReadFull(d.h, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrBadDump, err)
	}
	if string(hdr[:16]) != DumpMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrBadDump)
	}
	if v := binary.BigEndian.Uint16(hdr[16:]); v != DumpVersion {
		return nil, fmt.Errorf("%w: version %d (this Cachalot reads %d)", ErrBadDump, v, DumpVersion)
	}
	d.taken = time.Unix(int64(binary.BigEndian.Uint64(hdr[18:])), 0)
	return d, nil
}

// Taken is when the dump began.
func (d *DumpReader) Taken() time.Time { return d.taken }

// Next returns the next item, or io.EOF after the last once the count and
// checksum are verified.
func (d *DumpReader) Next() (Item, error) {
	if d.done {
		return Item{}, io.EOF
	}
	bad := func(what string, err error) (Item, error) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if err == nil {
			return Item{}, fmt.Errorf("%w: %s", ErrBadDump, what)
		}
		return Item{}, fmt.Errorf("%w: %s: %w", ErrBadDump, what, err)
	}
	tag, err := d.h.ReadByte()
	if err != nil {
		return bad("item", err)
	}
	switch tag {
	case 'I':
	case 'E':
		n, err := binary.ReadUvarint(d.h)
		if err != nil {
			return bad("count", err)
		}
		want := d.h.h.Sum32()
		var sum [4]byte
		if _, err := io.ReadFull(d.r, sum[:]); err != nil {
			return bad("checksum", err)
		}
		switch {
		case binary.BigEndian.Uint32(sum[:]) != want:
			return bad("checksum mismatch", nil)
		case n != d.items:
			return bad(fmt.Sprintf("%d items, the end says %d", d.items, n), nil)
		}
		if _, err := d.r.ReadByte(); err != io.EOF {
			return bad("bytes after the end", err)
		}
		d.done = true
		return Item{}, io.EOF
	default:
		return bad(fmt.Sprintf("record tag %q", tag), nil)
	}
	kl, err := binary.ReadUvarint(d.h)
	if err != nil || kl == 0 || kl > MaxKeyLen {
		return bad("key length", err)
	}
	key := make([]byte, kl)
	if _, err := io.ReadFull(d.h, key); err != nil {
		return bad("key", err)
	}
	var fb [4]byte
	if _, err := io.ReadFull(d.h, fb[:]); err != nil {
		return bad("flags", err)
	}
	exp, err := binary.ReadVarint(d.h)
	if err != nil || exp < 0 {
		return bad("expiry", err)
	}
	vl, err := binary.ReadUvarint(d.h)
	if err != nil || vl > maxValueLen {
		return bad("value length", err)
	}
	val := make([]byte, vl)
	if _, err := io.ReadFull(d.h, val); err != nil {
		return bad("value", err)
	}
	d.items++
	return Item{Key: string(key), Flags: binary.BigEndian.Uint32(fb[:]), Expiry: exp, Value: val}, nil
}

// VerifyDump reads a whole dump and returns its item count; an error
// wraps ErrBadDump when the file is not a valid dump.
func VerifyDump(r io.Reader) (int64, error) {
	d, err := NewDumpReader(r)
	if err != nil {
		return 0, err
	}
	for {
		if _, err := d.Next(); err == io.EOF {
			return int64(d.items), nil
		} else if err != nil {
			return 0, err
		}
	}
}

// LoadStats counts what Load did.
type LoadStats struct {
	Items   int64 // written
	Expired int64 // not written: their expiry had passed
	Refused int64 // the engine did not store them (e.g. too large for it)
}

// Load writes the items of the dump r back into the engine on m; items
// whose expiry is not after now are left out. The caller verifies the
// file first (VerifyDump): Load stops at the first bad byte, having
// written the items before it.
func (m *Conn) Load(ctx context.Context, r io.Reader, now time.Time) (LoadStats, error) {
	d, err := NewDumpReader(r)
	if err != nil {
		return LoadStats{}, err
	}
	size, err := m.batchSize(ctx)
	if err != nil {
		return LoadStats{}, fmt.Errorf("load: %w", err)
	}
	var st LoadStats
	var req bytes.Buffer
	pending := 0
	flush := func() error {
		if pending == 0 {
			return nil
		}
		req.WriteString("mn\r\n")
		if err := m.send(ctx, req.Bytes()); err != nil {
			return fmt.Errorf("load: %w", err)
		}
		req.Reset()
		pending = 0
		mns := 1
		err := m.awaitMN(ctx, &mns, func(l string) error {
			if l == "NS" || strings.HasPrefix(l, "SERVER_ERROR") {
				st.Refused++
				st.Items--
				return nil
			}
			return fmt.Errorf("unexpected reply %q", l)
		})
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		return nil
	}
	for {
		it, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
		ttl := int64(0)
		if it.Expiry != 0 {
			if ttl = it.Expiry - now.Unix(); ttl <= 0 {
				st.Expired++
				continue
			}
			if ttl > relativeTTLMax {
				ttl = it.Expiry // memcached reads it as a Unix time
			}
		}
		fmt.Fprintf(&req, "ms %s %d b F%d T%d q\r\n", base64.StdEncoding.EncodeToString([]byte(it.Key)), len(it.Value), it.Flags, ttl)
		req.Write(it.Value)
		req.WriteString("\r\n")
		st.Items++
		if pending++; pending == size || req.Len() > 256<<10 {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
	return st, flush()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// nudgeAfter is how long a reply is awaited before the engine is nudged.
const nudgeAfter = 50 * time.Millisecond

// nudgedLine reads a reply line. memcached 1.6.18 over TLS can leave the
// tail of a pipelined input unprocessed (decrypted but unread) until more
// bytes arrive: when no reply comes within nudgeAfter, a no-op "mn" is
// sent (counted in *mns: each is answered MN after what precedes it).
// The deadline of the whole wait is send's.
func (m *Conn) nudgedLine(ctx context.Context, mns *int) (string, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	var acc []byte
	for {
		rd := time.Now().Add(nudgeAfter)
		if rd.After(dl) {
			rd = dl
		}
		if err := m.c.SetReadDeadline(rd); err != nil {
			return "", err
		}
		b, err := m.r.ReadSlice('\n')
		acc = append(acc, b...)
		if err == nil {
			// What follows the line (a value) is read within dl.
			return strings.TrimRight(string(acc), "\r\n"), m.c.SetReadDeadline(dl)
		}
		var ne net.Error
		if errors.Is(err, bufio.ErrBufferFull) || errors.As(err, &ne) && ne.Timeout() && time.Now().Before(dl) {
			if !errors.Is(err, bufio.ErrBufferFull) {
				if err := m.c.SetWriteDeadline(dl); err != nil {
					return "", err
				}
				if _, err := io.WriteString(m.c, "mn\r\n"); err != nil {
					return "", err
				}
				*mns++
			}
			continue
		}
		return "", err
	}
}

// awaitMN reads reply lines until every "mn" sent (*mns) is answered;
// other lines go to other (nil: an error).
func (m *Conn) awaitMN(ctx context.Context, mns *int, other func(string) error) error {
	for *mns > 0 {
		l, err := m.nudgedLine(ctx, mns)
		if err != nil {
			return err
		}
		switch {
		case l == "MN":
			*mns--
		case other == nil:
			return fmt.Errorf("unexpected reply %q", l)
		default:
			if err := other(l); err != nil {
				return err
			}
		}
	}
	return m.c.SetDeadline(time.Time{})
}

// send writes req with ctx's deadline (30 s without one).
func (m *Conn) send(ctx context.Context, req []byte) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	if err := m.c.SetDeadline(dl); err != nil {
		return err
	}
	_, err := m.c.Write(req)
	return err
}
