package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCurrentClickHouse runs COP's SQL on a current ClickHouse: chdb-core, ClickHouse 26.x
// in process (scripts/current-clickhouse installs it and runs this test after the
// integration tests). First every migration in full, including the statements 18.16 is
// spared; then one statement of every shape the integration tests sent to the services'
// ClickHouse 18.16 (SQLLogEnv), on COP's tables. A statement 26.x refuses fails the test
// with the server's reason. Without COP_CHDB_PYTHON it is skipped: the integration tests
// are still writing the log then.
func TestCurrentClickHouse(t *testing.T) {
	py := os.Getenv("COP_CHDB_PYTHON")
	if py == "" {
		t.Skip("COP_CHDB_PYTHON is not set: scripts/current-clickhouse runs this test after the integration tests")
	}
	logPath := os.Getenv(SQLLogEnv)
	logged, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("the integration tests' SQL (%s=%q): %v", SQLLogEnv, logPath, err)
	}
	stmts := []replayed{{SQL: migrationsTable, From: "migrations table"}}
	for _, m := range Migrations {
		for _, q := range m.SQL {
			stmts = append(stmts, replayed{SQL: q, From: "migration " + m.Name})
		}
	}
	nMigration := len(stmts)
	tables := copTables()
	var log []string
	sc := bufio.NewScanner(bytes.NewReader(logged))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l struct {
			SQL string `json:"sql"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", logPath, err)
		}
		log = append(log, l.SQL)
	}
	dbs := databases(log, tables)
	seen := map[string]bool{}
	skipped := map[string]int{}
	for _, sql := range log {
		q, why := replayable(sql, tables, dbs)
		if why != "" {
			skipped[why]++
			continue
		}
		if shape := Shape(q); !seen[shape] {
			seen[shape] = true
			stmts = append(stmts, replayed{SQL: q, From: "integration tests"})
		}
	}
	if len(stmts)-nMigration < 50 {
		t.Fatalf("only %d statement shapes in %s: the integration tests did not run with %s set", len(stmts)-nMigration, logPath, SQLLogEnv)
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, s := range stmts {
		enc.Encode(s)
	}
	cmd := exec.Command(py, filepath.Join("..", "..", "scripts", "chdb-replay.py"))
	cmd.Stdin = &in
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chdb-replay.py: %v", err)
	}
	var version string
	failed := 0
	dec := json.NewDecoder(bytes.NewReader(out))
	for i := 0; dec.More(); i++ {
		var r struct {
			Version string `json:"version"`
			Error   string `json:"error"`
		}
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("chdb-replay.py output: %v", err)
		}
		if i == 0 {
			version = r.Version
			continue
		}
		if r.Error != "" {
			failed++
			s := stmts[i-1]
			t.Errorf("ClickHouse %s refuses a statement of the %s:\n%.600s\n-> %.400s", version, s.From, s.SQL, r.Error)
		}
	}
	t.Logf("ClickHouse %s: %d migration statements and %d statement shapes of the integration tests, %d refused; left out: %v",
		version, nMigration, len(stmts)-nMigration, failed, skipped)
}

type replayed struct {
	SQL  string `json:"sql"`
	From string `json:"-"`
}

// copTables are the tables COP's migrations leave: made and not dropped by a later one.
func copTables() map[string]bool {
	re := regexp.MustCompile(`(?i)\b(CREATE TABLE|CREATE MATERIALIZED VIEW|DROP TABLE)(?: IF (?:NOT )?EXISTS)? cop\.(\w+)|\bTO cop\.(\w+)`)
	out := map[string]bool{"schema_migrations": true}
	for _, m := range Migrations {
		for _, q := range m.SQL {
			for _, sm := range re.FindAllStringSubmatch(q, -1) {
				switch {
				case sm[3] != "": // RENAME … TO, or a view's TO table: made
					out[sm[3]] = true
				case strings.EqualFold(sm[1], "DROP TABLE"):
					delete(out, sm[2])
				default:
					out[sm[2]] = true
				}
			}
		}
	}
	return out
}

var (
	reQualified = regexp.MustCompile(`\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)\b`)
	reScaffold  = regexp.MustCompile(`(?is)^\s*(CREATE|DROP|RENAME|DETACH|ATTACH|EXISTS|SHOW|TRUNCATE|ALTER TABLE \S+ (ADD|DROP|MODIFY) COLUMN)\b`)
	reCluster   = regexp.MustCompile(`(?i)\b(cluster|remote)\s*\(|\bON CLUSTER\b`)
	// reBatch is a native batch's INSERT: its rows travel as blocks, not in the text.
	reBatch = regexp.MustCompile(`(?is)^\s*INSERT INTO (\S+)\s*\(([^)]*)\)\s*(?:VALUES|FORMAT Native)\s*$`)
)

// databases are the names that qualify one of COP's tables somewhere in log: the
// databases the tests gave COP.
func databases(log []string, tables map[string]bool) map[string]bool {
	dbs := map[string]bool{}
	for _, q := range log {
		for _, sm := range reQualified.FindAllStringSubmatch(q, -1) {
			if tables[sm[2]] && sm[1] != "system" {
				dbs[sm[1]] = true
			}
		}
	}
	return dbs
}

// replayable is q as it runs on chdb's "cop" database, or why it is left out: schema
// statements (the migrations make COP's tables; the rest is the tests' scaffolding),
// statements on tables of COP's databases that the migrations do not make, and a native
// batch's INSERT, whose rows travel as blocks: its columns are checked by a SELECT.
func replayable(q string, tables, dbs map[string]bool) (string, string) {
	if reScaffold.MatchString(q) {
		return "", "schema statements (the migrations run in full instead)"
	}
	if reCluster.MatchString(q) {
		return "", "statements on a cluster (chdb has none; TestClusterSchema* cover them on 18.16)"
	}
	foreign := false
	q = reQualified.ReplaceAllStringFunc(q, func(m string) string {
		sm := reQualified.FindStringSubmatch(m)
		if !dbs[sm[1]] {
			return m // system.parts, an alias's column, …
		}
		if !tables[sm[2]] {
			foreign = true
			return m
		}
		return "cop." + sm[2]
	})
	if foreign {
		return "", "statements on tables the migrations do not make"
	}
	if sm := reBatch.FindStringSubmatch(q); sm != nil {
		return "SELECT " + sm[2] + " FROM " + sm[1] + " LIMIT 0", ""
	}
	return q, ""
}
