package config

import (
	"net/url"
	"strings"
)

// redactedValue replaces a secret in printed configuration.
const redactedValue = "xxxxx"

// RedactDatabaseURI returns a PostgreSQL connection string (or a SQLite
// path, unchanged) with every password replaced by xxxxx, the rest as it
// is, in each form libpq and pgx take:
//
//   - a URL's user info: postgres://user:secret@host/db;
//   - a URL's query: postgres:///db?host=/run/postgresql&password=secret
//     (and sslpassword=, the client key's passphrase);
//   - a keyword/value string: host=/run/postgresql password=secret, the
//     value bare or single-quoted ('it”s' is not libpq's; \' and \\ are).
//
// When a keyword/value string cannot be read (an unterminated quote),
// everything from the first password keyword on is hidden.
func RedactDatabaseURI(uri string) string {
	lower := strings.ToLower(uri)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return redactURLDSN(uri)
	}
	if !strings.Contains(uri, "=") {
		return uri // a SQLite path (or nothing a password can be in)
	}
	return redactKeywordDSN(uri)
}

// isPasswordKey reports whether a connection parameter holds a secret:
// password and sslpassword (matched in any case, to hide too much rather
// than too little).
func isPasswordKey(k string) bool {
	return strings.HasSuffix(strings.ToLower(k), "password")
}

func redactURLDSN(u string) string {
	// The query first: its parameters, split on & up to a fragment.
	if q := strings.IndexByte(u, '?'); q >= 0 {
		query, frag := u[q+1:], ""
		if h := strings.IndexByte(query, '#'); h >= 0 {
			query, frag = query[:h], query[h:]
		}
		params := strings.Split(query, "&")
		for i, p := range params {
			k, _, ok := strings.Cut(p, "=")
			if dk, err := url.QueryUnescape(k); err == nil {
				k = dk
			}
			if ok && isPasswordKey(k) {
				params[i] = p[:strings.IndexByte(p, '=')+1] + redactedValue
			}
		}
		u = u[:q+1] + strings.Join(params, "&") + frag
	}
	// Then the user info, up to the last @ (a password may hold an
	// unescaped @): the user stays, the password goes.
	i := strings.Index(u, "://")
	if j := strings.LastIndex(u, "@"); j > i+3 {
		if c := strings.IndexByte(u[i+3:j], ':'); c >= 0 {
			u = u[:i+3+c+1] + redactedValue + u[j:]
		}
	}
	return u
}

// redactKeywordDSN hides the values of password keywords in a libpq
// keyword/value string, read as pgx reads it: keyword, optional spaces,
// =, optional spaces, then a value ending at a space, or single-quoted;
// a backslash escapes the next byte in either.
func redactKeywordDSN(s string) string {
	const spaces = " \t\n\r\v\f"
	var b strings.Builder
	rest := s
	for len(rest) > 0 {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			b.WriteString(rest)
			break
		}
		key := strings.Trim(rest[:eq], spaces)
		// Write the keyword, the = and the spaces after it as they are.
		v := eq + 1
		for v < len(rest) && strings.IndexByte(spaces, rest[v]) >= 0 {
			v++
		}
		b.WriteString(rest[:v])
		rest = rest[v:]
		end := 0 // the value is rest[:end]
		if len(rest) > 0 && rest[0] == '\'' {
			end = 1
			for end < len(rest) && rest[end] != '\'' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(rest) { // unterminated: nothing after is readable
				if isPasswordKey(key) || strings.Contains(strings.ToLower(rest), "password") {
					b.WriteString(redactedValue)
				} else {
					b.WriteString(rest)
				}
				break
			}
			end++ // the closing quote
		} else {
			for end < len(rest) && strings.IndexByte(spaces, rest[end]) < 0 {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			end = min(end, len(rest))
		}
		if isPasswordKey(key) {
			if len(rest) > 0 && rest[0] == '\'' {
				b.WriteString("'" + redactedValue + "'")
			} else {
				b.WriteString(redactedValue)
			}
		} else {
			b.WriteString(rest[:end])
		}
		rest = rest[end:]
	}
	return b.String()
}
