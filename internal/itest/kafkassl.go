package itest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/clienttls"
)

// SSLContributors are the contributors scripts/services makes client certificates for
// (besides cop, COP's stages, and admin, a super user).
var SSLContributors = []string{"de-bsi", "fr-anssi"}

// KafkaSSL returns the address of the real broker's SSL listener (mutual TLS 1.3, ACLs
// enforced) and the directory of its certificates, from COP_KAFKA_SSL and
// COP_KAFKA_SSL_CERTS (set by `scripts/services env`), or skips the test like Services.
func KafkaSSL(t testing.TB) (addr, certs string) {
	t.Helper()
	addr, certs = os.Getenv("COP_KAFKA_SSL"), os.Getenv("COP_KAFKA_SSL_CERTS")
	if addr == "" || certs == "" {
		if os.Getenv("COP_REQUIRE_SERVICES") == "1" {
			t.Fatal("COP_REQUIRE_SERVICES=1 but COP_KAFKA_SSL or COP_KAFKA_SSL_CERTS is unset (scripts/services env sets them)")
		}
		t.Skip("integration test: needs Kafka's SSL listener; run `make test` (or `scripts/services start && eval \"$(scripts/services env)\"`)")
	}
	return addr, certs
}

// SSLConfig is a bus.Config for the SSL listener at addr in namespace ns, presenting the
// client certificate of principal from certs.
func SSLConfig(t testing.TB, addr, certs, principal, ns string) bus.Config {
	t.Helper()
	c, err := clienttls.Load(filepath.Join(certs, "ca.pem"), filepath.Join(certs, principal+".crt"), filepath.Join(certs, principal+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return bus.Config{Brokers: []string{addr}, Partitions: 2, Namespace: ns, TLS: c}
}

// DeployACLs reads the ACLs deploy/kafka/init.sh grants and returns them for namespace ns
// and contributors, so tests grant exactly the deployment's ACLs, not a copy of them. A
// flag it does not know fails the test: a change there cannot be silently ignored.
func DeployACLs(t testing.TB, ns string, contributors ...string) []kafka.ACLEntry {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "deploy", "kafka", "init.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.ACLEntry
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "acl ") {
			continue
		}
		names := []string{""}
		if strings.Contains(line, "$c") { // inside `for c in $CONTRIBUTORS`
			names = contributors
		}
		for _, c := range names {
			l := strings.NewReplacer(`"`, "", "$NS", ns, "$c", c).Replace(line)
			out = append(out, parseACL(t, strings.Fields(l)[1:])...)
		}
	}
	if len(out) == 0 {
		t.Fatal("no acl lines in deploy/kafka/init.sh")
	}
	return out
}

// parseACL turns the arguments of one `kafka-acls.sh --add` into its entries.
func parseACL(t testing.TB, args []string) []kafka.ACLEntry {
	t.Helper()
	var principal string
	var ops []kafka.ACLOperationType
	type resource struct {
		typ  kafka.ResourceType
		name string
	}
	var rs []resource
	pattern := kafka.PatternTypeLiteral
	value := func(i *int) string {
		*i++
		if *i >= len(args) {
			t.Fatalf("deploy/kafka/init.sh: %s needs a value: %v", args[*i-1], args)
		}
		return args[*i]
	}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--allow-principal":
			principal = value(&i)
		case "--operation":
			var op kafka.ACLOperationType
			if err := op.UnmarshalText([]byte(value(&i))); err != nil || op == kafka.ACLOperationTypeUnknown {
				t.Fatalf("deploy/kafka/init.sh: operation %q: %v", args[i], err)
			}
			ops = append(ops, op)
		case "--topic":
			rs = append(rs, resource{kafka.ResourceTypeTopic, value(&i)})
		case "--group":
			rs = append(rs, resource{kafka.ResourceTypeGroup, value(&i)})
		case "--cluster":
			rs = append(rs, resource{kafka.ResourceTypeCluster, "kafka-cluster"})
		case "--resource-pattern-type":
			switch p := value(&i); p {
			case "prefixed":
				pattern = kafka.PatternTypePrefixed
			case "literal":
			default:
				t.Fatalf("deploy/kafka/init.sh: pattern type %q", p)
			}
		default:
			t.Fatalf("deploy/kafka/init.sh: acl flag %q not understood by itest.DeployACLs", args[i])
		}
	}
	if principal == "" || len(ops) == 0 || len(rs) == 0 {
		t.Fatalf("deploy/kafka/init.sh: acl without principal, operation or resource: %v", args)
	}
	var out []kafka.ACLEntry
	for _, r := range rs {
		for _, op := range ops {
			out = append(out, kafka.ACLEntry{ResourceType: r.typ, ResourceName: r.name, ResourcePatternType: pattern,
				Principal: principal, Host: "*", Operation: op, PermissionType: kafka.ACLPermissionTypeAllow})
		}
	}
	return out
}

// GrantACLs creates acls as admin (a super user's bus.Config) and deletes them when the
// test ends: ACLs live in the broker's metadata, beyond the test.
func GrantACLs(t testing.TB, admin bus.Config, acls []kafka.ACLEntry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := admin.Client().CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: acls})
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range resp.Errors {
		if err != nil {
			t.Fatalf("create ACL %+v: %v", acls[i], err)
		}
	}
	// The broker's authorizer applies ACLs once it replays them from the metadata log, a
	// moment after the controller has accepted them: wait until it lists them all.
	want := map[kafka.ACLEntry]bool{}
	for _, a := range acls {
		want[a] = true
	}
	Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		resp, err := admin.Client().DescribeACLs(ctx, &kafka.DescribeACLsRequest{Filter: kafka.ACLFilter{
			ResourceTypeFilter: kafka.ResourceTypeAny, ResourcePatternTypeFilter: kafka.PatternTypeAny,
			Operation: kafka.ACLOperationTypeAny, PermissionType: kafka.ACLPermissionTypeAny}})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return false, err.Error()
		}
		found := 0
		for _, r := range resp.Resources {
			for _, d := range r.ACLs {
				if want[kafka.ACLEntry{ResourceType: r.ResourceType, ResourceName: r.ResourceName, ResourcePatternType: r.PatternType,
					Principal: d.Principal, Host: d.Host, Operation: d.Operation, PermissionType: d.PermissionType}] {
					found++
				}
			}
		}
		return found == len(want), fmt.Sprintf("the broker applies %d of the %d ACLs granted", found, len(want))
	})
	t.Cleanup(func() {
		var fs []kafka.DeleteACLsFilter
		for _, a := range acls {
			fs = append(fs, kafka.DeleteACLsFilter{ResourceTypeFilter: a.ResourceType, ResourceNameFilter: a.ResourceName,
				ResourcePatternTypeFilter: a.ResourcePatternType, PrincipalFilter: a.Principal, HostFilter: a.Host,
				Operation: a.Operation, PermissionType: a.PermissionType})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := admin.Client().DeleteACLs(ctx, &kafka.DeleteACLsRequest{Filters: fs})
		if err != nil {
			t.Errorf("delete the test's ACLs: %v", err)
			return
		}
		for _, r := range resp.Results {
			if r.Error != nil {
				t.Errorf("delete the test's ACLs: %v", r.Error)
			}
		}
	})
}
