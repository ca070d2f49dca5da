package store

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
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

// textArgs is the tracer of every PostgreSQL connection the Store opens:
// before a statement is sent, it replaces each string argument by what
// dbText makes of it, in the statement's own argument list (pgx hands the
// tracer the slice it then encodes), and then calls next, if any.
//
// The writer's statements clean theirs already (safeTx); this is for
// every read, whoever asks it: a room, event or cursor ID holding a NUL
// or bytes that are not UTF-8, from an anonymous request
// (`/api/v1/rooms/%00x/events`), made PostgreSQL refuse the statement
// ("invalid byte sequence for encoding UTF8"), a 500 and an error logged
// for each, where SQLite found nothing. Cleaned as a write would have
// stored it, the argument finds what that write stored, and nothing else
// (TestReadsTakeArgumentsOfAnyBytes). pgx offers no other hook: a codec is
// never asked about a string, which it sends in text format as it is.
type textArgs struct{ next pgx.QueryTracer }

func (t textArgs) TraceQueryStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	for i, a := range d.Args {
		s, ok := a.(string)
		if !ok {
			// A type of string's kind (id.RoomID, id.EventID): pgx
			// sends it as a string too.
			v := reflect.ValueOf(a)
			if v.Kind() != reflect.String {
				continue
			}
			s = v.String()
		}
		if safe := dbText(s); safe != s {
			d.Args[i] = safe
		}
	}
	if t.next != nil {
		return t.next.TraceQueryStart(ctx, conn, d)
	}
	return ctx
}

func (t textArgs) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryEndData) {
	if t.next != nil {
		t.next.TraceQueryEnd(ctx, conn, d)
	}
}
