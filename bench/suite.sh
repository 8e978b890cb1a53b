#!/usr/bin/env bash
# suite.sh — the side-by-side benchmark suite: enmasse against Mosquitto,
# RabbitMQ, NATS, ActiveMQ and the Qpid Proton C example broker, every
# server driven by the same load tool (enmasse bench), several interleaved
# rounds; writes a markdown table of medians and ratios (enmasse ÷ peer),
# each server's CPU seconds and peak RSS, into docs/benchmarks.md.
#
#   bench/suite.sh            # or: make bench-suite
#
# What it does, all on loopback:
#   1. builds bin/enmasse (make build), raises ulimit -n to the hard limit;
#   2. bench/peers.sh up: installs what is missing from Debian packages and
#      starts the peers on free ports (those it started are stopped at the end);
#   3. starts enmasse serve (AMQP and MQTT, a fresh data dir);
#   4. idle connections: IDLE (10,000) AMQP and MQTT connections per server,
#      its RSS before and after (fresh servers, before any load);
#   5. fill-then-drain of FILL (1,000,000) messages on an AMQP queue, once per
#      AMQP server, each half bounded by FILL_LIMIT seconds;
#      then an MQTT fill-then-drain through persistent sessions (QoS 1);
#   6. ROUNDS rounds of every scenario against every server (order rotated
#      per round), each run bounded by --time-limit LIMIT and timeout(1), plus
#      the plain TCP relay (this machine's ceiling);
#   7. bench/report.py turns the results into the table, which replaces the
#      part of docs/benchmarks.md between the suite markers (DOC=... elsewhere,
#      DOC= to print only).
#
# Bounds: ROUNDS (default 3), COUNT (messages per throughput run, 40,000),
# MQTT_FILL (persistent-session fill-then-drain, QoS 1, 100,000),
# LAT_COUNT (messages at 1,000 msg/s, 2,000), LIMIT (seconds per run, 6),
# FILL (1,000,000), FILL_LIMIT (25), IDLE (10,000), BUDGET (780: no run
# starts after this many seconds; the table says how many rounds ran, so the
# whole suite ends within 15 minutes). SCENARIOS (a regex) and PEERS (names) select.
# KEEP=1 keeps the work directory; KEEP_PEERS=1 leaves the peers running.
# Every run has the machine to itself and its server: the other servers
# are paused (SIGSTOP) meanwhile and resumed after (ALONE= keeps them
# running).
# PIN=1 pins every server (all its threads) to CPU 0 and every bench run to
# CPU 1 (taskset), as if each had a one-core machine of its own instead of
# sharing both cores with the load generator; MARK names the markers the
# table goes between (default suite, `<!-- suite:begin -->`).
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
ROUNDS=${ROUNDS:-3}
COUNT=${COUNT:-40000}
LAT_COUNT=${LAT_COUNT:-2000}
LIMIT=${LIMIT:-6}
FILL=${FILL:-1000000}
FILL_LIMIT=${FILL_LIMIT:-25}
MQTT_FILL=${MQTT_FILL:-100000}
IDLE=${IDLE:-10000}
BUDGET=${BUDGET:-780}
SCENARIOS=${SCENARIOS:-.}
PEERS=${PEERS:-mosquitto rabbitmq nats activemq proton}
DOC=${DOC-docs/benchmarks.md}
PIN=${PIN:-}
MARK=${MARK:-suite}
ALONE=${ALONE-1}
export ENMASSE_PEERS_DIR=${ENMASSE_PEERS_DIR:-/tmp/enmasse-peers}
RUN_ID=$(date +%s)-$$ # fresh queue and topic names: peers keep state across runs
OUT=$(mktemp -d /tmp/enmasse-suite.XXXXXX)
RESULTS=$OUT/results
: >"$RESULTS"
SERVE_PID=
SKIPPED=0 # runs not started because BUDGET was spent
STARTED_PEERS=()
log() { echo "[suite $(($(date +%s) - T0))s] $*" >&2; }

