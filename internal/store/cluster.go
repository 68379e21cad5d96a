package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ClusterSpec says how to lay COP's schema over a ClickHouse cluster (remote_servers).
type ClusterSpec struct {
	// Name is the cluster's name in remote_servers; ON CLUSTER and Distributed use it.
	Name string
	// Database is the database of the tables (default "cop").
	Database string
	// Major is the server major version the schema targets: migrations whose MinMajor is
	// above it are left out (0 means a current release: every migration).
	Major int
	// Plain drops ON CLUSTER and the Replicated engines (locals become plain MergeTree
	// engines): the form a single server without ClickHouse Keeper can run, which is how
	// `make test` applies the cluster structure to the ClickHouse 18.16 here.
	Plain bool
}

// ErrClusterForm is returned for a migration statement the cluster generator has no rule
// for: add the rule in cluster.go rather than hand-writing the cluster schema, so the
// single-node and cluster schemas never drift apart.
var ErrClusterForm = errors.New("no cluster form for this statement")

// LocalSuffix names the per-node table that holds a shard's rows; the table without it
// is the Distributed table COP's queries and inserts use, so no query changes on a cluster.
const LocalSuffix = "_local"

// shardKeys places the rows a ReplacingMergeTree must fold on one shard: every version
// of a row (same ordering key) hashes to the same shard, so FINAL and the folding of a
// batch stored again stay exact on a cluster.
var shardKeys = map[string]string{
	"events":      "cityHash64(id)",
	"observables": "cityHash64(event_id)",
	"situations":  "cityHash64(id)",
	"deadletter":  "cityHash64(id)",
	"audit":       "cityHash64(identity)",
	// Aggregate groups only need all of one group's rows on one shard to fold them; a
	// query merges the shards' id sets, which stays exact wherever an id is.
	"events_daily":       "cityHash64(exercise, day)",
	"contributors_daily": "cityHash64(exercise, day)",
	// By stored day too (migration 4): still all of one group's rows on one shard.
	"events_daily_stored":       "cityHash64(exercise, day)",
	"contributors_daily_stored": "cityHash64(exercise, day)",
	// The tables migration 5 makes and swaps in for events and observables.
	"events_stored_month":      "cityHash64(id)",
	"observables_stored_month": "cityHash64(event_id)",
	// Every version of a crisis on one shard, as a situation's (migration 7).
	"crises": "cityHash64(id)",
	// Migration 8: all of one subject's notes on one shard.
	"notes": "cityHash64(subject_id)",
	// Migration 10: cop.situations made again with small granules, then swapped in.
	"situations_fine": "cityHash64(id)",
}

var (
	reCreateDB    = regexp.MustCompile(`^CREATE DATABASE IF NOT EXISTS cop$`)
	reCreateTable = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS cop\.(\w+) (\(.*\))\s*ENGINE = (\w*MergeTree)(?:\(([^()]*)\))?(\s.*)$`)
	// reCreateAs: a table made with another's columns (CREATE TABLE t AS s ENGINE = ...).
	reCreateAs   = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS cop\.(\w+) AS cop\.(\w+)\s+ENGINE = (\w*MergeTree)(?:\(([^()]*)\))?(\s.*)$`)
	reAlterTable = regexp.MustCompile(`(?s)^ALTER TABLE cop\.(\w+) (.*)$`)
	reCreateView = regexp.MustCompile(`(?s)^CREATE MATERIALIZED VIEW IF NOT EXISTS cop\.(\w+) TO cop\.(\w+) AS (SELECT .*)$`)
	reInsert     = regexp.MustCompile(`(?s)^INSERT INTO cop\.(\w+) ((?:\([^()]*\) )?SELECT .*)$`)
	reDropTable  = regexp.MustCompile(`^DROP TABLE IF EXISTS cop\.(\w+)$`)
	reRenameSwap = regexp.MustCompile(`^RENAME TABLE cop\.(\w+) TO cop\.(\w+), cop\.(\w+) TO cop\.(\w+)$`)
	reTableName  = regexp.MustCompile(`\bcop\.(\w+)\b`)
	// reColumnAlter matches ALTERs that change the columns, which the Distributed table
	// must follow; the rest (indexes, TTL, settings) concern the local tables only.
	reColumnAlter = regexp.MustCompile(`(?i)^(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b`)
)

