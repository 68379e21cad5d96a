#!/usr/bin/env bash
# kafka-init: creates COP's topics (replication 3, min.insync 2) and the ACLs, as the
# admin principal over mTLS. Run once per cluster and again whenever a contributor joins:
# each contributor may write its own feed topic only; COP reads and writes what its stages
# need. Topics exist before COP starts, so COP never creates one itself (internal/bus
# would create them with replication factor 1).
set -euo pipefail
BS=${BOOTSTRAP:-kafka-1:9093}
NS=${COP_NAMESPACE:-cop}
CFG=/tmp/admin.properties
cat >"$CFG" <<PROPS
security.protocol=SSL
ssl.keystore.type=PEM
ssl.keystore.location=/run/secrets/admin.pem
ssl.truststore.type=PEM
ssl.truststore.location=/run/secrets/ca.pem
PROPS
bin=/opt/kafka/bin
topic() { # name partitions [config...]
	local name=$1 parts=$2
	shift 2
	"$bin/kafka-topics.sh" --bootstrap-server "$BS" --command-config "$CFG" --create --if-not-exists \
		--topic "$name" --partitions "$parts" --replication-factor 3 --config min.insync.replicas=2 "$@"
}
acl() { "$bin/kafka-acls.sh" --bootstrap-server "$BS" --command-config "$CFG" --add --force "$@"; }

topic "$NS.events" "${EVENTS_PARTITIONS:-12}"
topic "$NS.picture" "${PICTURE_PARTITIONS:-6}" --config cleanup.policy=compact
topic "$NS.deadletter" 3
# The correlators' one order (README, "Scaling out"): one partition, kept forever.
topic "$NS.sequence" 1 --config retention.ms=-1
for c in ${CONTRIBUTORS:?set CONTRIBUTORS to the contributors\' names}; do
	topic "$NS.feed.$c" "${FEED_PARTITIONS:-6}"
	# A contributor writes its own feed and nothing else (no read, no other topic).
	acl --allow-principal "User:$c" --operation Write --operation Describe --topic "$NS.feed.$c"
done
# COP's stages, as principal "cop" (the client certificate of gen-certs, over mTLS on the
# SSL listener; the brokers have no other listener for clients).
# Write on the feeds too: `cop replay` injects exercise traffic under the contributors'
# names, from inside the cluster.
acl --allow-principal User:cop --operation Read --operation Write --operation Describe --topic "$NS.feed." --resource-pattern-type prefixed
acl --allow-principal User:cop --operation Read --operation Write --operation Describe \
	--topic "$NS.events" --topic "$NS.picture" --topic "$NS.deadletter" --topic "$NS.sequence"
acl --allow-principal User:cop --operation Read --group "$NS-" --resource-pattern-type prefixed
acl --allow-principal User:cop --operation Describe --operation DescribeConfigs --cluster
"$bin/kafka-acls.sh" --bootstrap-server "$BS" --command-config "$CFG" --list