cleanup() {
  declare -F together >/dev/null && together
  [ -z "$SERVE_PID" ] || { kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; }
  if [ ${#STARTED_PEERS[@]} -gt 0 ] && [ -z "${KEEP_PEERS:-}" ]; then bench/peers.sh down "${STARTED_PEERS[@]}" >/dev/null || true; fi
  [ -n "${KEEP:-}" ] && log "work directory kept: $OUT" || rm -rf "$OUT"
}
trap cleanup EXIT

# 10,000 idle connections need as many descriptors in every server and in
# the load generator; the peers inherit the limit from here.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((IDLE + 500)) ] || log "ulimit -n is $(ulimit -n): fewer than IDLE=$IDLE connections may open"

log "building"
make -s build >/dev/null
BIN=./bin/enmasse
BENCH=("$BIN")
if [ -n "$PIN" ]; then
  [ "$(nproc)" -ge 2 ] || { log "PIN=1 needs two CPUs"; exit 1; }
  BENCH=(taskset -c 1 "$BIN")
fi
# pin PID: with PIN, moves every thread of the server PID to CPU 0.
# Servers start pinned (enmasse serve below, the peers through
# bench/peers.sh), so that Go's GOMAXPROCS, Erlang's schedulers and the
# JVM's thread pools see one CPU; pin also moves a peer left running by an
# earlier run (KEEP_PEERS=1), which was not.
# Peers kept running by an earlier run (KEEP_PEERS=1) keep the pinning
# they started with: stop them (bench/peers.sh down) when switching PIN.
pin() { [ -z "$PIN" ] || taskset -a -p -c 0 "$1" >/dev/null; }
SERVE=("$BIN")
[ -z "$PIN" ] || SERVE=(taskset -c 0 "$BIN")
export PIN

# Peers: those not running yet are started (and stopped at the end).
for p in $PEERS; do
  if ! [ -s "$ENMASSE_PEERS_DIR/$p/pid" ] || ! kill -0 "$(cat "$ENMASSE_PEERS_DIR/$p/pid")" 2>/dev/null; then STARTED_PEERS+=("$p"); fi
done
log "peers up: $PEERS"
# shellcheck disable=SC2086
bench/peers.sh up $PEERS >/dev/null
# shellcheck disable=SC1091
. "$ENMASSE_PEERS_DIR/peers.env"

# enmasse serve with a router address for the anycast scenario.
cat >"$OUT/serve.yaml" <<'YAML'
resources:
- apiVersion: enmasse.io/v1beta1
  kind: Address
  metadata: {name: default.direct}
  spec: {address: direct, type: anycast, plan: standard-small-anycast}
YAML
"${SERVE[@]}" serve --config "$OUT/serve.yaml" --amqp 127.0.0.1:0 --mqtt 127.0.0.1:0 --http "" --data-dir "$OUT/data" >"$OUT/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do grep -q 'msg=ready' "$OUT/serve.log" 2>/dev/null && break; sleep 0.1; done
E_AMQP=$(grep -o 'proto=amqp addr=[^ ]*' "$OUT/serve.log" | head -1 | sed 's/.*addr=//')
E_MQTT=$(grep -o 'proto=mqtt addr=[^ ]*' "$OUT/serve.log" | head -1 | sed 's/.*addr=//')
[ -n "$E_AMQP" ] && [ -n "$E_MQTT" ] || { cat "$OUT/serve.log" >&2; log "enmasse serve did not start"; exit 1; }

# Targets: NAME PROTOCOL ADDR PID MQTT-VERSION. MQTT peers are driven by
# enmasse bench's own 3.1.1 client, and compared with enmasse driven the
# same way (enmasse-311); those that speak MQTT 5 (Mosquitto) also with
# paho.golang (enmasse-5). paho's subscriber takes more CPU per message
# than either server, so its QoS 0 row measures paho about as much as the
# server.
peer() { eval echo "\${PEER_$(echo "$1" | tr a-z A-Z)_$2:-}"; }
TARGETS=("enmasse amqp $E_AMQP $SERVE_PID -" "enmasse-5 mqtt $E_MQTT $SERVE_PID 5" "enmasse-311 mqtt $E_MQTT $SERVE_PID 311")
for p in $PEERS; do
  pid=$(peer "$p" PID)
  [ -n "$pid" ] || { log "peer $p did not start; left out"; continue; }
  pin "$pid" || log "peer $p: could not pin pid $pid"
  [ -z "$(peer "$p" AMQP)" ] || TARGETS+=("$p amqp $(peer "$p" AMQP) $pid -")
  [ -n "$(peer "$p" MQTT)" ] || continue
  vers=$(peer "$p" MQTT_VERSION)
  for v in ${vers//,/ }; do
    TARGETS+=("$p-$v mqtt $(peer "$p" MQTT) $pid $v")
  done
done

# settle PID: wait (at most 60 s) until the process uses less than a fifth
# of a core, e.g. until a server has finished closing 10,000 connections
# (RabbitMQ takes tens of seconds and answers nothing meanwhile).
settle() {
  local i t0 t1 hz; hz=$(getconf CLK_TCK)
  for i in $(seq 60); do
    t0=$(cpu_ticks "$1"); sleep 1; t1=$(cpu_ticks "$1")
    [ $((t1 - t0)) -ge $((hz / 5)) ] || return 0
  done
  log "pid $1 still busy after 60 s"
}
cpu_ticks() { [ -r "/proc/$1/stat" ] && awk '{print $14+$15}' "/proc/$1/stat" || echo 0; }
status_kb() { [ -r "/proc/$1/status" ] && awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status" || echo 0; }
record() { echo "$*" >>"$RESULTS"; } # PHASE TARGET SCENARIO ROUND CPU-TICKS JSON

# One bench run: TARGET-LINE SCENARIO ROUND ARGS...; records the result.
run() {
  local tline=$1 sc=$2 round=$3; shift 3
  if [ "$(($(date +%s) - T0))" -ge "$BUDGET" ]; then SKIPPED=$((SKIPPED + 1)); return 0; fi
  local name proto addr pid ver
  read -r name proto addr pid ver <<<"$tline"
  local extra=()
  [ "$proto" = mqtt ] && extra+=(--protocol mqtt)
  [ "$ver" = 311 ] && extra+=(--mqtt-version 311)
  local before after res
  alone "$pid"
  before=$(cpu_ticks "$pid")
  res=$(timeout $((LIMIT * 2 + 30)) "${BENCH[@]}" bench --url "$addr" "${extra[@]}" "$@" --json 2>>"$OUT/bench.err" | tail -1) || true
  after=$(cpu_ticks "$pid")
  together
  [ -n "$res" ] || res='{"failed": true}'
  record load "$name" "$sc" "$round" $((after - before)) "$res"
}

# Address (queue or topic) per target and scenario.
address() { # NAME SCENARIO ROUND
  case "$1:$2" in
    enmasse:amqp-anycast*) echo direct ;;
    rabbitmq:amqp-*) echo "/queue/s-$RUN_ID-$2-$3" ;;
    *:amqp-*) echo "s-$RUN_ID-$2-$3" ;;
    *) echo "bench/$RUN_ID/$1/$2/$3" ;; # per target: mosquitto-5 and -311 share a server
  esac
}

