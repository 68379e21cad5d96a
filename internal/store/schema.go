package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migration is one versioned, idempotent schema step. Modern steps only run on servers that
// have the features they use (MinMajor), so the base schema stays what ClickHouse 18.16 runs.
type Migration struct {
	Version  uint32
	Name     string
	MinMajor int // 0: every server
	SQL      []string
}

// enum definitions shared by tables; values match internal/event's constants.
const (
	kindEnum     = "Enum8('indicator' = 1, 'sighting' = 2, 'incident' = 3, 'report' = 4)"
	severityEnum = "Enum8('info' = 1, 'low' = 2, 'medium' = 3, 'high' = 4, 'critical' = 5)"
	tlpEnum      = "Enum8('CLEAR' = 1, 'GREEN' = 2, 'AMBER' = 3, 'AMBER+STRICT' = 4, 'RED' = 5)"
)

// Migrations lists every schema step in order. Never edit a released step: add one.
var Migrations = []Migration{
	{Version: 1, Name: "base schema", SQL: []string{
		`CREATE DATABASE IF NOT EXISTS cop`,
		// events: one row per accepted event. ReplacingMergeTree on the ordering key (which
		// ends in id) folds a batch replayed after a crash; queries that must be exact
		// before merges count uniqExact(id). Ordered by exercise first (every query filters
		// on it: real and exercise traffic never mix), then day and the filters analysts
		// use most (contributor, severity), then id for uniqueness.
		`CREATE TABLE IF NOT EXISTS cop.events (
			id String,
			contributor String,
			source_id String,
			kind ` + kindEnum + `,
			observed_at DateTime,
			received_at DateTime,
			valid_until DateTime,
			category String,
			techniques Array(String),
			sectors Array(String),
			countries Array(String),
			has_geo UInt8,
			lat Float64,
			lon Float64,
			severity ` + severityEnum + `,
			confidence UInt8,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			anonymise UInt8,
			exercise String,
			title String,
			summary String,
			obs_types Array(String),
			obs_values Array(String),
			situation_id String,
			duplicate UInt8,
			stored_at DateTime
		) ENGINE = ReplacingMergeTree(stored_at)
		PARTITION BY (toYYYYMM(observed_at), exercise)
		ORDER BY (exercise, toDate(observed_at), contributor, severity, id)`,
		// observables: one row per event × observable, ordered for look-ups by value.
		`CREATE TABLE IF NOT EXISTS cop.observables (
			type String,
			value String,
			event_id String,
			contributor String,
			observed_at DateTime,
			exercise String,
			situation_id String,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			anonymise UInt8,
			stored_at DateTime
		) ENGINE = ReplacingMergeTree(stored_at)
		PARTITION BY toYYYYMM(observed_at)
		ORDER BY (value, type, exercise, event_id)`,
		// situations: every version of every situation; the latest version wins
		// (argMax(..., version) or FINAL).
		`CREATE TABLE IF NOT EXISTS cop.situations (
			id String,
			version UInt64,
			exercise String,
			title String,
			severity ` + severityEnum + `,
			confidence Float64,
			score Float64,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			contributors Array(String),
			countries Array(String),
			sectors Array(String),
			event_count UInt32,
			first_seen DateTime,
			last_seen DateTime,
			updated_at DateTime,
			removed UInt8,
			merged_into String,
			payload String
		) ENGINE = ReplacingMergeTree(version)
		PARTITION BY exercise
		ORDER BY (exercise, id)`,
		// deadletter: every rejected message, with where it came from and why.
		`CREATE TABLE IF NOT EXISTS cop.deadletter (
			id String,
			contributor String,
			source String,
			format String,
			reason String,
			raw String,
			raw_size UInt32,
			received_at DateTime
		) ENGINE = ReplacingMergeTree(received_at)
		PARTITION BY toYYYYMM(received_at)
		ORDER BY (contributor, received_at, id)`,
		// audit: who asked what, and how many rows they got.
		`CREATE TABLE IF NOT EXISTS cop.audit (
			at DateTime,
			identity String,
			role String,
			action String,
			filter String,
			rows UInt64,
			status UInt16
		) ENGINE = MergeTree
		PARTITION BY toYYYYMM(at)
		ORDER BY (at, identity)`,
	}},
	{Version: 2, Name: "daily aggregates", SQL: []string{
		// The analysts' aggregates (Store.Trend), kept by materialized views on every
		// insert into events: per UTC day × sector × country × severity, and per UTC day ×
		// contributor × severity. The marking columns are part of each key, so aggregates
		// are filtered by the same rules as the rows. Each group keeps the set of its event
		// ids (uniqExactState), not a count: an event stored again (a batch re-stored after
		// a crash, a report re-sent after the dedup window) adds an id already in the set,
		// so nothing is counted twice, before or after merges. The sets hold 64-bit hashes
		// of the ids (half the work of the strings; measured in docs/history.md): two ids
		// collide with probability ~n²/2⁶⁵ (3·10⁻⁶ over 10M events), the risk the engine
		// already takes for its keys. An event without sectors (countries) is kept under
		// sector (country) ''.
		`CREATE TABLE IF NOT EXISTS cop.events_daily (
			exercise String,
			day Date,
			sector String,
			country String,
			severity ` + severityEnum + `,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			ids AggregateFunction(uniqExact, UInt64)
		) ENGINE = AggregatingMergeTree
		PARTITION BY (toYYYYMM(day), exercise)
		ORDER BY (exercise, day, sector, country, severity, tlp, releasable_to)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS cop.events_daily_mv TO cop.events_daily AS ` + dailySelect,
		`CREATE TABLE IF NOT EXISTS cop.contributors_daily (
			exercise String,
			day Date,
			contributor String,
			anonymise UInt8,
			severity ` + severityEnum + `,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			ids AggregateFunction(uniqExact, UInt64)
		) ENGINE = AggregatingMergeTree
		PARTITION BY (toYYYYMM(day), exercise)
		ORDER BY (exercise, day, contributor, anonymise, severity, tlp, releasable_to)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS cop.contributors_daily_mv TO cop.contributors_daily AS ` + contributorsSelect,
		// The events stored before this migration; an event a view also saw meanwhile is
		// in both sets, which is harmless.
		`INSERT INTO cop.events_daily ` + dailySelect,
		`INSERT INTO cop.contributors_daily ` + contributorsSelect,
	}},
	{Version: 3, Name: "dead letter reasons", SQL: []string{
		// One dead letter per rejected message: the reasons of its rejected elements (the
		// first deadletter.MaxReasons) and how many there were. A row stored before holds
		// one element's reason in reason alone, hence rejected's default. One column per
		// statement: 18.16 has no ADD COLUMN IF NOT EXISTS, and a step interrupted after
		// one of them finds that column there when it runs again (see alreadyDone).
		`ALTER TABLE cop.deadletter ADD COLUMN reasons Array(String) AFTER reason`,
		`ALTER TABLE cop.deadletter ADD COLUMN rejected UInt32 DEFAULT 1 AFTER reasons`,
	}},
	{Version: 4, Name: "daily aggregates by stored day", SQL: []string{
		// The daily aggregates of migration 2, partitioned by the UTC day COP stored the
		// events instead of the month they were observed in. An id set is merged again
		// every time ClickHouse merges its part, and the parts of one partition merge
		// into one: partitioned by month, every insert had the whole month's sets
		// rewritten, over and over (58% of the merge bytes at the demo's rate, a cost
		// that grew with the month). By stored day, inserts only ever land in today's
		// partition (however old the reports' dates), and a past day is never merged
		// again. The aggregates stay exact: a query merges the sets of a group across
		// partitions, so an event stored on two days (a batch re-stored after a crash
		// at midnight) still counts once. Ordering and keys are migration 2's; stored is
		// in no key, a group has one row per day it was stored on.
		`CREATE TABLE IF NOT EXISTS cop.events_daily_stored (
			exercise String,
			stored Date,
			day Date,
			sector String,
			country String,
			severity ` + severityEnum + `,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			ids AggregateFunction(uniqExact, UInt64)
		) ENGINE = AggregatingMergeTree
		PARTITION BY (stored, exercise)
		ORDER BY (exercise, day, sector, country, severity, tlp, releasable_to)`,
		`CREATE TABLE IF NOT EXISTS cop.contributors_daily_stored (
			exercise String,
			stored Date,
			day Date,
			contributor String,
			anonymise UInt8,
			severity ` + severityEnum + `,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			ids AggregateFunction(uniqExact, UInt64)
		) ENGINE = AggregatingMergeTree
		PARTITION BY (stored, exercise)
		ORDER BY (exercise, day, contributor, anonymise, severity, tlp, releasable_to)`,
		// The old views stop, the new ones start, then the new tables are filled from
		// the rows: whatever was stored in between is in the rows, and an event both a
		// new view and the fill saw is in one set twice, which is harmless. Running the
		// step again after an interruption redoes the fill, as harmlessly.
		`DROP TABLE IF EXISTS cop.events_daily_mv`,
		`DROP TABLE IF EXISTS cop.contributors_daily_mv`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS cop.events_daily_stored_mv TO cop.events_daily_stored AS ` + dailyStoredSelect,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS cop.contributors_daily_stored_mv TO cop.contributors_daily_stored AS ` + contributorsStoredSelect,
		`INSERT INTO cop.events_daily_stored ` + dailyStoredSelect,
		`INSERT INTO cop.contributors_daily_stored ` + contributorsStoredSelect,
		`DROP TABLE IF EXISTS cop.events_daily`,
		`DROP TABLE IF EXISTS cop.contributors_daily`,
	}},
	{Version: 5, Name: "events and observables partitioned by stored month", SQL: []string{
		// cop.events and cop.observables were partitioned by the month the events were
		// observed in: real feeds carry old dates, so one insert of a report feed wrote a
		// part per month it touched (and, past 100 months, an insert would be refused).
		// By the month COP stored them, an insert lands in one month, and the observed
		// time stays in the sort key, where the analysts' filters use it. ClickHouse
		// cannot change a table's partition key, so each table is created anew and
		// swapped in by name, then the old rows are copied into it: they land in the
		// partitions of the month they were stored in (their stored_at), and the old
		// table, with its partitions by observed month, is dropped. Disk holds both
		// while it copies. Writers may keep writing: before the swap into the old table
		// (copied after), after it into the new one.
		`CREATE TABLE IF NOT EXISTS cop.events_stored_month (
			id String,
			contributor String,
			source_id String,
			kind ` + kindEnum + `,
			observed_at DateTime,
			received_at DateTime,
			valid_until DateTime,
			category String,
			techniques Array(String),
			sectors Array(String),
			countries Array(String),
			has_geo UInt8,
			lat Float64,
			lon Float64,
			severity ` + severityEnum + `,
			confidence UInt8,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			anonymise UInt8,
			exercise String,
			title String,
			summary String,
			obs_types Array(String),
			obs_values Array(String),
			situation_id String,
			duplicate UInt8,
			stored_at DateTime
		) ENGINE = ReplacingMergeTree(stored_at)
		PARTITION BY (toYYYYMM(stored_at), exercise)
		ORDER BY (exercise, toDate(observed_at), contributor, severity, id)`,
		`CREATE TABLE IF NOT EXISTS cop.observables_stored_month (
			type String,
			value String,
			event_id String,
			contributor String,
			observed_at DateTime,
			exercise String,
			situation_id String,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			anonymise UInt8,
			stored_at DateTime
		) ENGINE = ReplacingMergeTree(stored_at)
		PARTITION BY toYYYYMM(stored_at)
		ORDER BY (value, type, exercise, event_id)`,
		// Run again after an interruption past the swap, a RENAME finds the old table's
		// new name taken and is skipped (alreadyDone); the fresh *_stored_month table the
		// CREATE above made then is dropped at the end.
		`RENAME TABLE cop.events TO cop.events_observed_month, cop.events_stored_month TO cop.events`,
		`RENAME TABLE cop.observables TO cop.observables_observed_month, cop.observables_stored_month TO cop.observables`,
		// The daily views read cop.events by name: made again on the new table (18.16
		// follows the name, later servers may follow the renamed table), then given what
		// the new table received before they were.
		`DROP TABLE IF EXISTS cop.events_daily_stored_mv`,
		`DROP TABLE IF EXISTS cop.contributors_daily_stored_mv`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS cop.events_daily_stored_mv TO cop.events_daily_stored AS ` + dailyStoredSelect,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS cop.contributors_daily_stored_mv TO cop.contributors_daily_stored AS ` + contributorsStoredSelect,
		`INSERT INTO cop.events_daily_stored ` + dailyStoredSelect,
		`INSERT INTO cop.contributors_daily_stored ` + contributorsStoredSelect,
		// The old rows. Their ids are in the aggregates already: adding them again
		// through the views is harmless, and a row copied twice (a step run again) folds.
		`INSERT INTO cop.events (` + eventColumns + `) SELECT ` + eventColumns + ` FROM cop.events_observed_month`,
		`INSERT INTO cop.observables (` + observableColumns + `) SELECT ` + observableColumns + ` FROM cop.observables_observed_month`,
		`DROP TABLE IF EXISTS cop.events_observed_month`,
		`DROP TABLE IF EXISTS cop.observables_observed_month`,
		`DROP TABLE IF EXISTS cop.events_stored_month`,
		`DROP TABLE IF EXISTS cop.observables_stored_month`,
	}},
	{Version: 6, Name: "stated names and false positives", SQL: []string{
		// The names of campaigns, intrusion sets, threat actors, malware and tools an event
		// states and a situation carries (event.Name), as two index-aligned arrays: names
		// alone, so a filter by name is has(names, ?) whatever the kind, and their kinds.
		// Both are normalised (event.NormaliseName) before they are stored. false_positives
		// is the event's count of false-positive sightings (event.Event.FalsePositives).
		// Plain ADD COLUMNs: rows stored before read empty arrays and 0, no copy needed
		// (18.16 fills the defaults on read and on merge). One column per statement, as in
		// migration 3, so a step interrupted midway runs again (alreadyDone).
		`ALTER TABLE cop.events ADD COLUMN names Array(String) AFTER obs_values`,
		`ALTER TABLE cop.events ADD COLUMN name_kinds Array(String) AFTER names`,
		`ALTER TABLE cop.events ADD COLUMN false_positives UInt32 AFTER name_kinds`,
		`ALTER TABLE cop.situations ADD COLUMN names Array(String) AFTER sectors`,
		`ALTER TABLE cop.situations ADD COLUMN name_kinds Array(String) AFTER names`,
	}},
	crisesMigration,
	{Version: 8, Name: "notes", SQL: []string{
		// notes: the analysts' and liaison officers' assessments of a situation, campaign or
		// crisis (Store.AddNote). Never updated: a correction is a new note superseding the
		// old. ReplacingMergeTree on the ordering key (which ends in id) folds an insert
		// retried; reads fold with LIMIT 1 BY id. Ordered by exercise (every read filters on
		// it) then the subject, which every read names. created_nanos orders notes written
		// within one second (18.16 has no DateTime64).
		`CREATE TABLE IF NOT EXISTS cop.notes (
			id String,
			subject_kind String,
			subject_id String,
			exercise String,
			author String,
			author_role String,
			text String,
			confidence UInt8,
			action String,
			action_text String,
			agreement String,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			supersedes String,
			created_at DateTime,
			created_nanos UInt32
		) ENGINE = ReplacingMergeTree(created_at)
		PARTITION BY exercise
		ORDER BY (exercise, subject_kind, subject_id, id)`,
	}},
	situationGranulesMigration,
}