// ClusterStatements returns the statements that create COP's schema on cluster spec.Name,
// generated from Migrations: for each table t, a Replicated*MergeTree table t_local on
// every node (ZooKeeper path /clickhouse/tables/{shard}/<db>/t, replica {replica}) and a
// Distributed table t over them, then the replicated schema_migrations table recording
// each migration, so a later `cop migrate --cluster` applies only what is new.
func ClusterStatements(spec ClusterSpec) ([]string, error) {
	if spec.Name == "" {
		return nil, errors.New("no cluster name")
	}
	if spec.Database == "" {
		spec.Database = Database
	}
	if !validDatabase.MatchString(spec.Name) || !validDatabase.MatchString(spec.Database) {
		return nil, fmt.Errorf("cluster %q or database %q is not a plain identifier", spec.Name, spec.Database)
	}
	var out []string
	for _, m := range Migrations {
		if spec.Major > 0 && m.MinMajor > spec.Major {
			continue
		}
		stmts, err := spec.migration(m)
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
	}
	out = append(out, spec.migrationsTable())
	for _, m := range Migrations {
		if spec.Major > 0 && m.MinMajor > spec.Major {
			continue
		}
		out = append(out, fmt.Sprintf("INSERT INTO %s.schema_migrations (version, name, applied_at) VALUES (%d, '%s', now())",
			spec.Database, m.Version, strings.ReplaceAll(m.Name, "'", "''")))
	}
	return out, nil
}

// ClusterSQL is ClusterStatements as one script for clickhouse-client --multiquery, with
// a header naming what generated it.
func ClusterSQL(spec ClusterSpec) (string, error) {
	stmts, err := ClusterStatements(spec)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- COP's ClickHouse schema for cluster %q, database %q.\n", spec.Name, orDefault(spec.Database, Database))
	fmt.Fprintf(&b, "-- Generated by `cop migrate --print --cluster %s --database %s` from internal/store/schema.go; do not edit.\n",
		spec.Name, orDefault(spec.Database, Database))
	b.WriteString("-- Apply once on any node: clickhouse-client --multiquery < schema.sql (needs ClickHouse Keeper for ON CLUSTER).\n")
	for _, s := range stmts {
		b.WriteString("\n")
		b.WriteString(s)
		b.WriteString(";\n")
	}
	return b.String(), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (spec ClusterSpec) onCluster() string {
	if spec.Plain {
		return ""
	}
	return " ON CLUSTER " + spec.Name
}

func (spec ClusterSpec) migration(m Migration) ([]string, error) {
	var out []string
	// renamed: the tables a RENAME of this migration moved away, which exist as local
	// tables only (no Distributed table over them).
	renamed := map[string]bool{}
	for _, q := range m.SQL {
		q = strings.TrimSpace(q)
		switch {
		case reCreateDB.MatchString(q):
			out = append(out, "CREATE DATABASE IF NOT EXISTS "+spec.Database+spec.onCluster())
		case reCreateTable.MatchString(q):
			sm := reCreateTable.FindStringSubmatch(q)
			table, columns, engine, args, rest := sm[1], sm[2], sm[3], sm[4], sm[5]
			key, ok := shardKeys[table]
			if !ok {
				return nil, fmt.Errorf("migration %d: table %s has no shard key in cluster.go: %w", m.Version, table, ErrClusterForm)
			}
			local := spec.Database + "." + table + LocalSuffix
			out = append(out,
				"CREATE TABLE IF NOT EXISTS "+local+spec.onCluster()+" "+columns+"\n\t\tENGINE = "+spec.engine(table, engine, args)+rest,
				fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s\n\t\tENGINE = Distributed(%s, %s, %s, %s)",
					spec.Database, table, spec.onCluster(), local, spec.Name, spec.Database, table+LocalSuffix, key))
		case reCreateAs.MatchString(q):
			// The local table with the source's local columns, and its Distributed table.
			sm := reCreateAs.FindStringSubmatch(q)
			table, source, engine, args, rest := sm[1], sm[2], sm[3], sm[4], sm[5]
			key, ok := shardKeys[table]
			if !ok {
				return nil, fmt.Errorf("migration %d: table %s has no shard key in cluster.go: %w", m.Version, table, ErrClusterForm)
			}
			local := spec.Database + "." + table + LocalSuffix
			out = append(out,
				"CREATE TABLE IF NOT EXISTS "+local+spec.onCluster()+" AS "+spec.Database+"."+source+LocalSuffix+
					"\n\t\tENGINE = "+spec.engine(table, engine, args)+rest,
				fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s\n\t\tENGINE = Distributed(%s, %s, %s, %s)",
					spec.Database, table, spec.onCluster(), local, spec.Name, spec.Database, table+LocalSuffix, key))
		case reAlterTable.MatchString(q):
			sm := reAlterTable.FindStringSubmatch(q)
			table, change := sm[1], sm[2]
			out = append(out, "ALTER TABLE "+spec.Database+"."+table+LocalSuffix+spec.onCluster()+" "+change)
			if reColumnAlter.MatchString(change) {
				out = append(out, "ALTER TABLE "+spec.Database+"."+table+spec.onCluster()+" "+change)
			}
		case reCreateView.MatchString(q):
			// On every node, from the local table its shard's rows arrive in, into the
			// local target table.
			sm := reCreateView.FindStringSubmatch(q)
			view, target, sel := sm[1], sm[2], sm[3]
			out = append(out, fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s.%s AS %s",
				spec.Database, view, spec.onCluster(), spec.Database, target+LocalSuffix, spec.tables(sel, LocalSuffix)))
		case reInsert.MatchString(q):
			// Once, on the node migrating, through the Distributed tables; from a table
			// renamed away, from its local tables on every shard.
			sm := reInsert.FindStringSubmatch(q)
			sel := reTableName.ReplaceAllStringFunc(sm[2], func(t string) string {
				name := strings.TrimPrefix(t, "cop.")
				if renamed[name] {
					return fmt.Sprintf("cluster('%s', %s, %s)", spec.Name, spec.Database, name+LocalSuffix)
				}
				return spec.Database + "." + name
			})
			out = append(out, fmt.Sprintf("INSERT INTO %s.%s %s", spec.Database, sm[1], sel))
		case reRenameSwap.MatchString(q):
			// The local tables swap; the Distributed table of the first name then reads
			// the new one. The Distributed table of the third name is left over a local
			// table that is gone: the migration drops it.
			sm := reRenameSwap.FindStringSubmatch(q)
			if sm[1] != sm[4] {
				return nil, fmt.Errorf("migration %d: %.60q is not a swap: %w", m.Version, q, ErrClusterForm)
			}
			renamed[sm[2]] = true
			d := spec.Database + "."
			out = append(out, "RENAME TABLE "+d+sm[1]+LocalSuffix+" TO "+d+sm[2]+LocalSuffix+", "+
				d+sm[3]+LocalSuffix+" TO "+d+sm[4]+LocalSuffix+spec.onCluster())
		case reDropTable.MatchString(q):
			// A view is on every node; a table is a Distributed table over local ones.
			name := reDropTable.FindStringSubmatch(q)[1]
			if renamed[name] {
				name += LocalSuffix
			} else if _, table := shardKeys[name]; table {
				out = append(out, "DROP TABLE IF EXISTS "+spec.Database+"."+name+spec.onCluster())
				name += LocalSuffix
			}
			out = append(out, "DROP TABLE IF EXISTS "+spec.Database+"."+name+spec.onCluster())
		default:
			return nil, fmt.Errorf("migration %d: %.60q: %w", m.Version, q, ErrClusterForm)
		}
	}
	return out, nil
}