# Scenarios: NAME PROTOCOL ARGS (the address is added per target).
SCEN=(
  "amqp-anycast-1x1|amqp|--count $COUNT"
  "amqp-queue-1x1|amqp|--count $COUNT"
  "amqp-queue-1x1-durable|amqp|--count $COUNT --durable"
  "amqp-latency-1000|amqp|--count $LAT_COUNT --rate 1000"
  "mqtt-qos0-1x1|mqtt|--qos 0 --count $COUNT"
  "mqtt-qos1-1x1|mqtt|--qos 1 --count $COUNT"
  "mqtt-qos2-1x1|mqtt|--qos 2 --count $((COUNT / 2))"
  "mqtt-qos0-1x10|mqtt|--qos 0 --consumers 10 --count $((COUNT / 10)) --rate 20000"
  "mqtt-latency-1000|mqtt|--qos 1 --count $LAT_COUNT --rate 1000"
)
# Pairs a peer cannot run: NAME:SCENARIO, with the reason for the table.
declare -A NA=(
  ["nats-311:mqtt-qos2-1x1"]="NATS 2.9 closes the connection on a QoS 2 PUBLISH"
  ["mosquitto-311:mqtt-qos2-1x1"]="Mosquitto 2.0 silently drops QoS 2 PUBLISHes beyond its max_inflight_messages (20) unfinished ones, and MQTT 3.1.1 has no receive maximum to tell the client so: with the bench's window of 1,000 it forwards a few dozen per run (with --window 20 it loses none); the -5 column has the row"
)