// dailySelect and contributorsSelect aggregate rows of cop.events into the groups of
// cop.events_daily and cop.contributors_daily.
const (
	dailySelect = `SELECT exercise, toDate(observed_at, 'UTC') AS day,
			arrayJoin(if(empty(sectors), [''], sectors)) AS sector,
			arrayJoin(if(empty(countries), [''], countries)) AS country,
			severity, tlp, releasable_to, uniqExactState(cityHash64(id)) AS ids
		FROM cop.events
		GROUP BY exercise, day, sector, country, severity, tlp, releasable_to`
	contributorsSelect = `SELECT exercise, toDate(observed_at, 'UTC') AS day, contributor, anonymise,
			severity, tlp, releasable_to, uniqExactState(cityHash64(id)) AS ids
		FROM cop.events
		GROUP BY exercise, day, contributor, anonymise, severity, tlp, releasable_to`
	// dailyStoredSelect and contributorsStoredSelect are the same by stored day too
	// (migration 4).
	dailyStoredSelect = `SELECT exercise, toDate(stored_at, 'UTC') AS stored, toDate(observed_at, 'UTC') AS day,
			arrayJoin(if(empty(sectors), [''], sectors)) AS sector,
			arrayJoin(if(empty(countries), [''], countries)) AS country,
			severity, tlp, releasable_to, uniqExactState(cityHash64(id)) AS ids
		FROM cop.events
		GROUP BY exercise, stored, day, sector, country, severity, tlp, releasable_to`
	contributorsStoredSelect = `SELECT exercise, toDate(stored_at, 'UTC') AS stored, toDate(observed_at, 'UTC') AS day,
			contributor, anonymise, severity, tlp, releasable_to, uniqExactState(cityHash64(id)) AS ids
		FROM cop.events
		GROUP BY exercise, stored, day, contributor, anonymise, severity, tlp, releasable_to`
)

