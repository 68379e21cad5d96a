package store

import (
	"context"
	"io"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ValidDatabase reports whether name can be COP's database: a plain identifier.
func ValidDatabase(name string) bool { return validDatabase.MatchString(name) }

var (
	validDatabase = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	// copTable matches the database part of every qualified name in COP's SQL (written
	// against the database "cop", whatever the table) and of CREATE DATABASE: no list of
	// tables, so a new table goes to the configured database as every other does.
	copTable = regexp.MustCompile(`\bcop\.([A-Za-z_][A-Za-z0-9_]*)\b|(DATABASE IF NOT EXISTS) cop\b`)
)

// dbConn rewrites COP's SQL, written against database "cop", to the configured database,
// so no query site has to carry the name.
type dbConn struct {
	driver.Conn
	db string
}

func (c dbConn) sql(q string) string {
	if c.db == Database {
		return q
	}
	// Rewrite outside string literals only: a literal such as 'cop.events' in a filter is
	// data, not a table name.
	var b strings.Builder
	for q != "" {
		i := strings.IndexByte(q, '\'')
		if i < 0 {
			b.WriteString(c.rewrite(q))
			break
		}
		b.WriteString(c.rewrite(q[:i]))
		end := literalEnd(q, i)
		b.WriteString(q[i:end])
		q = q[end:]
	}
	return b.String()
}

func (c dbConn) rewrite(q string) string {
	return copTable.ReplaceAllStringFunc(q, func(m string) string {
		sm := copTable.FindStringSubmatch(m)
		if sm[2] != "" {
			return sm[2] + " " + c.db
		}
		return c.db + "." + sm[1]
	})
}

// literalEnd returns the index just past the string literal opening at q[start]; it
// honours backslash escapes and doubled quotes, and runs to the end if unterminated.
func literalEnd(q string, start int) int {
	for i := start + 1; i < len(q); i++ {
		switch q[i] {
		case '\\':
			i++
		case '\'':
			if i+1 < len(q) && q[i+1] == '\'' {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(q)
}

func (c dbConn) Select(ctx context.Context, dest any, q string, args ...any) error {
	return c.Conn.Select(ctx, dest, c.sql(q), args...)
}

func (c dbConn) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	return c.Conn.Query(ctx, c.sql(q), args...)
}

func (c dbConn) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	return c.Conn.QueryRow(ctx, c.sql(q), args...)
}

func (c dbConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	return c.Conn.PrepareBatch(ctx, c.sql(q), opts...)
}

func (c dbConn) Exec(ctx context.Context, q string, args ...any) error {
	return c.Conn.Exec(ctx, c.sql(q), args...)
}

func (c dbConn) QueryFormat(ctx context.Context, format, q string, args ...any) (io.ReadCloser, error) {
	return c.Conn.QueryFormat(ctx, format, c.sql(q), args...)
}

func (c dbConn) InsertFormat(ctx context.Context, format, q string, data io.Reader) error {
	return c.Conn.InsertFormat(ctx, format, c.sql(q), data)
}
