#!/usr/bin/env bash
# ui/test/run.sh — browser tests of the dashboard against a real `cop serve` on the real
# services. Needs COP_KAFKA and COP_CLICKHOUSE (scripts/services start; eval "$(scripts/services env)").
# Drives Debian's chromium through playwright-core; never downloads a browser.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TEST="$ROOT/ui/test"
log() { printf '[ui-test] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -n "${COP_KAFKA:-}" ]] || die "COP_KAFKA is not set: run scripts/services start && eval \"\$(scripts/services env)\""
[[ -n "${COP_CLICKHOUSE:-}" ]] || die "COP_CLICKHOUSE is not set: run scripts/services start && eval \"\$(scripts/services env)\""

if [[ ! -x /usr/bin/chromium ]]; then
	log "installing Debian's chromium"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null || die "node not found (apt-get install -y nodejs npm)"
if [[ ! -d "$TEST/node_modules/playwright-core" ]]; then
	log "installing playwright-core from ui/test/package-lock.json"
	(cd "$TEST" && npm ci --no-audit --no-fund --loglevel=error)
fi

WORK="$(mktemp -d)"
export COP_TEST_DIR="$WORK"
cleanup() {
	# Stop the server whichever way the tests ended (the tests restart it, so read the pid file).
	if [[ -f "$WORK/serve.pid" ]]; then
		local pid
		pid="$(cat "$WORK/serve.pid")"
		kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	if [[ -n "${KEEP_LOGS:-}" ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

log "building cop"
(cd "$ROOT" && go build -o "$WORK/cop" ./cmd/cop)
export COP_BIN="$WORK/cop"

RUN="$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export COP_TEST_RUN="$RUN"
entries=()
# token VAR ARGS… — creates an identity; its token goes to VAR, its entry to the file.
token() {
	local var=$1 tok entry
	shift
	tok="$("$COP_BIN" token create "$@" 2>"$WORK/entry")"
	entry="$(tail -n 1 "$WORK/entry")"
	entries+=("$entry")
	export "$var=$tok"
}
token COP_T_ADMIN --role admin --name "ui-test-admin-$RUN" --tlp-max RED
token COP_T_CERT --role contributor --name "ui-test-cert-$RUN"
token COP_T_MILCERT --role contributor --name "ui-test-milcert-$RUN" # military by the default escalation rules
token COP_T_ALTHEA --role commander --name "ui-test-althea-$RUN" --missions EUFOR-ALTHEA --tlp-max AMBER
token COP_T_ATALANTA --role commander --name "ui-test-atalanta-$RUN" --missions EUNAVFOR-ATALANTA --tlp-max AMBER
token COP_T_ANALYST --role analyst --name "ui-test-analyst-$RUN" --exercises CYDEF-X --tlp-max AMBER
token COP_T_LIAISON --role liaison --name "ui-test-liaison-$RUN" --tlp-max AMBER
token COP_T_ALTHEA_GREEN --role commander --name "ui-test-althea-green-$RUN" --missions EUFOR-ALTHEA --tlp-max GREEN
(IFS=,; printf '{"identities":[%s]}\n' "${entries[*]}") >"$WORK/identities.json"
export COP_IDENTITIES_FILE="$WORK/identities.json"

PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export COP_TEST_PORT="$PORT"
mkdir -p "$ROOT/.cop/artifacts"
export COP_ARTIFACTS="$ROOT/.cop/artifacts"

log "run $RUN: cop serve on 127.0.0.1:$PORT (kafka $COP_KAFKA, clickhouse $COP_CLICKHOUSE)"
node "$TEST/server.mjs" start

cd "$TEST"
# Every *.test.mjs (or those COP_UI_TESTS names), one at a time (they share the server and its picture).
node --test --test-concurrency=1 --test-reporter=spec ${COP_UI_TESTS:-*.test.mjs}
