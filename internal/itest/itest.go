// Package itest finds the real services (Apache Kafka, ClickHouse) for integration tests.
// Tests never start mocks: `make test` starts the real services with scripts/services and
// sets COP_KAFKA and COP_CLICKHOUSE; `go test ./...` alone skips integration tests with a
// message naming the command that runs them. COP_REQUIRE_SERVICES=1 (set by `make test`
// and CI) turns that skip into a failure, so CI can never pass by skipping.
package itest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"
)

// Services returns the Kafka brokers and the ClickHouse address, or skips the test.
func Services(t testing.TB) (kafka, clickhouse string) {
	t.Helper()
	if useContainers() {
		k, c, err := containerServices()
		if err != nil {
			t.Fatal(err)
		}
		return k, c
	}
	kafka, clickhouse = os.Getenv("COP_KAFKA"), os.Getenv("COP_CLICKHOUSE")
	if kafka == "" || clickhouse == "" {
		if os.Getenv("COP_REQUIRE_SERVICES") == "1" {
			t.Fatal("COP_REQUIRE_SERVICES=1 but COP_KAFKA or COP_CLICKHOUSE is unset")
		}
		t.Skip("integration test: needs the real services; run `make test` (or `scripts/services start && eval \"$(scripts/services env)\"`)")
	}
	return kafka, clickhouse
}

// Namespace returns a fresh Kafka namespace (topic and group prefix) for one test, so
// tests sharing a broker never see each other's traffic.
func Namespace(t testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

// Eventually polls cond every poll until it returns true or wait passes, then fails with
// the last message cond gave.
func Eventually(t testing.TB, wait, poll time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached in %s: %s", wait, msg)
		}
		time.Sleep(poll)
	}
}

// Database is the ClickHouse database of the integration tests: COP_CH_DATABASE (`make
// test` sets cop_test), else cop_test, so that no test writes into the demo's.
func Database() string {
	if db := os.Getenv("COP_CH_DATABASE"); db != "" {
		return db
	}
	return "cop_test"
}
