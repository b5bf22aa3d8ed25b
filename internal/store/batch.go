package store

// Group commit.
//
// A bbolt commit costs two fsyncs whatever it holds, so one commit per
// Update caps writes at a few hundred a second however many callers wait.
// Concurrent Updates therefore share commits, as bbolt's DB.Batch does, but
// without its retry: Batch runs every function again, alone, when one of
// them fails, so a function with side effects (a counter, an appended
// slice, an allocated id) may run twice. Here every function runs exactly
// once, on its caller's goroutine:
//
//   - Writers take turns (wmu) running their function in the open batch, a
//     bbolt write transaction. Each sees the writes of those before it, as
//     if each had its own transaction, in this order.
//   - A function's writes are recorded with each key's previous value; if it
//     returns an error or panics they are undone, so it leaves nothing,
//     and its caller gets the error (or the panic) at once.
//   - The writer that finds no other writer waiting (or the batch full)
//     commits: one bbolt commit for the whole batch. (When the last batch
//     had several writers, it first yields once, so that those just woken
//     by that commit can join.) Every caller whose
//     function succeeded returns only then, with the commit's result: nil
//     means on disk. A failed commit (disk full) fails every function of the
//     batch and leaves nothing of any of them.
//   - Each successful function that changed something gets its own revision,
//     consecutive in batch order, and its own Change, published by the
//     committer in revision order.
//
// A batch of functions that changed nothing is rolled back, not committed:
// there is nothing to make durable.

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// maxBatch bounds the functions in one commit (bbolt's DB.Batch default),
// so that a steady stream of writers cannot keep the first one waiting.
const maxBatch = 1000

// batch is one bbolt write transaction shared by several Updates.
type batch struct {
	btx     *bolt.Tx
	rev     uint64   // revision after the functions run so far
	n       int      // functions run (or skipped) so far
	changes []Change // one per function that changed something, in order
	broken  error    // an undo failed: the batch must not commit
	done    chan struct{}
	err     error // the commit's result, set before done is closed
}

// Update implements Store.
func (s *Bolt) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.waiting.Add(1)
	s.wmu.Lock()
	s.waiting.Add(-1)
	if s.wclosed {
		s.wmu.Unlock()
		return fmt.Errorf("store: %w", bolt.ErrDatabaseNotOpen)
	}
	b := s.cur
	if b == nil {
		btx, err := s.db.Begin(true)
		if err != nil {
			s.wmu.Unlock()
			return fmt.Errorf("store: begin: %w", err)
		}
		b = &batch{btx: btx, rev: readRevision(btx), done: make(chan struct{})}
		s.cur = b
	}
	released := false
	defer func() {
		if !released { // fn panicked or called runtime.Goexit; its writes are undone
			s.release(b)
		}
	}()
	err := b.run(ctx, fn)
	released = true
	s.release(b)
	if err != nil {
		return err
	}
	<-b.done
	return b.err
}

// run runs fn as the next function of b. Its writes stay if it returns nil
// and are undone otherwise, also when it panics.
func (b *batch) run(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err // cancelled while waiting its turn: not run
	}
	tx := &boltTx{btx: b.btx, writable: true, rev: b.rev, undo: map[string][]byte{}}
	ok := false
	defer func() {
		if ok {
			return
		}
		if err := tx.rollback(); err != nil {
			b.broken = fmt.Errorf("store: take back a failed update: %w", err)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	ok = true
	if len(tx.changed) > 0 {
		keys := make([]string, 0, len(tx.changed))
		for k := range tx.changed {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.rev++
		b.changes = append(b.changes, Change{Revision: b.rev, Keys: keys})
	}
	return nil
}

// release ends the holder's turn (wmu held, released here): it leaves b open
// for a waiting writer, or commits it.
func (s *Bolt) release(b *batch) {
	b.n++
	if s.waiting.Load() == 0 && s.lastN > 1 {
		// Writers woken by the last commit may be about to come back: let
		// them, so that they join this batch rather than wait for the next.
		// A lone writer does not pay for it.
		runtime.Gosched()
	}
	if s.waiting.Load() > 0 && b.n < maxBatch && b.broken == nil {
		s.wmu.Unlock()
		return
	}
	s.cur = nil
	s.finish(b)
	s.wmu.Unlock()
}

// finish commits b (wmu held), publishes its changes in order and wakes its
// writers.
func (s *Bolt) finish(b *batch) {
	switch {
	case b.broken != nil:
		_ = b.btx.Rollback()
		b.err = b.broken
	case len(b.changes) == 0:
		_ = b.btx.Rollback() // nothing changed: nothing to make durable
	default:
		if err := b.btx.Bucket(bucketMeta).Put(keyRev, binary.BigEndian.AppendUint64(nil, b.rev)); err != nil {
			_ = b.btx.Rollback()
			b.err = fmt.Errorf("store: put revision: %w", err)
			break
		}
		if err := b.btx.Commit(); err != nil {
			b.err = fmt.Errorf("store: commit: %w", err)
		}
	}
	s.lastN = b.n
	if b.err == nil {
		for _, c := range b.changes {
			s.publish(c)
		}
	}
	close(b.done)
}
