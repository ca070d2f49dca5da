package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"maunium.net/go/mautrix/id"
)

// Events are read on PostgreSQL through pgx's own rows, not database/sql's,
// for the reason they are read through SQLite's API there (direct.go):
// database/sql made a driver.Value of every column of every row, boxed,
// then converted it again for Scan. The first request of a day page of
// 1,000 events on the 1M replay spent 4 ms of archive-web's CPU in
// DayPage, most of it there (stdlib's value functions and Scan). Here each
// column is decoded from the bytes pgx received, once, into scanRow's
// fields. The connection is database/sql's (Conn.Raw), so its pool, its
// statement cache (pgx keeps each connection's prepared statements by
// their text, whichever way a query comes) and its handling of broken
// connections stay as they are.

// pgDirectEvents is queryEventsSized's rows on PostgreSQL, read through
// pgx's rows. direct is false when that was not possible (an argument of
// another type, a connection that is not pgx's, a column of a type
// pgColumns does not decode, a query that failed before it was sent); the
// caller then reads them through database/sql.
func (s *Store) pgDirectEvents(ctx context.Context, size, maxBytes int, room id.RoomID, query string, args []any) (evs []Event, cut, direct bool, err error) {
	evs, direct, err = s.rawEvents(ctx, args, func(dc any) ([]Event, bool, error) {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return nil, false, nil
		}
		evs, more, direct, err := pgEvents(ctx, c.Conn(), size, maxBytes, room, query, args)
		cut = more
		return evs, direct, err
	})
	return evs, cut, direct, err
}

// pgEvents runs query with args on c and reads its rows into events as
// scanRow does: rows of publicRoomEventColumns of room or, when room is
// "", of eventColumns; with maxBytes > 0, as queryEventsBounded says
// (cut: a row follows the last read). direct is false, with no error,
// when the rows are better read through database/sql (see
// pgDirectEvents).
func pgEvents(ctx context.Context, c *pgx.Conn, size, maxBytes int, room id.RoomID, query string, args []any) (out []Event, cut, direct bool, err error) {
	rows, err := c.Query(ctx, query, args...)
	if err != nil {
		// As stdlib does: an error before anything was sent is
		// database/sql's to retry on another connection.
		if pgconn.SafeToRetry(err) {
			return nil, false, false, nil
		}
		return nil, false, true, err
	}
	defer rows.Close()
	// The query's error, a time limit's say, comes with its first row.
	more := rows.Next()
	if err := rows.Err(); err != nil {
		return nil, false, true, err
	}
	if !more {
		return []Event{}, false, true, nil
	}
	r := newScanRow(room)
	fds := rows.FieldDescriptions()
	if len(fds) != len(r.dest) {
		return nil, false, true, fmt.Errorf("direct read: the query has %d columns, not %d", len(fds), len(r.dest))
	}
	for i, fd := range fds {
		if !pgDecodes(r.dest[i], fd) {
			return nil, false, false, nil
		}
	}
	out = make([]Event, 0, size)
	var b readBytes
	for ; more; more = rows.Next() {
		if b.full(maxBytes) {
			// Closing the rows reads the rest off the connection
			// without keeping them; the queries that bound their bytes
			// also bound their rows.
			return out, true, true, nil
		}
		r.reset()
		if err := r.pgColumns(rows.RawValues(), fds); err != nil {
			return nil, false, true, err
		}
		out = append(out, Event{})
		if err := r.fill(&out[len(out)-1]); err != nil {
			return nil, false, true, err
		}
		b.add(&out[len(out)-1])
	}
	if err := rows.Err(); err != nil {
		return nil, false, true, err
	}
	return out, false, true, nil
}

// pgDecodes says whether pgColumns decodes a column described by fd into
// dest.
func pgDecodes(dest any, fd pgconn.FieldDescription) bool {
	text := fd.DataTypeOID == pgtype.TextOID || fd.DataTypeOID == pgtype.VarcharOID
	switch dest.(type) {
	case *int64:
		return fd.DataTypeOID == pgtype.Int8OID || fd.DataTypeOID == pgtype.Int4OID || fd.DataTypeOID == pgtype.Int2OID
	case *bool:
		return fd.DataTypeOID == pgtype.BoolOID
	case *string, *sql.NullString:
		return text
	case *[]byte:
		return text || fd.DataTypeOID == pgtype.ByteaOID && fd.Format == pgx.BinaryFormatCode
	}
	return false
}

// pgColumns reads a row's values, as pgx received them, into r.dest as
// database/sql's Scan would (columns pgDecodes accepted): an integer as
// int64, a bool, text as a string (NULL only into a sql.NullString), text
// or bytea as bytes of their own. Strings are copied, or the previous
// row's kept where equal (stringOf), as on SQLite.
func (r *scanRow) pgColumns(vals [][]byte, fds []pgconn.FieldDescription) error {
	if len(vals) != len(r.dest) {
		return fmt.Errorf("direct read: a row of %d columns, not %d", len(vals), len(r.dest))
	}
	for i, d := range r.dest {
		v, binaryFmt := vals[i], fds[i].Format == pgx.BinaryFormatCode
		if v == nil {
			if ns, ok := d.(*sql.NullString); ok {
				*ns = sql.NullString{}
				continue
			}
			return fmt.Errorf("direct read: column %d is NULL", i)
		}
		switch d := d.(type) {
		case *int64:
			n, err := pgInt(v, binaryFmt)
			if err != nil {
				return fmt.Errorf("direct read: column %d: %w", i, err)
			}
			*d = n
		case *bool:
			switch {
			case binaryFmt && len(v) == 1 && v[0] <= 1:
				*d = v[0] == 1
			case !binaryFmt && len(v) == 1 && (v[0] == 't' || v[0] == 'f'):
				*d = v[0] == 't'
			default:
				return fmt.Errorf("direct read: column %d is %q, not a bool", i, v)
			}
		case *string:
			*d = stringOf(v, *d)
		case *sql.NullString:
			*d = sql.NullString{String: stringOf(v, d.String), Valid: true}
		case *[]byte:
			*d = append([]byte(nil), v...)
		default:
			return fmt.Errorf("direct read: column %d into a %T", i, d)
		}
	}
	return nil
}

// pgInt is an integer column's value: big-endian two, four or eight bytes
// in binary format, decimal digits in text.
func pgInt(v []byte, binaryFmt bool) (int64, error) {
	if binaryFmt {
		switch len(v) {
		case 2:
			return int64(int16(binary.BigEndian.Uint16(v))), nil
		case 4:
			return int64(int32(binary.BigEndian.Uint32(v))), nil
		case 8:
			return int64(binary.BigEndian.Uint64(v)), nil
		}
		return 0, fmt.Errorf("an integer of %d bytes", len(v))
	}
	neg, digits := false, v
	if len(digits) > 0 && digits[0] == '-' {
		neg, digits = true, digits[1:]
	}
	if len(digits) == 0 || len(digits) > 19 {
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	var n uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not an integer", v)
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case !neg && n <= 1<<63-1:
		return int64(n), nil
	case neg && n <= 1<<63:
		return -int64(n), nil
	}
	return 0, fmt.Errorf("%q is out of range", v)
}