servers_pids() { for t in "${TARGETS[@]}"; do read -r n _ _ pid _ <<<"$t"; echo "${n%-*} $pid"; done | sort -u -k2,2; }

# alone PID: with ALONE (the default), every other server is paused
# (SIGSTOP) while PID is measured (0: all of them, for the relay), so no
# idle server's background threads (a JVM's, Erlang's busy-waiting
# schedulers) share the cores with the one measured; together resumes
# them (SIGCONT), also on exit.
PAUSED=()
alone() {
  [ -n "$ALONE" ] || return 0
  local n p
  while read -r n p; do
    [ "$p" = "$1" ] && continue
    kill -STOP "$p" 2>/dev/null && PAUSED+=("$p") || true # a dead peer is left out
  done < <(servers_pids)
}
together() {
  local p
  for p in "${PAUSED[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
  PAUSED=()
}

# 4. Idle connections, on servers that have carried no load yet.
if [[ "idle" =~ $SCENARIOS ]] && [ "$IDLE" -gt 0 ]; then
  declare -A idled=() # servers whose MQTT row is done
  for t in "${TARGETS[@]}"; do
    read -r name proto addr pid ver <<<"$t"
    [ "$proto" = mqtt ] && [ -n "${idled[${name%-*}]:-}" ] && continue # one per server
    [ "$name" = enmasse-5 ] && continue # one MQTT row for enmasse
    [ "$proto" = mqtt ] && idled[${name%-*}]=1
    [ "$(($(date +%s) - T0))" -lt "$BUDGET" ] || { log "budget spent: idle $name skipped"; continue; }
    fresh=
    if [ "$name" = enmasse-311 ]; then
      # The AMQP row's 10,000 connections have just closed in the same
      # serve, whose RSS then falls while Go returns their memory: the
      # MQTT row gets a fresh serve of its own, as every peer's row has.
      "${SERVE[@]}" serve --amqp "" --mqtt 127.0.0.1:0 --http "" --data-dir "$OUT/data-idle" >"$OUT/serve-idle.log" 2>&1 &
      fresh=$!
      for _ in $(seq 100); do grep -q 'msg=ready' "$OUT/serve-idle.log" 2>/dev/null && break; sleep 0.1; done
      addr=$(grep -o 'proto=mqtt addr=[^ ]*' "$OUT/serve-idle.log" | head -1 | sed 's/.*addr=//') pid=$fresh
    fi
    log "idle: $IDLE $proto connections to $name"
    alone "$pid"
    res=$(timeout 110 "${BENCH[@]}" bench --protocol "$proto" --url "$addr" --idle-conns "$IDLE" --server-pid "$pid" \
      --idle-hold 1s --time-limit 75s --json 2>>"$OUT/bench.err" | tail -1) || res='{"failed": true}'
    together
    [ -n "$res" ] || res='{"failed": true}'
    record idle "${name%-*}" "idle-$proto" 0 0 "$res"
    if [ -n "$fresh" ]; then
      kill "$fresh"
      wait "$fresh" 2>/dev/null
    else
      settle "$pid"
    fi
  done
fi

# The load phase: CPU from here on, peak RSS from here on (VmHWM reset:
# Linux ≥ 4.0, clear_refs 5; without it the peak covers the idle phase too).
declare -A CPU0
hwm_reset=1
while read -r n pid; do
  CPU0[$pid]=$(cpu_ticks "$pid")
  echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || hwm_reset=0
