package store

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Warming each connection with the reads pages make. A PostgreSQL session
// parses each statement the first time it runs it, loads the catalogue
// entries the statement names and plans it at its first execution, and
// pgx describes it once a connection; a pool's connections each pay that,
// so a fresh archive-web's first pages took 13-17 ms where later ones
// took 9-12, archive-web's and PostgreSQL's CPU both higher (its backends'
// 7-12 ms a page against 4-6), for about the first fourteen day pages of
// the 1M replay: a page's reads, some on goroutines of their own, land on
// whichever of the pool's connections are free, so each connection met
// each statement in turn. After twenty pages of another room the same
// pages' backends took 4-6 ms: the cost is the connections', not the
// data's. So archive-web notes the reads of the pages it answers at start
// (NoteReads, through a pgx tracer on the pool's connections) and runs
// each of them once more on every connection the pool holds (WarmReads).
//
// SQLite is left as it is: its first pages' cost did not fall after
// twenty pages of another room.

// ReadNotes are the distinct reads, text and arguments, that were sent to
// PostgreSQL with a context from NoteReads.
type ReadNotes struct {
	mu    sync.Mutex
	seen  map[string]bool
	reads []notedRead
}

type notedRead struct {
	query string
	args  []any
}

// maxNotedReads bounds the reads noted: a page makes some twenty.
const maxNotedReads = 256

type readNotesKey struct{}

// NoteReads returns a context whose reads, sent to PostgreSQL with it by
// a ReadMostly store, are noted in the ReadNotes it returns, each text
// once, with the arguments it was first sent with.
func NoteReads(ctx context.Context) (context.Context, *ReadNotes) {
	n := &ReadNotes{seen: map[string]bool{}}
	return context.WithValue(ctx, readNotesKey{}, n), n
}

func (n *ReadNotes) note(query string, args []any) {
	if !isRead(query) {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen[query] || len(n.reads) >= maxNotedReads {
		return
	}
	n.seen[query] = true
	kept := make([]any, len(args))
	for i, a := range args {
		if b, ok := a.([]byte); ok {
			a = append([]byte(nil), b...) // the caller's buffer may be reused
		}
		kept[i] = a
	}
	n.reads = append(n.reads, notedRead{query: query, args: kept})
}

// isRead says whether query is a SELECT (or a WITH, which WarmReads' read-
// only transaction keeps from writing): nothing else is run again.
func isRead(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	for _, kw := range []string{"SELECT", "WITH"} {
		if len(q) >= len(kw) && strings.EqualFold(q[:len(kw)], kw) {
			return true
		}
	}
	return false
}

// readTracer notes, in the ReadNotes a query's context carries, the
// queries sent on a connection of a ReadMostly PostgreSQL pool; with no
// ReadNotes in the context (every query but the warm-up's) it does
// nothing but look.
type readTracer struct{}

func (readTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if n, ok := ctx.Value(readNotesKey{}).(*ReadNotes); ok {
		n.note(d.SQL, d.Args)
	}
	return ctx
}

func (readTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// WarmReads runs each read in notes once on each of conns connections of
// the pool (more where the pool holds more idle ones), in a read-only
// transaction it rolls back, so that each connection has parsed and
// planned them before a reader's page needs them. It returns how many
// connections it warmed. A read that fails is skipped (its connection is
// warmed with the rest); an error is a connection that could not be had,
// or ctx ending. On SQLite it does nothing.
func (s *Store) WarmReads(ctx context.Context, notes *ReadNotes, conns int) (int, error) {
	if s.dialect != postgres || notes == nil {
		return 0, nil
	}
	notes.mu.Lock()
	reads := notes.reads
	notes.mu.Unlock()
	if len(reads) == 0 {
		return 0, nil
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	held, release, err := s.hold(ctx, max(conns, s.db.Stats().Idle))
	defer release()
	if err != nil {
		return 0, fmt.Errorf("warm reads: %w", err)
	}
	for i, c := range held {
		err := c.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok {
				return nil
			}
			return runReadOnly(ctx, sc.Conn(), reads)
		})
		if err != nil {
			return i, fmt.Errorf("warm reads: %w", err)
		}
	}
	return len(held), nil
}

// runReadOnly runs each read on c, each in a read-only transaction rolled
// back after it: a read that fails aborts its own transaction only.
func runReadOnly(ctx context.Context, c *pgx.Conn, reads []notedRead) error {
	for _, r := range reads {
		tx, err := c.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, r.query, r.args...)
		if err == nil {
			for rows.Next() {
			}
			rows.Close()
		}
		if err := tx.Rollback(ctx); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
