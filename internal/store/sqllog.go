package store

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
)

// SQLLogEnv names the file to which, when it is set, every Store appends each statement it
// sends (bound, as the server receives it), once per shape (Shape) and process. make test
// sets it for the integration tests, then runs each shape on a current ClickHouse
// (scripts/current-clickhouse): the SQL the tests send to 18.16 is the SQL checked on 26.x.
const SQLLogEnv = "COP_SQL_LOG"

// Shape is q with its literals replaced (strings by '?', numbers by 0, lists of them by
// one) and its spaces collapsed: the statements that differ only in their values.
func Shape(q string) string {
	q = reStringLit.ReplaceAllString(q, "'?'")
	q = reNumberLit.ReplaceAllString(q, "0")
	q = reLitList.ReplaceAllString(q, "$1")
	return strings.Join(strings.Fields(q), " ")
}

var (
	reStringLit = regexp.MustCompile(`'(?:[^'\\]|\\.|'')*'`)
	reNumberLit = regexp.MustCompile(`\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b`)
	reLitList   = regexp.MustCompile(`('\?'|\b0)(?:\s*,\s*(?:'\?'|0\b))+`)
)

// sqlLog is the slog handler clickhouse-go's debug records go to under SQLLogEnv: it keeps
// the "sending query" ones, each new shape as one JSON line {"sql": …}.
type sqlLog struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool
}

var (
	sqlLogOnce sync.Once
	sqlLogger  *slog.Logger
)

// sqlLogFromEnv is the logger for clickhouse.Options.Logger: nil unless SQLLogEnv is set.
func sqlLogFromEnv() *slog.Logger {
	sqlLogOnce.Do(func() {
		path := os.Getenv(SQLLogEnv)
		if path == "" {
			return
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return
		}
		sqlLogger = slog.New(&sqlLog{f: f, seen: map[string]bool{}})
	})
	return sqlLogger
}

func (*sqlLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *sqlLog) WithAttrs([]slog.Attr) slog.Handler     { return l }
func (l *sqlLog) WithGroup(string) slog.Handler          { return l }

func (l *sqlLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "sending query" {
		return nil
	}
	var q string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "query" {
			q = a.Value.String()
			return false
		}
		return true
	})
	shape := Shape(q)
	l.mu.Lock()
	defer l.mu.Unlock()
	if q == "" || l.seen[shape] {
		return nil
	}
	l.seen[shape] = true
	line, _ := json.Marshal(struct {
		SQL string `json:"sql"`
	}{q})
	// One write per line, to a file opened for appending: lines of processes writing at
	// once do not interleave.
	_, err := l.f.Write(append(line, '\n'))
	return err
}
