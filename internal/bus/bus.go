// Package bus owns COP's Kafka conventions: topic names, topic creation, and the reader and
// writer settings every stage uses (acks from all replicas, millisecond batching). It holds
// no business logic.
package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Config names the brokers, how many partitions new topics get, and the namespace that
// prefixes every topic and consumer group: "cop" gives DESIGN.md's cop.feed.<contributor>,
// cop.events, cop.picture and cop.deadletter. Tests use their own namespace so runs
// sharing one broker never see each other's traffic.
type Config struct {
	Brokers    []string
	Partitions int
	Namespace  string
	// ErrorLog, when set, receives kafka-go's internal errors (group joins, fetches).
	ErrorLog func(format string, args ...any)
	// TLS, when set, is used for every broker connection (internal/clienttls).
	TLS *tls.Config
}

// Dialer returns the dialer readers and admin connections use.
func (c Config) Dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: c.TLS}
}

// Client returns a client for requests outside readers and writers (offsets of a group).
func (c Config) Client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: 10 * time.Second, Transport: c.transport()}
}

func (c Config) transport() *kafka.Transport {
	return &kafka.Transport{DialTimeout: 10 * time.Second, TLS: c.TLS}
}

// NewPartitionReader returns a reader of one partition of topic, outside any group.
func NewPartitionReader(cfg Config, topic string, partition int) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: topic, Partition: partition, Dialer: cfg.Dialer(),
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: time.Second, ErrorLogger: errorLogger(cfg)})
}

func (c Config) ns() string {
	if c.Namespace == "" {
		return "cop"
	}
	return c.Namespace
}

// Events is the topic of normalised events, keyed by primary observable.
func (c Config) Events() string { return c.ns() + ".events" }

// Picture is the compacted topic of situation deltas, keyed by situation.
func (c Config) Picture() string { return c.ns() + ".picture" }

// Sequence is the one-partition topic of correlation batches when several correlator
// replicas run (correlate/pipeline's Sequencer and Replica): which cop.events offsets
// each batch holds, in order, and its time. It is kept forever: a new replica rebuilds
// its engine from it.
func (c Config) Sequence() string { return c.ns() + ".sequence" }

// DeadLetter is the topic of rejected messages.
func (c Config) DeadLetter() string { return c.ns() + ".deadletter" }

// FeedPrefix prefixes every contributor's feed topic.
func (c Config) FeedPrefix() string { return c.ns() + ".feed." }

// FeedTopic returns the feed topic of contributor.
func (c Config) FeedTopic(contributor string) string { return c.FeedPrefix() + contributor }

// Contributor returns the contributor a feed topic belongs to, or false.
func (c Config) Contributor(topic string) (string, bool) {
	name, ok := strings.CutPrefix(topic, c.FeedPrefix())
	return name, ok && name != ""
}

// Group returns the consumer group of a stage ("ingest", "correlate", ...).
func (c Config) Group(stage string) string { return c.ns() + "-" + stage }

