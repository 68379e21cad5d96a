package main

import (
	"crypto/tls"
	"flag"
	"os"

	"github.com/cidcc/cop/internal/clienttls"
	"github.com/cidcc/cop/internal/store"
)

// backendAuth is how a stage authenticates to Kafka and ClickHouse: TLS (mutual with a
// client certificate) and the ClickHouse user. Empty: plaintext, ClickHouse's default user,
// as the services scripts/services starts on 127.0.0.1.
type backendAuth struct {
	KafkaCA, KafkaCert, KafkaKey string
	CHCA, CHCert, CHKey, CHUser  string
	// CHDatabase is the database COP's tables live in.
	CHDatabase string
}

func (b *backendAuth) flags(fs *flag.FlagSet) {
	fs.StringVar(&b.KafkaCA, "kafka-tls-ca", env("COP_KAFKA_TLS_CA", ""), "CA (PEM) of the Kafka brokers' certificates: connect over TLS")
	fs.StringVar(&b.KafkaCert, "kafka-tls-cert", env("COP_KAFKA_TLS_CERT", ""), "client certificate (PEM) for Kafka: mutual TLS, the ACLs' principal")
	fs.StringVar(&b.KafkaKey, "kafka-tls-key", env("COP_KAFKA_TLS_KEY", ""), "its private key (PEM)")
	fs.StringVar(&b.CHCA, "clickhouse-tls-ca", env("COP_CLICKHOUSE_TLS_CA", ""), "CA (PEM) of ClickHouse's certificate: connect over TLS (its secure native port)")
	fs.StringVar(&b.CHCert, "clickhouse-tls-cert", env("COP_CLICKHOUSE_TLS_CERT", ""), "client certificate (PEM) for ClickHouse")
	fs.StringVar(&b.CHKey, "clickhouse-tls-key", env("COP_CLICKHOUSE_TLS_KEY", ""), "its private key (PEM)")
	fs.StringVar(&b.CHDatabase, "clickhouse-database", env("COP_CH_DATABASE", store.Database), "ClickHouse database of COP's tables (make test uses cop_test, so tests never write into the demo's)")
	fs.StringVar(&b.CHUser, "clickhouse-user", env("COP_CLICKHOUSE_USER", ""), "ClickHouse user (default \"default\"); the password only from COP_CLICKHOUSE_PASSWORD")
}

func (b backendAuth) kafkaTLS() (*tls.Config, error) {
	return clienttls.Load(b.KafkaCA, b.KafkaCert, b.KafkaKey)
}

func (b backendAuth) clickhouse() (store.Options, error) {
	t, err := clienttls.Load(b.CHCA, b.CHCert, b.CHKey)
	return store.Options{TLS: t, User: b.CHUser, Password: os.Getenv("COP_CLICKHOUSE_PASSWORD"), Database: b.CHDatabase}, err
}