done < <(servers_pids)

# 5. Fill-then-drain of FILL messages, once per AMQP server.
if [[ "amqp-fill-drain" =~ $SCENARIOS ]]; then
  for t in "${TARGETS[@]}"; do
    read -r name proto addr pid ver <<<"$t"
    [ "$proto" = amqp ] || continue
    [ "$(($(date +%s) - T0))" -lt "$BUDGET" ] || { log "budget spent: fill-drain $name skipped"; continue; }
    q=$(address "$name" amqp-backlog 0)
    log "fill-drain: $FILL messages, $name"
    alone "$pid"
    before=$(cpu_ticks "$pid")
    res=$(timeout $((FILL_LIMIT + 60)) "${BENCH[@]}" bench --url "$addr" --address "$q" --count "$FILL" --consumers 0 \
      --time-limit "${FILL_LIMIT}s" --json 2>>"$OUT/bench.err" | tail -1) || res='{"failed": true}'
    after=$(cpu_ticks "$pid")
    record load "$name" amqp-fill 0 $((after - before)) "$res"
    record rss "$name" amqp-fill-rss 0 0 "{\"rss_kb\": $(status_kb "$pid" VmRSS)}"
    filled=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(max(r.get("sent",0)-r.get("errors",0),0))' "$res")
    if [ "$filled" -gt 0 ]; then
      before=$(cpu_ticks "$pid")
      res=$(timeout $((FILL_LIMIT + 60)) "${BENCH[@]}" bench --url "$addr" --address "$q" --count "$filled" --drain-only \
        --drain 5s --time-limit "${FILL_LIMIT}s" --json 2>>"$OUT/bench.err" | tail -1) || res='{"failed": true}'
      after=$(cpu_ticks "$pid")
      record load "$name" amqp-drain 0 $((after - before)) "$res"
    fi
    together
  done
fi

# 5b. MQTT fill-then-drain through persistent sessions (QoS 1, MQTT_FILL
# messages, each half bounded by FILL_LIMIT/2): enmasse first; the peers
# only when enmasse kept the sessions, since there is nothing to compare
# otherwise.
if [[ "mqtt-backlog" =~ $SCENARIOS ]]; then
  for t in "${TARGETS[@]}"; do
    read -r name proto addr pid ver <<<"$t"
    [ "$proto" = mqtt ] && [ "$name" != enmasse-5 ] || continue
    [ "$(($(date +%s) - T0))" -lt "$BUDGET" ] || { log "budget spent: mqtt-backlog $name skipped"; continue; }
    log "mqtt-backlog: $MQTT_FILL messages, $name"
    run "$t" mqtt-backlog 0 --address "$(address "$name" mqtt-backlog 0)" --qos 1 --backlog --count "$MQTT_FILL" \
      --drain 3s --time-limit "$((FILL_LIMIT / 2))s" --quiet
    if [ "$name" = enmasse-311 ] && tail -1 "$RESULTS" | grep -q '"sessions_lost"'; then
      log "enmasse kept no MQTT session: mqtt-backlog not run on the peers"
      record na enmasse-311 mqtt-backlog 0 0 '{"reason": "enmasse serve kept no MQTT session across the reconnect (persistent sessions not in this build)"}'
      break
    fi
  done
fi

