package store

import (
	"bytes"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// pgArray is a text[] or bigint[] parameter of the PostgreSQL writer's
// array statements (insertEventsPostgresSQL and the like), written in
// PostgreSQL's binary array format as its elements are added.
//
// Given a []string or []int64, pgx encodes an array element by element
// through interfaces: each element boxed in an any (allocated on the
// heap) and encoded by a plan looked up for it. For an import's batches
// that was a dozen boxes an event, and pgx encoding the arrays was 14%
// of the archiver's CPU, on the goroutine the server waits for. A
// pgArray is appended to as the statement's rows are built: a length
// and the bytes, an event's JSON copied once, from its bytes, not first
// into a string. archiver import of the 1M replay into PostgreSQL,
// alternated, on a steady host: the archiver's user CPU 11.4-11.8 ->
// 9.1-9.6 s, wall 45.4-47.5 -> 42.9-44.9 s.
//
// Each connection the Store opens (openPostgres, CountQueries) registers
// pgArrayCodec for text[] and bigint[] (registerArrays), which sends
// these bytes as they are. A connection without it (one opened with the
// driver alone) still gets the array right, from Value, as text, which
// pgx parses and encodes again.
type pgArray struct {
	elem pgArrayElem
	// buf holds the header's room (pgArrayHeader bytes), then each
	// element: its length (-1 for NULL) and its bytes.
	buf     []byte
	n       int
	hasNull bool
}

type pgArrayElem uint32

const (
	pgText pgArrayElem = pgtype.TextOID
	pgInt8 pgArrayElem = pgtype.Int8OID
)

// pgArrayHeader is the binary format's header for one dimension: the
// number of dimensions, whether any element is NULL, the elements' type,
// the dimension's length and its lower bound.
const pgArrayHeader = 20

// newPGArray returns an array of elem with room for n elements of bytes
// bytes in all.
func newPGArray(elem pgArrayElem, n, bytes int) *pgArray {
	return &pgArray{elem: elem, buf: make([]byte, pgArrayHeader, pgArrayHeader+4*n+bytes)}
}

// text adds s as dbText stores it.
func (a *pgArray) text(s string) {
	s = dbText(s)
	a.buf = binary.BigEndian.AppendUint32(a.buf, uint32(len(s)))
	a.buf = append(a.buf, s...)
	a.n++
}

// textBytes adds b as text, as dbText(string(b)) would, without the copy
// into a string when b is UTF-8 without a NUL, as an event's JSON is.
func (a *pgArray) textBytes(b []byte) {
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		a.text(string(b))
		return
	}
	a.buf = binary.BigEndian.AppendUint32(a.buf, uint32(len(b)))
	a.buf = append(a.buf, b...)
	a.n++
}

// textOrNull adds *s, or NULL if s is nil.
func (a *pgArray) textOrNull(s *string) {
	if s != nil {
		a.text(*s)
		return
	}
	a.buf = binary.BigEndian.AppendUint32(a.buf, 0xffffffff) // -1
	a.hasNull = true
	a.n++
}

// int8 adds v to a bigint[].
func (a *pgArray) int8(v int64) {
	a.buf = binary.BigEndian.AppendUint32(a.buf, 8)
	a.buf = binary.BigEndian.AppendUint64(a.buf, uint64(v))
	a.n++
}

// binary returns the array in the binary format.
func (a *pgArray) binary() []byte {
	if a.n == 0 { // no dimensions, then no lengths
		return binary.BigEndian.AppendUint32(make([]byte, 8, 12), uint32(a.elem))
	}
	h := a.buf[:pgArrayHeader]
	binary.BigEndian.PutUint32(h[0:], 1)
	hasNull := uint32(0)
	if a.hasNull {
		hasNull = 1
	}
	binary.BigEndian.PutUint32(h[4:], hasNull)
	binary.BigEndian.PutUint32(h[8:], uint32(a.elem))
	binary.BigEndian.PutUint32(h[12:], uint32(a.n))
	binary.BigEndian.PutUint32(h[16:], 1)
	return a.buf
}

// Value is the array in PostgreSQL's text format, for a connection that
// has not registered pgArrayCodec: every text element quoted, \ and "
// escaped.
func (a *pgArray) Value() (driver.Value, error) {
	var b strings.Builder
	b.Grow(len(a.buf) + a.n)
	b.WriteByte('{')
	rest := a.buf[pgArrayHeader:]
	for i := 0; i < a.n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		l := int32(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		switch {
		case l < 0:
			b.WriteString("NULL")
			continue
		case a.elem == pgInt8:
			b.WriteString(strconv.FormatInt(int64(binary.BigEndian.Uint64(rest)), 10))
		default:
			b.WriteByte('"')
			for _, c := range rest[:l] {
				if c == '"' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(c)
			}
			b.WriteByte('"')
		}
		rest = rest[l:]
	}
	b.WriteByte('}')
	return b.String(), nil
}

// pgArrayCodec is pgx's codec of text[] or bigint[] but for a pgArray,
// whose bytes it sends as they are.
type pgArrayCodec struct {
	*pgtype.ArrayCodec
}

func (c pgArrayCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if a, ok := value.(*pgArray); ok && format == pgtype.BinaryFormatCode && uint32(a.elem) == c.ElementType.OID {
		return encodePGArray{}
	}
	return c.ArrayCodec.PlanEncode(m, oid, format, value)
}

type encodePGArray struct{}

func (encodePGArray) Encode(value any, buf []byte) ([]byte, error) {
	return append(buf, value.(*pgArray).binary()...), nil
}

// registerArrays registers pgArrayCodec on a new connection.
func registerArrays(conn *pgx.Conn) error {
	m := conn.TypeMap()
	for _, oid := range []uint32{pgtype.TextArrayOID, pgtype.Int8ArrayOID} {
		t, ok := m.TypeForOID(oid)
		if !ok {
			return errors.New("pgx knows no type of OID " + strconv.Itoa(int(oid)))
		}
		ac, ok := t.Codec.(*pgtype.ArrayCodec)
		if !ok {
			return errors.New("pgx's codec of " + t.Name + " is not an array's")
		}
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: pgArrayCodec{ac}})
	}
	return nil
}
