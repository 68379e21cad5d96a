package store_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

var update = flag.Bool("update", false, "rewrite deploy/clickhouse/schema.sql from the migrations")

const schemaFile = "../../deploy/clickhouse/schema.sql"

// TestClusterSchemaFileIsGenerated keeps deploy/clickhouse/schema.sql what the generator
// makes of the migrations, so the single-node and cluster schemas never drift apart.
func TestClusterSchemaFileIsGenerated(t *testing.T) {
	want, err := store.ClusterSQL(store.ClusterSpec{Name: "cop", Database: "cop"})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is stale: run `go test ./internal/store -run TestClusterSchemaFileIsGenerated -update`", schemaFile)
	}
}

// TestClusterSchemaHasALocalAndADistributedTablePerTable: every table of the single-node
// schema becomes a replicated local table plus a Distributed table of the same name.
func TestClusterSchemaHasALocalAndADistributedTablePerTable(t *testing.T) {
	stmts, err := store.ClusterStatements(store.ClusterSpec{Name: "c1", Database: "db"})
	if err != nil {
		t.Fatal(err)
	}
	sql := strings.Join(stmts, "\n")
	for _, table := range []string{"events", "observables", "situations", "deadletter", "audit"} {
		f := func(want string) {
			t.Helper()
			if !strings.Contains(sql, want) {
				t.Errorf("cluster schema lacks %q", want)
			}
		}
		f("CREATE TABLE IF NOT EXISTS db." + table + "_local ON CLUSTER c1 (")
		f("'/clickhouse/tables/{shard}/db/" + table + "', '{replica}'")
		f("CREATE TABLE IF NOT EXISTS db." + table + " ON CLUSTER c1 AS db." + table + "_local")
		f("ENGINE = Distributed(c1, db, " + table + "_local, cityHash64(")
	}
	if strings.Contains(sql, "cop.") {
		t.Errorf("database name cop left in the schema for database db")
	}
	for _, s := range stmts {
		if !strings.Contains(s, "ON CLUSTER c1") && !strings.HasPrefix(s, "INSERT") {
			t.Errorf("statement without ON CLUSTER: %.80s", s)
		}
	}
}

func TestClusterSchemaRejectsWhatItCannotTranslate(t *testing.T) {
	saved := store.Migrations
	t.Cleanup(func() { store.Migrations = saved })
	f := func(q string) {
		t.Helper()
		store.Migrations = []store.Migration{{Version: 99, Name: "x", SQL: []string{q}}}
		if _, err := store.ClusterStatements(store.ClusterSpec{Name: "c"}); !errors.Is(err, store.ErrClusterForm) {
			t.Errorf("%q: error %v; want ErrClusterForm", q, err)
		}
	}
	f("CREATE MATERIALIZED VIEW cop.v AS SELECT 1")
	f("CREATE TABLE IF NOT EXISTS cop.unknown (a UInt8) ENGINE = MergeTree ORDER BY a")
	f("DROP TABLE cop.events")
	if _, err := store.ClusterStatements(store.ClusterSpec{Name: "bad name"}); err == nil {
		t.Error("a cluster name that is not an identifier was accepted")
	}
}

func TestClusterSchemaAltersFollowTheColumns(t *testing.T) {
	saved := store.Migrations
	t.Cleanup(func() { store.Migrations = saved })
	store.Migrations = []store.Migration{{Version: 2, Name: "x", SQL: []string{
		"ALTER TABLE cop.events ADD COLUMN IF NOT EXISTS mission String",
		"ALTER TABLE cop.events MODIFY TTL stored_at + INTERVAL 1 YEAR",
	}}}
	stmts, err := store.ClusterStatements(store.ClusterSpec{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ALTER TABLE cop.events_local ON CLUSTER c ADD COLUMN IF NOT EXISTS mission String",
		"ALTER TABLE cop.events ON CLUSTER c ADD COLUMN IF NOT EXISTS mission String",
		"ALTER TABLE cop.events_local ON CLUSTER c MODIFY TTL stored_at + INTERVAL 1 YEAR",
	}
	for i, w := range want {
		if i >= len(stmts) || stmts[i] != w {
			t.Fatalf("statements %q; want %q first", stmts, want)
		}
	}
}

// rehearsalCluster is the one-shard, one-replica cluster scripts/services declares (the
// server itself), so the Distributed tables can be created on a single node.
const rehearsalCluster = "cop_single"

// TestClusterSchemaAppliesToSingleNode applies the cluster structure to the ClickHouse
// here (18.16, no Keeper) in a scratch database: the local tables with their engines
// unreplicated, and the Distributed tables over them when the server declares the
// rehearsal cluster. Replicated engines and ON CLUSTER need ClickHouse Keeper and are not
// run here (see deploy/README.md).
func TestClusterSchemaAppliesToSingleNode(t *testing.T) {
	_, ch := itest.Services(t)
	ctx := context.Background()
	st, err := store.Open(ctx, ch, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the drop below: cleanups run last-in first-out
	db := "zz_cluster_" + itest.Namespace(t)
	conn := st.Conn()
	t.Cleanup(func() {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("cannot drop scratch database %s: %v", db, err)
		}
	})

	var clusters uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = ?", rehearsalCluster).Scan(&clusters); err != nil {
		t.Fatal(err)
	}
	spec := store.ClusterSpec{Name: rehearsalCluster, Database: db, Major: st.Major(), Plain: true}
	if clusters == 0 {
		stmts, err := store.ClusterStatements(spec)
		if err != nil {
			t.Fatal(err)
		}
		locals := 0
		for _, q := range stmts {
			// INSERT ... VALUES is for clickhouse-client; over the native protocol 18.16
			// waits for a data block (MigrateCluster records with a batch instead).
			// Nor the ALTERs of the Distributed tables not created.
			distributedAlter := strings.HasPrefix(q, "ALTER TABLE ") && !strings.HasSuffix(strings.Fields(q)[2], store.LocalSuffix)
			if strings.Contains(q, "ENGINE = Distributed(") || strings.HasPrefix(q, "INSERT") || distributedAlter {
				continue
			}
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%v\n%s", err, q)
			}
			locals++
		}
		t.Logf("applied %d local statements; the server declares no cluster %q (scripts/services adds it on its next start), so the Distributed tables were NOT applied", locals, rehearsalCluster)
		return
	}
	applied, err := st.MigrateCluster(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(store.Migrations) {
		t.Fatalf("applied %v; want every migration", applied)
	}
	if again, err := st.MigrateCluster(ctx, spec); err != nil || len(again) != 0 {
		t.Fatalf("second run applied %v, %v; want nothing", again, err)
	}
	// A row written twice through the Distributed table folds into one, as on one node.
	sctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	now := time.Now().UTC().Truncate(time.Second)
	for i := 0; i < 2; i++ {
		b, err := conn.PrepareBatch(sctx, "INSERT INTO "+db+".events (id, contributor, observed_at, stored_at, exercise, title)")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append("e1", "ee-cert", now, now.Add(time.Duration(i)*time.Second), "", "t"); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	var rows, local uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".events FINAL").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".events_local").Scan(&local); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || local == 0 {
		t.Fatalf("through the Distributed table: %d rows FINAL, %d in the local table; want 1 and ≥ 1", rows, local)
	}
}
