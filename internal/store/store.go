// Package store owns COP's ClickHouse side: the schema and its versioned migrations, the
// batch writer the correlator uses, and the history queries the API serves.
//
// It speaks ClickHouse's native protocol (clickhouse-go/v2) and must run on Debian's
// ClickHouse 18.16 as well as on current releases. It knows nothing of HTTP or Kafka.
package store

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// Database is the ClickHouse database COP's tables live in.
const Database = "cop"

// Store is a connection pool to ClickHouse plus what COP knows of the server.
type Store struct {
	conn driver.Conn
	// Version is the server's version, e.g. "18.16.1"; migrations use it.
	Version string
	audit   auditLog
	// rowsOnly: Trend counts from cop.events only (Options.TrendFromRows).
	rowsOnly bool
	// preNames: write cop.events and cop.situations without migration 6's columns (tests
	// that write into a database migrated up to an older step).
	preNames bool
}

// Options say how to reach ClickHouse beyond its address.
type Options struct {
	// TLS, when set, encrypts the native protocol (ClickHouse's tcp_port_secure).
	TLS *tls.Config
	// User and Password authenticate ("" user: "default" without password).
	User, Password string
	// TrendFromRows makes Trend count from the event rows only, never from the daily
	// aggregates (cop.events_daily_stored), so that tests and `cop bench query` can compare them.
	TrendFromRows bool
	// Database is the database COP's tables live in ("": Database, "cop"). Tests use
	// their own (cop_test) so that they never write into the one the demo shows.
	Database string
}

// Open connects to the ClickHouse server at addr (host:port of the native protocol) as
// the default user, in plain TCP, to database db ("": Database), and checks that it answers.
func Open(ctx context.Context, addr, db string) (*Store, error) {
	return OpenWith(ctx, addr, Options{Database: db})
}

// OpenWith is Open with TLS and credentials.
func OpenWith(ctx context.Context, addr string, o Options) (*Store, error) {
	if o.User == "" {
		o.User = "default"
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:            []string{addr},
		Auth:            clickhouse.Auth{Database: "default", Username: o.User, Password: o.Password},
		TLS:             o.TLS,
		DialTimeout:     5 * time.Second,
		ReadTimeout:     60 * time.Second,
		MaxOpenConns:    16,
		MaxIdleConns:    8,
		ConnMaxLifetime: time.Hour,
		Compression:     &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		Logger:          sqlLogFromEnv(),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot open ClickHouse at %s: %w", addr, err)
	}
	db := cmp.Or(o.Database, Database)
	if !ValidDatabase(db) {
		conn.Close()
		return nil, fmt.Errorf("ClickHouse database %q: want a plain identifier (letters, digits, _)", db)
	}
	s := &Store{conn: dbConn{Conn: conn, db: db}, rowsOnly: o.TrendFromRows}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cannot reach ClickHouse at %s: %w", addr, err)
	}
	if err := conn.QueryRow(pctx, "SELECT version()").Scan(&s.Version); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cannot read ClickHouse version: %w", err)
	}
	return s, nil
}

// Close writes the audit rows still waiting and releases the connections.
func (s *Store) Close() error {
	s.audit.mu.Lock()
	rows := s.audit.takeLocked()
	s.audit.closed = true
	s.audit.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := s.insertAudit(ctx, rows)
	cancel()
	if cerr := s.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// Ping reports whether the server answers; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

// Conn exposes the driver connection to packages that build their own queries on COP's
// schema (tests, benchmarks).
func (s *Store) Conn() driver.Conn { return s.conn }

// Redacted is err's text for a log: a ClickHouse exception quotes the query back, bound
// values (a caller's search text, an AMBER observable) included, so only its code and
// name are kept, after whatever context COP added.
func Redacted(err error) string {
	var ex *proto.Exception
	if err == nil || !errors.As(err, &ex) {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	prefix, _, _ := strings.Cut(err.Error(), ex.Error())
	return fmt.Sprintf("%sClickHouse exception %d (%s)", prefix, ex.Code, ex.Name)
}
