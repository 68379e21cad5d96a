package itest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// With COP_TESTCONTAINERS=1 and a Docker engine, Services starts current ClickHouse and
// Apache Kafka images with testcontainers-go instead of expecting the ones scripts/services
// runs. Both run in the host's network namespace listening on 127.0.0.1 only, on ports of
// their own (so they never meet scripts/services'), and are reused by name, so every
// package's test binary of one `go test ./...` shares them. Where no Docker engine exists
// (COP's CI machines) this path is never taken.

// containerSpec is one service container.
type containerSpec struct {
	Name, Image string
	Env         map[string]string
	Cmd         []string
	// Port is what the container listens on (127.0.0.1), and what Services returns.
	Port string
}

// Pinned images: current releases when this was written; Kafka the release scripts/services runs.
const (
	clickhouseImage = "clickhouse/clickhouse-server:25.8"
	kafkaImage      = "apache/kafka:4.1.1"
	containerCH     = "29000"
	containerKafka  = "29092"
	containerCtrl   = "29093"
)

func containerSpecs() (kafka, clickhouse containerSpec) {
	kafka = containerSpec{Name: "cop-test-kafka", Image: kafkaImage, Port: containerKafka, Env: map[string]string{
		"KAFKA_NODE_ID":                                  "1",
		"KAFKA_PROCESS_ROLES":                            "broker,controller",
		"KAFKA_LISTENERS":                                "PLAINTEXT://127.0.0.1:" + containerKafka + ",CONTROLLER://127.0.0.1:" + containerCtrl,
		"KAFKA_ADVERTISED_LISTENERS":                     "PLAINTEXT://127.0.0.1:" + containerKafka,
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@127.0.0.1:" + containerCtrl,
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
		"KAFKA_MESSAGE_MAX_BYTES":                        "16777216", // as scripts/services: COP's writers batch up to 16 MiB
	}}
	clickhouse = containerSpec{Name: "cop-test-clickhouse", Image: clickhouseImage, Port: containerCH,
		Env: map[string]string{"CLICKHOUSE_SKIP_USER_SETUP": "1"},
		Cmd: []string{"--", "--listen_host=127.0.0.1", "--tcp_port=" + containerCH, "--http_port=28123",
			"--interserver_http_port=29009", "--mysql_port=0", "--postgresql_port=0"}}
	return kafka, clickhouse
}

var (
	containersOnce sync.Once
	containerAddrs [2]string
	errContainers  error
)

// containerServices starts (or finds) the two containers once per test binary.
func containerServices() (kafka, clickhouse string, err error) {
	containersOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		k, c := containerSpecs()
		for i, s := range []containerSpec{k, c} {
			if err := runContainer(ctx, s); err != nil {
				errContainers = fmt.Errorf("COP_TESTCONTAINERS=1: cannot start %s (%s): %w", s.Name, s.Image, err)
				return
			}
			containerAddrs[i] = "127.0.0.1:" + s.Port
		}
	})
	return containerAddrs[0], containerAddrs[1], errContainers
}

func runContainer(ctx context.Context, s containerSpec) error {
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithReuseByName(s.Name),
		testcontainers.WithEnv(s.Env),
		testcontainers.WithHostConfigModifier(func(h *container.HostConfig) { h.NetworkMode = "host" }),
		testcontainers.WithWaitStrategyAndDeadline(3*time.Minute, wait.ForListeningPort(s.Port+"/tcp")),
	}
	if len(s.Cmd) > 0 {
		opts = append(opts, testcontainers.WithCmd(s.Cmd...))
	}
	_, err := testcontainers.Run(ctx, s.Image, opts...)
	return err
}

// useContainers reports whether Services should start containers.
func useContainers() bool { return os.Getenv("COP_TESTCONTAINERS") == "1" }