// migrationsTable records the migrations applied.
const migrationsTable = `CREATE TABLE IF NOT EXISTS cop.schema_migrations (
		version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version`

// Migrate applies every migration the database lacks, in order, and records each in
// cop.schema_migrations. Running it twice changes nothing.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	if err := s.conn.Exec(ctx, `CREATE DATABASE IF NOT EXISTS cop`); err != nil {
		return nil, fmt.Errorf("cannot create database cop: %w", err)
	}
	if err := s.conn.Exec(ctx, migrationsTable); err != nil {
		return nil, fmt.Errorf("cannot create cop.schema_migrations: %w", err)
	}
	// Nothing to apply, the usual start: no lock, so a process killed here leaves none.
	if done, err := appliedMigrations(ctx, s.conn, "cop"); err != nil || !pending(done, s.Major()) {
		return nil, err
	}
	unlock, err := s.lockMigrations(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Read again under the lock: another process may have applied them meanwhile.
	return applyMigrations(ctx, s.conn, "cop", s.Major(), func(m Migration) ([]string, error) { return m.SQL, nil })
}

// migrationLock is held by the one process that applies migrations to a database: a
// CREATE TABLE without IF NOT EXISTS succeeds for exactly one of the processes trying at
// once (18.16 has no other lock). The stages of a fresh deployment start together, and two
// of them running migration 5's swap at once dropped the table the other was copying from
// (TestMigrationsRunAtOnceOnAFreshDatabase).
const migrationLock = "cop.migration_lock"

