#!/usr/bin/env bash
# mqtt-compare.sh — enmasse's MQTT listener against other MQTT servers with
# the same load tool (enmasse bench --protocol mqtt), several interleaved
# rounds, medians and ratios.
#
#   bench/peers.sh up            # optional: Mosquitto, RabbitMQ, NATS, ActiveMQ
#   bench/mqtt-compare.sh        # enmasse serve + every peer in peers.env
#
# Peers come from $ENMASSE_PEERS_DIR/peers.env (written by bench/peers.sh;
# default /tmp/enmasse-peers). A peer that speaks only MQTT 3.1.1 is run
# with --mqtt-version 311 when enmasse bench has it, else skipped.
#
# Bounds: ROUNDS (default 3), COUNT (messages per throughput run, default
# 100000), LAT_COUNT (messages of the 1,000 msg/s latency run, default
# 5000), TIMEOUT (seconds per run, default 120). Loopback only. Prints a
# markdown table: median received msg/s (deliveries for fan-out) with the
# server's CPU seconds per 100k deliveries, p50/p99 at 1,000 msg/s,
# enmasse ÷ peer (enmasse driven with the same MQTT version and client as
# the peer), and each server's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
COUNT=${COUNT:-100000}
LAT_COUNT=${LAT_COUNT:-5000}
TIMEOUT=${TIMEOUT:-120}
PEERS_ENV=${ENMASSE_PEERS_DIR:-/tmp/enmasse-peers}/peers.env
RUN_ID=$(date +%s)-$$
OUT=$(mktemp -d)
SERVE_PID=
trap '[ -z "$SERVE_PID" ] || kill "$SERVE_PID" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT

go build -o bin/enmasse ./cmd/enmasse
./bin/enmasse serve --amqp "" --http 127.0.0.1:0 --mqtt 127.0.0.1:0 --data-dir "$OUT/data" >"$OUT/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 50); do grep -q 'proto=mqtt' "$OUT/serve.log" 2>/dev/null && break; sleep 0.1; done
ENMASSE=$(grep -o 'proto=mqtt addr=[^ ]*' "$OUT/serve.log" | sed 's/.*addr=//' | head -1)
[ -n "$ENMASSE" ] || { echo "enmasse serve did not start" >&2; cat "$OUT/serve.log" >&2; exit 1; }

has311=
./bin/enmasse bench --help 2>&1 | grep -q -- '-mqtt-version' && has311=1
# Server names end in the MQTT version they are driven with (-5: paho.golang,
# -311: enmasse bench's own 3.1.1 client): the two clients differ in cost,
# so each peer is compared with enmasse driven the same way.
servers=("enmasse-5=$ENMASSE=$SERVE_PID=5")
[ -n "$has311" ] && servers+=("enmasse-311=$ENMASSE=$SERVE_PID=311")
if [ -s "$PEERS_ENV" ]; then
  . "$PEERS_ENV"
  for p in mosquitto rabbitmq nats activemq; do
    up=$(echo "$p" | tr a-z A-Z)
    pid=$(eval echo "\${PEER_${up}_PID:-}") addr=$(eval echo "\${PEER_${up}_MQTT:-}") ver=$(eval echo "\${PEER_${up}_MQTT_VERSION:-5}")
    [ -n "$addr" ] && kill -0 "$pid" 2>/dev/null || continue
    if [ "$ver" = 311 ] && [ -z "$has311" ]; then echo "skipping $p: MQTT 3.1.1 only, and enmasse bench has no --mqtt-version 311" >&2; continue; fi
    servers+=("$p-$ver=$addr=$pid=$ver")
  done
fi

cpu() { if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then awk '{print $14+$15}' "/proc/$1/stat"; else echo 0; fi; }

