package bus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/itest"
)

// produce sends one message to partition 0 of topic straight to the broker at cfg's
// first address, as any client could, whatever the metadata shows: the broker's answer.
func produce(cfg bus.Config, topic, value string) error {
	conn, err := partitionConn(cfg, topic)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.WriteMessages(kafka.Message{Key: []byte("k"), Value: []byte(value)})
	return err
}

// fetch reads partition 0 of topic from its start, straight from the broker like produce.
func fetch(cfg bus.Config, topic string) ([]string, error) {
	conn, err := partitionConn(cfg, topic)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Seek(0, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		return nil, err
	}
	b := conn.ReadBatch(1, 1<<20)
	var out []string
	for {
		m, err := b.ReadMessage()
		if err != nil {
			break
		}
		out = append(out, string(m.Value))
	}
	return out, b.Close()
}

func partitionConn(cfg bus.Config, topic string) (*kafka.Conn, error) {
	host, port, err := net.SplitHostPort(cfg.Brokers[0])
	if err != nil {
		return nil, err
	}
	p, _ := strconv.Atoi(port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := cfg.Dialer().DialPartition(ctx, "tcp", "", kafka.Partition{Topic: topic, ID: 0, Leader: kafka.Broker{Host: host, Port: p, ID: 1}})
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn, nil
}

func wantAuthFailed(t *testing.T, err error, want kafka.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("got %v, want %s", err, want.Title())
	}
}

// TestAccessMatrixKafka is the Kafka column of the access matrix, on the real broker's SSL
// listener with deploy/kafka/init.sh's ACLs: a contributor writes its own feed topic and
// nothing else, reads nothing, joins no group and sees no other topic; COP's stages
// (principal cop) find their topics made, read the feeds in their group and write every
// topic they write; only mutual TLS 1.3 with a certificate of COP's CA gets in. Produce and
// fetch go straight to the broker, so a denial is the broker's, not the client's.
func TestAccessMatrixKafka(t *testing.T) {
	addr, certs := itest.KafkaSSL(t)
	ns := itest.Namespace(t)
	contributorA, contributorB := itest.SSLContributors[0], itest.SSLContributors[1]
	admin := itest.SSLConfig(t, addr, certs, "admin", ns)
	cop := itest.SSLConfig(t, addr, certs, "cop", ns)
	a := itest.SSLConfig(t, addr, certs, contributorA, ns)
	coptopics := []string{cop.Events(), cop.Picture(), cop.DeadLetter(), cop.Sequence()}
	feedA, feedB := cop.FeedTopic(contributorA), cop.FeedTopic(contributorB)
	if err := bus.EnsureTopics(context.Background(), admin, append([]string{feedA, feedB}, coptopics...)...); err != nil {
		t.Fatal(err)
	}
	itest.GrantACLs(t, admin, itest.DeployACLs(t, ns, itest.SSLContributors...))
	short := func(topic string) string { return strings.TrimPrefix(topic, ns+".") }

	t.Run("contributor/write_own_feed/allow", func(t *testing.T) {
		if err := produce(a, feedA, "from "+contributorA); err != nil {
			t.Fatal(err)
		}
	})
	for _, topic := range append([]string{feedB}, coptopics...) {
		t.Run("contributor/write_"+short(topic)+"/deny", func(t *testing.T) {
			wantAuthFailed(t, produce(a, topic, "forged"), kafka.TopicAuthorizationFailed)
		})
	}
	for _, topic := range []string{feedA, feedB, cop.Events(), cop.Picture()} {
		name := short(topic)
		if topic == feedA {
			name = "own_feed"
		}
		t.Run("contributor/read_"+name+"/deny", func(t *testing.T) {
			_, err := fetch(a, topic)
			wantAuthFailed(t, err, kafka.TopicAuthorizationFailed)
		})
	}
	t.Run("contributor/create_topic/deny", func(t *testing.T) {
		wantAuthFailed(t, bus.EnsureTopics(context.Background(), a, a.FeedTopic(contributorA+"-2")), kafka.TopicAuthorizationFailed)
	})
	t.Run("contributor/see_other_topics/deny", func(t *testing.T) {
		got, err := bus.ListTopics(context.Background(), a, ns+".")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{feedA}) {
			t.Errorf("%s sees topics %v, want only its own feed %s", contributorA, got, feedA)
		}
	})
	t.Run("contributor/join_cop_group/deny", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := a.Client().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: a.Group("ingest"), Topics: map[string][]int{feedA: {0}}})
		if err == nil {
			err = resp.Error
		}
		wantAuthFailed(t, err, kafka.GroupAuthorizationFailed)
	})

	t.Run("cop/ensure_existing_topics/allow", func(t *testing.T) {
		if err := bus.EnsureTopics(context.Background(), cop, append([]string{feedA}, coptopics...)...); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cop/create_topic/deny", func(t *testing.T) {
		wantAuthFailed(t, bus.EnsureTopics(context.Background(), cop, ns+".other"), kafka.TopicAuthorizationFailed)
	})
	t.Run("cop/read_feeds_in_group/allow", func(t *testing.T) {
		r := bus.NewGroupReader(cop, cop.Group("ingest"), feedA, feedB)
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Topic != feedA || string(m.Value) != "from "+contributorA {
			t.Errorf("read %s %q, want %s's message on %s", m.Topic, m.Value, contributorA, feedA)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Errorf("commit: %v", err)
		}
	})
	for _, topic := range append([]string{feedB}, coptopics...) {
		t.Run("cop/write_"+short(topic)+"/allow", func(t *testing.T) {
			w := bus.NewWriter(cop, topic)
			defer w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("cop")}); err != nil {
				t.Fatal(err)
			}
			if _, err := fetch(cop, topic); err != nil {
				t.Errorf("read back: %v", err)
			}
		})
	}

	// Transport: the listener takes nothing but mutual TLS 1.3 with a certificate of its CA.
	deny := func(t *testing.T, cfg bus.Config) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if got, err := bus.ListTopics(ctx, cfg, ns+"."); err == nil {
			t.Errorf("connected and listed %v", got)
		}
	}
	t.Run("tls/plaintext_client/deny", func(t *testing.T) {
		deny(t, bus.Config{Brokers: []string{addr}, Namespace: ns})
	})
	t.Run("tls/no_client_certificate/deny", func(t *testing.T) {
		c := a
		c.TLS = a.TLS.Clone()
		c.TLS.Certificates = nil
		deny(t, c)
	})
	t.Run("tls/tls12/deny", func(t *testing.T) {
		c := admin
		c.TLS = admin.TLS.Clone()
		c.TLS.MaxVersion = tls.VersionTLS12
		deny(t, c)
	})
	t.Run("tls/admin_certificate_of_another_ca/deny", func(t *testing.T) {
		c := admin
		c.TLS = admin.TLS.Clone()
		c.TLS.Certificates = []tls.Certificate{selfSigned(t, "admin")}
		deny(t, c)
	})
}

// selfSigned is a client certificate for cn that no CA signed.
func selfSigned(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