# 6. Rounds.
rounds_done=0
for round in $(seq "$ROUNDS"); do
  if [ "$(($(date +%s) - T0))" -ge "$BUDGET" ]; then log "budget of $BUDGET s spent: stopping after $rounds_done rounds"; break; fi
  log "round $round of $ROUNDS"
  # Rotate the server order each round, so no server always runs first.
  n=${#TARGETS[@]}
  order=()
  for i in $(seq 0 $((n - 1))); do order+=("${TARGETS[$(((i + round - 1) % n))]}"); done
  for s in "${SCEN[@]}"; do
    IFS='|' read -r sc sproto args <<<"$s"
    [[ "$sc" =~ $SCENARIOS ]] || continue
    for t in "${order[@]}"; do
      read -r name proto _ _ _ <<<"$t"
      [ "$proto" = "$sproto" ] || continue
      [ -z "${NA[$name:$sc]:-}" ] || continue
      # shellcheck disable=SC2086
      run "$t" "$sc" "$round" --address "$(address "$name" "$sc" "$round")" --drain 2s --time-limit "${LIMIT}s" --quiet $args
    done
  done
  alone 0
  record load relay relay "$round" 0 "$("${BENCH[@]}" bench --relay --count 1000000 --json)"
  together
  [ "$SKIPPED" -gt 0 ] || rounds_done=$round
done

# Totals per server over the load phase.
while read -r n pid; do
  record total "$n" cpu 0 0 "{\"cpu_ticks\": $(($(cpu_ticks "$pid") - ${CPU0[$pid]})), \"peak_rss_kb\": $(status_kb "$pid" VmHWM), \"hwm_reset\": $hwm_reset}"
done < <(servers_pids)
for k in "${!NA[@]}"; do record na "${k%%:*}" "${k#*:}" 0 0 "{\"reason\": \"${NA[$k]}\"}"; done

# 7. The report.
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
cat >"$OUT/meta.json" <<EOF
{
  "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
  "seconds": $(($(date +%s) - T0)),
  "pinned": $([ -n "$PIN" ] && echo true || echo false),
  "alone": $([ -n "$ALONE" ] && echo true || echo false),
  "command": "$([ -n "$PIN" ] && echo "PIN=1 ")$([ -z "$ALONE" ] && echo "ALONE= ")$([ "$MARK" != suite ] && echo "MARK=$MARK ")$([ "$PEERS" != "mosquitto rabbitmq nats activemq proton" ] && echo "PEERS='$PEERS' ")$([ "$SCENARIOS" != . ] && echo "SCENARIOS='$SCENARIOS' ")ROUNDS=$ROUNDS COUNT=$COUNT LAT_COUNT=$LAT_COUNT LIMIT=$LIMIT FILL=$FILL FILL_LIMIT=$FILL_LIMIT MQTT_FILL=$MQTT_FILL IDLE=$IDLE bench/suite.sh",
  "rounds": $ROUNDS, "rounds_done": $rounds_done, "skipped": $SKIPPED, "count": $COUNT, "lat_count": $LAT_COUNT, "limit": $LIMIT,
  "fill": $FILL, "fill_limit": $FILL_LIMIT, "idle": $IDLE, "mqtt_fill": $MQTT_FILL,
  "cpu": "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) × $(nproc)",
  "mem": "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)",
  "os": "Debian $(cat /etc/debian_version), Linux $(uname -r)",
  "loadavg_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "enmasse": "$($BIN version 2>/dev/null | head -1 | sed 's/^enmasse //')",
  "go": "$(go env GOVERSION)",
  "versions": {"mosquitto": "$(ver mosquitto)", "rabbitmq": "$(ver rabbitmq-server) (Erlang $(ver erlang-base))",
    "nats": "$(ver nats-server)", "activemq": "$(ver activemq) ($(java -version 2>&1 | head -1 | tr -d '"'))",
    "proton": "$(ver libqpid-proton11-dev-examples)"}
}
EOF
python3 bench/report.py "$RESULTS" "$OUT/meta.json" "$(getconf CLK_TCK)" >"$OUT/table.md"
if [ -n "$DOC" ]; then
  python3 - "$DOC" "$OUT/table.md" "$MARK" <<'PY'
import sys
doc, table, mark = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
begin, end = "<!-- %s:begin -->" % mark, "<!-- %s:end -->" % mark
text = open(doc).read()
if begin in text and end in text:
    text = text[:text.index(begin) + len(begin)] + "\n" + table + text[text.index(end):]
else:
    text = text.rstrip("\n") + "\n\n" + begin + "\n" + table + end + "\n"
open(doc, "w").write(text)
PY
  log "table written into $DOC"
fi
cat "$OUT/table.md"
log "done in $(($(date +%s) - T0)) s"