scenarios=(
  "qos0-1x1=--qos 0 --count $COUNT"
  "qos1-1x1=--qos 1 --count $COUNT"
  "qos0-1x10=--qos 0 --consumers 10 --count $((COUNT / 10)) --rate 20000"
  "latency-1000-qos1=--qos 1 --count $LAT_COUNT --rate 1000"
)
for round in $(seq "$ROUNDS"); do
  for sc in "${scenarios[@]}"; do
    name=${sc%%=*}; args=${sc#*=}
    for s in "${servers[@]}"; do
      IFS== read -r sname saddr spid sver <<<"$s"
      extra=
      [ "$sver" = 311 ] && extra="--mqtt-version 311"
      before=$(cpu "$spid")
      res=$(timeout "$TIMEOUT" ./bin/enmasse bench --protocol mqtt --url "$saddr" --address "bench/$RUN_ID/$name/$round" \
        --drain 5s $extra $args --json 2>/dev/null || echo '{}')
      after=$(cpu "$spid")
      echo "$sname $name $round $((after - before)) $res" >>"$OUT/results"
    done
  done
done

for s in "${servers[@]}"; do
  IFS== read -r sname saddr spid sver <<<"$s"
  rss=$( [ -r "/proc/$spid/status" ] && awk '/VmHWM/{print $2}' "/proc/$spid/status" || echo 0)
  echo "$sname rss 0 0 {\"rss_kb\": ${rss:-0}}" >>"$OUT/results"  # enmasse: one process for both versions
done

python3 - "$OUT/results" "$(getconf CLK_TCK)" <<'PY'
import json, sys, statistics
tick = int(sys.argv[2])
rows = {}
for line in open(sys.argv[1]):
    srv, sc, rnd, cpu, js = line.rstrip("\n").split(" ", 4)
    try:
        r = json.loads(js)
    except ValueError:
        r = {}
    rows.setdefault((sc, srv), []).append((r, int(cpu) / tick))
def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
servers = []
for _, s in rows:
    if s not in servers:
        servers.append(s)
peers = [s for s in servers if not s.startswith("enmasse-")]
base = lambda p: "enmasse-" + p.rsplit("-", 1)[1]  # enmasse driven by the same client
print("| scenario | " + " | ".join(servers) + "".join(" | %s ÷ %s" % (base(p), p) for p in peers) + " |")
print("|---|" + "---|" * (len(servers) + len(peers)))
for sc, fan in [("qos0-1x1", 1), ("qos1-1x1", 1), ("qos0-1x10", 10)]:
    cells, meds = [], {}
    for s in servers:
        # QoS 0 is at-most-once: report its drops instead of discarding the run.
        ok = [(r, c) for r, c in rows.get((sc, s), []) if r.get("sent") and r.get("errors", 1) == 0 and
              (sc.startswith("qos0") or r.get("lost", 1) == 0)]
        rate = med([r.get("recv_rate") for r, _ in ok])
        cpu = med([c / max(r.get("received", 0), 1) * 1e5 for r, c in ok])
        meds[s] = rate
        if rate is None:
            cells.append("–")
            continue
        cell = "%.0f/s (%.2f CPU-s/100k)" % (rate, cpu or 0)
        lost = med([100.0 * r.get("lost", 0) / max(r.get("sent", 0) * fan, 1) for r, _ in ok])
        if lost:
            cell += ", %.1f%% lost" % lost
        cells.append(cell)
    ratios = ["%.2f×" % (meds[base(p)] / meds[p]) if meds.get(base(p)) and meds.get(p) else "–" for p in peers]
    print("| %s | %s |%s" % (sc, " | ".join(cells), "".join(" %s |" % r for r in ratios)))
cells, p99s = [], {}
for s in servers:
    runs = [r for r, _ in rows.get(("latency-1000-qos1", s), []) if r.get("received")]
    p50, p99 = med([r.get("p50_ms") for r in runs]), med([r.get("p99_ms") for r in runs])
    p99s[s] = p99
    cells.append("–" if p50 is None else "%.2f / %.2f ms" % (p50, p99))
ratios = ["%.2f×" % (p99s[base(p)] / p99s[p]) if p99s.get(base(p)) and p99s.get(p) else "–" for p in peers]
print("| p50 / p99 at 1,000 msg/s, QoS 1 (ratio of p99) | %s |%s" % (" | ".join(cells), "".join(" %s |" % r for r in ratios)))
rss = [med([r.get("rss_kb") for r, _ in rows.get(("rss", s), [])]) for s in servers]
print("| peak RSS (server process, whole life) | %s |%s" % (" | ".join("%.0f MB" % (k / 1024) if k else "–" for k in rss), " |" * len(peers)))
runs = {s: len(rows.get(("qos1-1x1", s), [])) for s in servers}
print("\nRounds per server: %s. Throughput cells are medians of runs without errors (and, for QoS 1, without loss)." % ", ".join("%s %d" % kv for kv in runs.items()))
PY
