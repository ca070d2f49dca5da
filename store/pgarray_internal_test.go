package store

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

// A pgArray reaches PostgreSQL as the elements it was given, dbText
// applied, on a connection the Store opened (pgArrayCodec: its bytes as
// they are) and on one opened with the driver alone (Value: as text).
func TestPGArrayRoundTrip(t *testing.T) {
	ctx := context.Background()
	uri := pgtest.NewDatabase(t)
	ours, err := openPostgres(uri, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	plain, err := sql.Open("pgx", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()

	// On the Store's connection a pgArray is encoded by pgArrayCodec.
	conn, err := ours.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Raw(func(dc any) error {
		m := dc.(*stdlib.Conn).Conn().TypeMap()
		for _, oid := range []uint32{pgtype.TextArrayOID, pgtype.Int8ArrayOID} {
			if p := m.PlanEncode(oid, pgtype.BinaryFormatCode, newPGArray(pgText, 0, 0)); oid == pgtype.TextArrayOID && p != (encodePGArray{}) {
				t.Errorf("a text pgArray is encoded by %T, not pgArrayCodec's plan", p)
			}
			if p := m.PlanEncode(oid, pgtype.BinaryFormatCode, []string{"x"}); p == (encodePGArray{}) {
				t.Errorf("a []string is encoded by pgArrayCodec's plan")
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	texts := []*string{ptr(""), ptr("a"), ptr(`"quoted"`), ptr(`back\slash\`), ptr("{braces},comma"), ptr("NULL"), nil,
		ptr(" spaced "), ptr("\u00fc\u2202\U0001F600"), ptr("a\x00b"), ptr("bad\xffbyte"), ptr("$ev:example.org")}
	var want []*string
	for _, s := range texts {
		if s != nil {
			want = append(want, ptr(dbText(*s)))
		} else {
			want = append(want, nil)
		}
	}
	ints := []int64{0, -1, 1, math.MaxInt64, math.MinInt64, 1700000000000}
	for name, db := range map[string]*sql.DB{"codec": ours, "text": plain} {
		t.Run(name, func(t *testing.T) {
			a := newPGArray(pgText, len(texts), 0)
			b := newPGArray(pgText, len(texts), 0)
			for _, s := range texts {
				a.textOrNull(s)
				if s == nil {
					b.textOrNull(nil)
				} else {
					b.textBytes([]byte(*s))
				}
			}
			for _, arr := range []*pgArray{a, b} {
				if got := readTexts(t, db, arr); !slices.EqualFunc(got, want, samePtr) {
					t.Errorf("text[] = %q, want %q", deref(got), deref(want))
				}
			}
			if got := readTexts(t, db, newPGArray(pgText, 0, 0)); len(got) != 0 {
				t.Errorf("an empty text[] gave %q", deref(got))
			}
			n := newPGArray(pgInt8, len(ints), 0)
			for _, v := range ints {
				n.int8(v)
			}
			var got []int64
			rows, err := db.QueryContext(ctx, `SELECT v FROM unnest($1::bigint[]) WITH ORDINALITY AS u(v, i) ORDER BY i`, n)
			if err := forRows(rows, err, func(r *sql.Rows) error {
				var v int64
				if err := r.Scan(&v); err != nil {
					return err
				}
				got = append(got, v)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, ints) {
				t.Errorf("bigint[] = %v, want %v", got, ints)
			}
		})
	}
}

func readTexts(t *testing.T, db *sql.DB, a *pgArray) []*string {
	t.Helper()
	var out []*string
	rows, err := db.QueryContext(context.Background(), `SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i`, a)
	if err := forRows(rows, err, func(r *sql.Rows) error {
		var v sql.NullString
		if err := r.Scan(&v); err != nil {
			return err
		}
		if v.Valid {
			out = append(out, ptr(v.String))
		} else {
			out = append(out, nil)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func samePtr(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(ss []*string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		if s == nil {
			out[i] = "<NULL>"
		} else {
			out[i] = *s
		}
	}
	return out
}
