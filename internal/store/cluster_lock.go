package store

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// codeReplicaExists is REPLICA_ALREADY_EXISTS: a Replicated table's replica path is
// already in Keeper (another node made the table first).
const codeReplicaExists = 253

// clusterLock is the migration lock of `cop migrate --cluster`: processes migrating a
// cluster's database at once, on any of its nodes, take turns, as Migrate's do on one
// server. On a real cluster it is a ReplicatedMergeTree table made on the node migrating
// only (no ON CLUSTER), at one Keeper path with one replica name for the whole cluster:
// Keeper lets exactly one node create that replica, so a second process fails with
// TABLE_ALREADY_EXISTS on the same node or REPLICA_ALREADY_EXISTS on another, and
// waits. Releasing drops the table, SYNC on servers that delay drops (Atomic databases,
// 20.x and later), so the replica leaves Keeper at once. In the Plain rehearsal (one server,
// no Keeper) it is Migrate's lock, a Memory table.
func (spec ClusterSpec) clusterLock() migrationLockSpec {
	table := spec.Database + ".migration_lock"
	if spec.Plain {
		return migrationLockSpec{
			create: "CREATE TABLE " + table + " (since DateTime DEFAULT now()) ENGINE = Memory",
			drop:   "DROP TABLE IF EXISTS " + table,
			held:   func(code int32) bool { return code == codeTableExists },
			name:   "table " + table,
			what:   "database " + spec.Database,
			fix:    "drop that table and start again",
		}
	}
	path := fmt.Sprintf("/clickhouse/cop/%s/migration_lock", spec.Database)
	drop := "DROP TABLE IF EXISTS " + table
	if spec.Major == 0 || spec.Major >= 20 {
		drop += " SYNC"
	}
	return migrationLockSpec{
		create: fmt.Sprintf("CREATE TABLE %s (since DateTime DEFAULT now()) ENGINE = ReplicatedMergeTree('%s', 'lock') ORDER BY since", table, path),
		drop:   drop,
		held:   func(code int32) bool { return code == codeTableExists || code == codeReplicaExists },
		name:   fmt.Sprintf("table %s on one node of cluster %s, Keeper path %s", table, spec.Name, path),
		what:   fmt.Sprintf("database %s of cluster %s", spec.Database, spec.Name),
		fix: fmt.Sprintf("find the node with SELECT hostName() FROM clusterAllReplicas('%s', system.tables) WHERE database = '%s' AND name = 'migration_lock', "+
			"run %s there and start again", spec.Name, spec.Database, drop),
	}
}

// lockClusterMigrations takes spec's cluster migration lock through conn.
func lockClusterMigrations(ctx context.Context, conn driver.Conn, spec ClusterSpec) (unlock func(), err error) {
	return takeLock(ctx, conn, spec.clusterLock())
}
