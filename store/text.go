package store

import (
	"context"
	"database/sql"
	"strings"
	"unicode/utf8"
)

// dbText returns s as both databases store it. PostgreSQL text refuses
// U+0000 and bytes that are not UTF-8, which SQLite takes: any member of a
// room can put a NUL in a display name, a reaction key, a redaction reason
// or a topic (valid JSON, valid Matrix), and one such string used to fail
// the whole batch on PostgreSQL. Replacing both with U+FFFD on every write
// keeps the two databases storing the same thing. Event JSON (raw) is
// untouched by it: event.Parse accepts only UTF-8, and JSON writes a NUL as
// the escape \u0000, which is plain ASCII.
func dbText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// dbArgs applies dbText to every string argument of a statement, copying
// args only when one changes.
func dbArgs(args []any) []any {
	var out []any
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			continue
		}
		if safe := dbText(s); safe != s {
			if out == nil {
				out = append([]any(nil), args...)
			}
			out[i] = safe
		}
	}
	if out == nil {
		return args
	}
	return out
}

// safeTx is a write transaction whose statements get their string
// arguments through dbText: every writer statement goes through it, so no
// call site can forget.
type safeTx struct{ *sql.Tx }

func (t safeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, query, dbArgs(args)...)
}

func (t safeTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, query, dbArgs(args)...)
}

func (t safeTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, query, dbArgs(args)...)
}