// tables names COP's tables in sel in spec.Database, with suffix.
func (spec ClusterSpec) tables(sel, suffix string) string {
	return reTableName.ReplaceAllString(sel, spec.Database+".${1}"+suffix)
}

// engine returns the replicated form of engine(args) for table, or the engine itself
// when spec is Plain.
func (spec ClusterSpec) engine(table, engine, args string) string {
	if spec.Plain {
		if args == "" {
			return engine
		}
		return engine + "(" + args + ")"
	}
	repl := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", spec.Database, table)
	if args != "" {
		repl += ", " + args
	}
	return "Replicated" + engine + "(" + repl + ")"
}

// migrationsTable is schema_migrations on a cluster: one replicated table in a single
// ZooKeeper path for every node (not per shard), so each node reads the full list.
func (spec ClusterSpec) migrationsTable() string {
	engine := "MergeTree"
	if !spec.Plain {
		engine = fmt.Sprintf("ReplicatedMergeTree('/clickhouse/tables/all/%s/schema_migrations', '{replica}')", spec.Database)
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.schema_migrations%s (version UInt32, name String, applied_at DateTime)\n\t\tENGINE = %s ORDER BY version",
		spec.Database, spec.onCluster(), engine)
}

// MigrateCluster applies, on a node of cluster spec.Name, the cluster form of every
// migration not yet recorded in schema_migrations. The first run on an empty cluster
// creates everything; later runs add only new migrations.
func (s *Store) MigrateCluster(ctx context.Context, spec ClusterSpec) (applied []string, err error) {
	spec.Database = orDefault(spec.Database, Database)
	if spec.Major == 0 {
		spec.Major = s.Major()
	}
	// The statements name spec.Database themselves: no rewriting of "cop." names.
	conn := s.conn
	if dc, ok := conn.(dbConn); ok {
		conn = dc.Conn
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+spec.Database+spec.onCluster()); err != nil {
		return nil, fmt.Errorf("cannot create database %s on cluster %s: %w", spec.Database, spec.Name, err)
	}
	if err := conn.Exec(ctx, spec.migrationsTable()); err != nil {
		return nil, fmt.Errorf("cannot create %s.schema_migrations: %w", spec.Database, err)
	}
	// As Migrate: no lock when nothing is pending, and read again under it.
	if done, err := appliedMigrations(ctx, conn, spec.Database); err != nil || !pending(done, spec.Major) {
		return nil, err
	}
	unlock, err := lockClusterMigrations(ctx, conn, spec)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", spec.Name, err)
	}
	defer unlock()
	applied, err = applyMigrations(ctx, conn, spec.Database, spec.Major, spec.migration)
	if err != nil {
		err = fmt.Errorf("cluster %s: %w", spec.Name, err)
	}
	return applied, err
}