// migrationLockWait is how long Migrate waits for another process's migrations.
var migrationLockWait = 10 * time.Minute

// lockMigrations takes the migration lock, waiting while another process holds it, and
// returns its release.
func (s *Store) lockMigrations(ctx context.Context) (unlock func(), err error) {
	return takeLock(ctx, s.conn, migrationLockSpec{
		create: "CREATE TABLE " + migrationLock + " (since DateTime DEFAULT now()) ENGINE = Memory",
		drop:   "DROP TABLE IF EXISTS " + migrationLock,
		held:   func(code int32) bool { return code == codeTableExists },
		name:   "table " + s.database() + ".migration_lock",
		what:   "database " + s.database(),
		fix:    "drop that table and start again",
	})
}

// migrationLockSpec says how to take and release one form of the migration lock.
type migrationLockSpec struct {
	create, drop string
	held         func(code int32) bool // the create failed because another holds the lock
	name         string                // the lock, as errors name it
	what         string                // what is being migrated
	fix          string                // what to do if no process holds it
}

// takeLock creates l's lock table, waiting up to migrationLockWait while another process
// holds it, and returns its release.
func takeLock(ctx context.Context, conn driver.Conn, l migrationLockSpec) (unlock func(), err error) {
	deadline := time.Now().Add(migrationLockWait)
	for {
		err := conn.Exec(ctx, l.create)
		if err == nil {
			return func() {
				// Released even when ctx is done: a lock left behind stops every later start.
				rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				conn.Exec(rctx, l.drop)
			}, nil
		}
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || !l.held(ex.Code) {
			return nil, fmt.Errorf("cannot take the migration lock (%s): %w", l.name, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another process has been migrating %s for over %s (%s); "+
				"if none is, a migration was interrupted: %s", l.what, migrationLockWait, l.name, l.fix)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// applyMigrations applies through conn, in order, the form form gives of every migration
// for a server of major version major that db.schema_migrations does not record, and
// records each once applied.
func applyMigrations(ctx context.Context, conn driver.Conn, db string, major int, form func(Migration) ([]string, error)) (applied []string, err error) {
	done, err := appliedMigrations(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	for _, m := range Migrations {
		if done[m.Version] || m.MinMajor > major {
			continue
		}
		stmts, err := form(m)
		if err != nil {
			return applied, err
		}
		for _, q := range stmts {
			if err := conn.Exec(ctx, q); err != nil && !alreadyDone(q, err) {
				return applied, fmt.Errorf("cannot apply migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		if err := record(ctx, conn, db, m); err != nil {
			return applied, fmt.Errorf("cannot record migration %d: %w", m.Version, err)
		}
		applied = append(applied, fmt.Sprintf("%d %s", m.Version, m.Name))
	}
	return applied, nil
}

// appliedMigrations are the versions db.schema_migrations records.
func appliedMigrations(ctx context.Context, conn driver.Conn, db string) (map[uint32]bool, error) {
	done := map[uint32]bool{}
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+db+".schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("cannot read applied migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("cannot read applied migrations: %w", err)
		}
		done[v] = true
	}
	return done, rows.Err()
}

// pending reports whether a migration for a server of major version major is not applied.
func pending(done map[uint32]bool, major int) bool {
	for _, m := range Migrations {
		if !done[m.Version] && m.MinMajor <= major {
			return true
		}
	}
	return false
}

// reAddColumn matches a statement adding one column; its name is the first group.
var reAddColumn = regexp.MustCompile(`(?i)^\s*ALTER TABLE \S+(?: ON CLUSTER \S+)? ADD COLUMN (\w+) `)

// reRename matches a statement renaming a table away; the new name's table part is the
// first group.
var reRename = regexp.MustCompile(`(?i)^\s*RENAME TABLE \S+ TO (?:\w+\.)?(\w+)[ ,]`)

// alreadyDone reports whether err says that q, which adds one column, found that column
// there, or that q, which renames a table away, found the new name taken: the statement
// ran before (a migration interrupted before it was recorded), and ClickHouse 18.16 has no
// ADD COLUMN IF NOT EXISTS to say so itself.
func alreadyDone(q string, err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	if sm := reRename.FindStringSubmatch(q); sm != nil {
		return ex.Code == codeTableExists && strings.Contains(ex.Message, sm[1]+" already exists")
	}
	sm := reAddColumn.FindStringSubmatch(q)
	return sm != nil && (ex.Code == codeIllegalColumn || ex.Code == codeDuplicateColumn) &&
		strings.Contains(ex.Message, "column "+sm[1]+": column with this name already exists")
}

// ClickHouse error codes alreadyDone recognises: 18.16 reports an added column that exists
// as ILLEGAL_COLUMN, later servers as DUPLICATE_COLUMN; a table that exists is
// TABLE_ALREADY_EXISTS.
const (
	codeIllegalColumn   = 44
	codeDuplicateColumn = 15
	codeTableExists     = 57
)

// Major returns the server's major version (18 for 18.16.1, 24 for 24.8.4), or 0 if unknown.
func (s *Store) Major() int {
	n, _ := strconv.Atoi(strings.SplitN(s.Version, ".", 2)[0])
	return n
}

// record notes m as applied in db.schema_migrations. A native batch, not INSERT ... VALUES
// with bound arguments: 18.16 waits forever for the data block of the latter.
func record(ctx context.Context, conn driver.Conn, db string, m Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	if err := b.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
		b.Abort()
		return err
	}
	return b.Send()
}
