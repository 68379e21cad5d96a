package store

import (
	"strings"
	"testing"
)

// The Keeper form of the cluster migration lock, which needs ClickHouse Keeper and so
// cannot run here (the services' 18.16 has no ZooKeeper): made on the migrating node only,
// at one Keeper path and replica name for the whole cluster, waited on when the table or
// the replica exists, and dropped SYNC where drops are delayed (20.x and later).
func TestClusterLockOnKeeper(t *testing.T) {
	for _, major := range []int{0, 18, 24} {
		l := ClusterSpec{Name: "cop", Database: "cop", Major: major}.clusterLock()
		if strings.Contains(l.create, "ON CLUSTER") ||
			!strings.Contains(l.create, "ReplicatedMergeTree('/clickhouse/cop/cop/migration_lock', 'lock')") {
			t.Errorf("major %d: lock %q; want a ReplicatedMergeTree at the cluster's one path and replica, on this node only", major, l.create)
		}
		if !l.held(codeTableExists) || !l.held(codeReplicaExists) || l.held(60) {
			t.Errorf("major %d: held by TABLE_ALREADY_EXISTS %v, REPLICA_ALREADY_EXISTS %v, UNKNOWN_TABLE %v; want true, true, false",
				major, l.held(codeTableExists), l.held(codeReplicaExists), l.held(60))
		}
		if sync := strings.HasSuffix(l.drop, " SYNC"); sync != (major != 18) {
			t.Errorf("major %d: release %q; want SYNC on 20.x and later only", major, l.drop)
		}
		if !strings.Contains(l.fix, l.drop) || !strings.Contains(l.name, "/clickhouse/cop/cop/migration_lock") {
			t.Errorf("major %d: a lock left behind is named %q, fixed by %q; want the Keeper path and the drop", major, l.name, l.fix)
		}
	}
	if l := (ClusterSpec{Name: "cop_single", Database: "x", Plain: true}).clusterLock(); !strings.HasSuffix(l.create, "ENGINE = Memory") || l.name != "table x.migration_lock" {
		t.Errorf("plain: lock %q named %q; want Migrate's Memory table x.migration_lock", l.create, l.name)
	}
}