// Brokers splits a comma-separated broker list.
func Brokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// EnsureTopics creates the topics that do not exist yet. cop.picture is compacted: it
// holds the latest delta per situation, so an API instance rebuilds the picture from it.
// Topics that exist are left alone, so a principal without the Create ACL (COP's stages
// on a cluster whose topics deploy/kafka/init.sh made) passes when they all exist.
func EnsureTopics(ctx context.Context, cfg Config, topics ...string) error {
	if len(topics) == 0 {
		return nil // a metadata request naming no topic would list them all
	}
	parts := cfg.Partitions
	if parts <= 0 {
		parts = 4
	}
	conn, err := dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	missing, err := missingTopics(ctx, cfg, topics)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	topics = missing
	ctrl, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("cannot find the Kafka controller: %w", err)
	}
	cc, err := cfg.Dialer().DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return fmt.Errorf("cannot reach the Kafka controller: %w", err)
	}
	defer cc.Close()
	var cfgs []kafka.TopicConfig
	for _, t := range topics {
		tc := kafka.TopicConfig{Topic: t, NumPartitions: parts, ReplicationFactor: 1}
		switch t {
		case cfg.Picture():
			tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
		case cfg.Sequence():
			// One total order, kept forever (offsets only: small).
			tc.NumPartitions = 1
			tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "-1"}}
		}
		cfgs = append(cfgs, tc)
	}
	if err := cc.CreateTopics(cfgs...); err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("cannot create topics %v: %w", topics, err)
	}
	// The controller answers before every broker's metadata has the new topics; a group
	// reader that starts in that gap is assigned no partitions and stays idle. Wait until
	// the metadata shows every topic with a leader for each partition.
	deadline := time.Now().Add(30 * time.Second)
	for _, t := range topics {
		for {
			parts, err := conn.ReadPartitions(t)
			if err == nil && len(parts) > 0 && leadersKnown(parts) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("topic %s created but not visible in metadata after 30 s: %v", t, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// missingTopics returns the topics the metadata does not show with partitions and leaders:
// those that do not exist, and those cfg's principal may not describe (creating those
// then fails on the ACLs, as it should). It asks without auto-creation: kafka.Conn's
// metadata requests would create a missing topic with the broker's defaults.
func missingTopics(ctx context.Context, cfg Config, topics []string) ([]string, error) {
	tr := cfg.transport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: tr}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("cannot read Kafka topic metadata: %w", err)
	}
	ok := map[string]bool{}
	for _, t := range md.Topics {
		ok[t.Name] = t.Error == nil && len(t.Partitions) > 0 && leadersKnown(t.Partitions)
	}
	var out []string
	for _, t := range topics {
		if !ok[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

func leadersKnown(parts []kafka.Partition) bool {
	for _, p := range parts {
		if p.Leader.Host == "" {
			return false
		}
	}
	return true
}

// ListTopics returns the topic names with prefix, sorted.
func ListTopics(ctx context.Context, cfg Config, prefix string) ([]string, error) {
	conn, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions()
	if err != nil {
		return nil, fmt.Errorf("cannot list Kafka topics: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range parts {
		if strings.HasPrefix(p.Topic, prefix) && !seen[p.Topic] {
			seen[p.Topic] = true
			out = append(out, p.Topic)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Partitions returns the partition ids of topic.
func Partitions(ctx context.Context, cfg Config, topic string) ([]int, error) {
	conn, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topic)
	if err != nil {
		return nil, fmt.Errorf("cannot read partitions of %s: %w", topic, err)
	}
	ids := make([]int, 0, len(parts))
	for _, p := range parts {
		ids = append(ids, p.ID)
	}
	sort.Ints(ids)
	return ids, nil
}

// NewWriter returns a writer for anything that must not be lost: acks from all in-sync
// replicas, batches flushed every few milliseconds, messages keyed by hash. Topic may be
// "" to set it per message.
func NewWriter(cfg Config, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           2 * time.Millisecond,
		BatchSize:              5000,
		BatchBytes:             16 << 20, // the brokers' message.max.bytes must allow it (scripts/services, the demo's kfake, deploy/)
		MaxAttempts:            10,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        2 * time.Second,
		AllowAutoTopicCreation: true,
		Transport:              cfg.transport(),
	}
}

// NewGroupReader returns a consumer-group reader over topics that starts at the oldest
// offset for a new group (so nothing produced before the first start is skipped).
func NewGroupReader(cfg Config, group string, topics ...string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:                cfg.Brokers,
		GroupID:                group,
		GroupTopics:            topics,
		Dialer:                 cfg.Dialer(),
		MinBytes:               1,
		MaxBytes:               16 << 20,
		MaxWait:                time.Second, // with MinBytes 1 the broker answers as soon as data arrives; a short MaxWait only adds timeouts
		StartOffset:            kafka.FirstOffset,
		CommitInterval:         0, // commits are explicit and synchronous
		HeartbeatInterval:      time.Second,
		SessionTimeout:         10 * time.Second,
		RebalanceTimeout:       10 * time.Second,
		JoinGroupBackoff:       500 * time.Millisecond,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
		QueueCapacity:          1000,
		ErrorLogger:            errorLogger(cfg),
	})
}

// FetchBatch fetches up to max messages: it blocks for the first, then takes what arrives
// within linger. The returned slice reuses buf.
func FetchBatch(ctx context.Context, r *kafka.Reader, buf []kafka.Message, max int, linger time.Duration) ([]kafka.Message, error) {
	buf = buf[:0]
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return buf, err
	}
	buf = append(buf, m)
	lctx, cancel := context.WithTimeout(ctx, linger)
	defer cancel()
	for len(buf) < max {
		m, err := r.FetchMessage(lctx)
		if err != nil {
			if ctx.Err() != nil {
				return buf, ctx.Err()
			}
			break
		}
		buf = append(buf, m)
	}
	return buf, nil
}

func errorLogger(cfg Config) kafka.Logger {
	if cfg.ErrorLog == nil {
		return nil
	}
	return kafka.LoggerFunc(cfg.ErrorLog)
}

// dial connects to the first broker for metadata and admin requests.
func dial(ctx context.Context, cfg Config) (*kafka.Conn, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("no Kafka brokers configured (set COP_KAFKA)")
	}
	conn, err := cfg.Dialer().DialContext(ctx, "tcp", cfg.Brokers[0])
	if err != nil {
		return nil, fmt.Errorf("cannot reach Kafka at %s: %w", cfg.Brokers[0], err)
	}
	return conn, nil
}

// Pause waits d, or less when ctx ends first: the backoff between retries of a Kafka or
// ClickHouse operation.
func Pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
