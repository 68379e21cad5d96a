package itest

import (
	"slices"
	"strings"
	"testing"
)

// The testcontainers path cannot run here (no Docker engine); its configuration can be
// checked: loopback only, ports apart from scripts/services', pinned current images.
func TestContainerSpecsListenOnLoopbackApartFromScriptsServices(t *testing.T) {
	kafka, ch := containerSpecs()
	servicesPorts := []string{"19000", "18123", "19092", "19093", "19094"}
	for _, s := range []containerSpec{kafka, ch} {
		if s.Name == "" || !strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest") {
			t.Errorf("%s: want a name and a pinned image, got %q", s.Name, s.Image)
		}
		if slices.Contains(servicesPorts, s.Port) {
			t.Errorf("%s listens on %s, a port of scripts/services", s.Name, s.Port)
		}
		all := strings.Join(s.Cmd, " ")
		for _, v := range s.Env {
			all += " " + v
		}
		for _, p := range servicesPorts {
			if strings.Contains(all, ":"+p) || strings.Contains(all, "="+p) {
				t.Errorf("%s is configured with port %s of scripts/services: %s", s.Name, p, all)
			}
		}
		if strings.Contains(all, "0.0.0.0") || strings.Contains(all, "::") {
			t.Errorf("%s listens beyond loopback: %s", s.Name, all)
		}
	}
	for _, k := range []string{"KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_QUORUM_VOTERS"} {
		if !strings.Contains(kafka.Env[k], "127.0.0.1:") {
			t.Errorf("Kafka %s = %q, want 127.0.0.1 only", k, kafka.Env[k])
		}
	}
	if !slices.Contains(ch.Cmd, "--listen_host=127.0.0.1") || !slices.Contains(ch.Cmd, "--tcp_port="+ch.Port) {
		t.Errorf("ClickHouse command %v: want loopback and its own native port", ch.Cmd)
	}
}

func TestServicesStartsContainersOnlyWhenAsked(t *testing.T) {
	t.Setenv("COP_TESTCONTAINERS", "")
	if useContainers() {
		t.Fatal("containers without COP_TESTCONTAINERS=1")
	}
	t.Setenv("COP_TESTCONTAINERS", "1")
	if !useContainers() {
		t.Fatal("COP_TESTCONTAINERS=1 ignored")
	}
}
