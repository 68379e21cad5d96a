package store

import "testing"

func TestDatabaseRewriteTouchesOnlyTableNamesAndCreateDatabase(t *testing.T) {
	c := dbConn{db: "cop_test"}
	f := func(in, want string) {
		t.Helper()
		if got := c.sql(in); got != want {
			t.Fatalf("sql(%q) = %q, want %q", in, got, want)
		}
	}
	f("SELECT count() FROM cop.events WHERE title = 'cop.feed'", "SELECT count() FROM cop_test.events WHERE title = 'cop.feed'")
	f("CREATE DATABASE IF NOT EXISTS cop", "CREATE DATABASE IF NOT EXISTS cop_test")
	f("INSERT INTO cop.schema_migrations (version)", "INSERT INTO cop_test.schema_migrations (version)")
	f("SELECT * FROM cop.situations s JOIN cop.observables o", "SELECT * FROM cop_test.situations s JOIN cop_test.observables o")
	f("SELECT 1 FROM copy.events", "SELECT 1 FROM copy.events")
	f("SELECT 1 FROM cop.deadletter WHERE reason = 'bad cop.events message' AND source = 'it''s cop.audit'",
		"SELECT 1 FROM cop_test.deadletter WHERE reason = 'bad cop.events message' AND source = 'it''s cop.audit'")
	f(`SELECT 'a\'cop.events' FROM cop.events`, `SELECT 'a\'cop.events' FROM cop_test.events`)
	// Any table, not a list of them: a new one goes to the configured database too.
	f("CREATE TABLE IF NOT EXISTS cop.brand_new_table (x UInt8)", "CREATE TABLE IF NOT EXISTS cop_test.brand_new_table (x UInt8)")
	f("RENAME TABLE cop.a_1 TO cop.b_2", "RENAME TABLE cop_test.a_1 TO cop_test.b_2")
	if (dbConn{db: Database}).sql("cop.events") != "cop.events" {
		t.Fatal("default database rewritten")
	}
}
