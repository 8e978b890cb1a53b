#!/usr/bin/env bash
# amqp-compare.sh — enmasse against other AMQP 1.0 servers with the same load
# tool (enmasse bench), several interleaved rounds, medians and ratios.
#
#   bench/amqp-compare.sh                          # enmasse (+ the Qpid Proton C example broker when buildable)
#   RABBIT=127.0.0.1:25672 bench/amqp-compare.sh   # also RabbitMQ's AMQP 1.0 plugin
#
# RabbitMQ (Debian's rabbitmq-server with rabbitmq_amqp1_0) is started by
# bench/peers.sh up rabbitmq; its address is then read from
# $ENMASSE_PEERS_DIR/peers.env when RABBIT is not set. The Proton C broker is compiled
# from Debian's libqpid-proton11-dev-examples (apt-get install
# libqpid-proton11-dev libqpid-proton11-dev-examples) when present.
#
# SCENARIOS (a regex) selects scenarios. Bounds: ROUNDS (default 3), COUNT (messages per throughput run, default
# 100000), FILL (fill-then-drain backlog, default 200000); every run has a
# 300 s timeout. Loopback only. Prints a markdown table: median received
# msg/s with server CPU seconds per 100k messages, latency p50/p99 at 1,000
# msg/s, and enmasse ÷ peer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
COUNT=${COUNT:-100000}
FILL=${FILL:-200000}
RUN_ID=$(date +%s)-$$   # fresh queue names: a peer may keep queues across runs
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

go build -o bin/enmasse ./cmd/enmasse
# The direct addresses the router serves (anycast, multicast), as
# resources applied at start.
cat >"$OUT/serve.yaml" <<'YAML'
resources:
- apiVersion: enmasse.io/v1beta1
  kind: Address
  metadata: {name: default.direct}
  spec: {address: direct, type: anycast, plan: standard-small-anycast}
- apiVersion: enmasse.io/v1beta1
  kind: Address
  metadata: {name: default.fanout}
  spec: {address: fanout, type: multicast, plan: standard-small-multicast}
YAML
./bin/enmasse serve --config "$OUT/serve.yaml" --amqp 127.0.0.1:0 --http 127.0.0.1:0 --mqtt "" --data-dir "$OUT/data" >"$OUT/serve.log" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
for _ in $(seq 50); do grep -q 'proto=amqp' "$OUT/serve.log" 2>/dev/null && break; sleep 0.1; done
ENMASSE=$(grep -o 'proto=amqp addr=[^ ]*' "$OUT/serve.log" | sed 's/.*addr=//')
[ -n "$ENMASSE" ] || { echo "enmasse serve did not start" >&2; cat "$OUT/serve.log" >&2; exit 1; }

servers=("enmasse=$ENMASSE=$SERVE_PID=q")
# A RabbitMQ started by bench/peers.sh is picked up from its peers.env.
PEERS_ENV=${ENMASSE_PEERS_DIR:-/tmp/enmasse-peers}/peers.env
if [ -z "${RABBIT:-}" ] && [ -s "$PEERS_ENV" ]; then
  . "$PEERS_ENV"
  RABBIT=${PEER_RABBITMQ_AMQP:-} RABBIT_PID=${PEER_RABBITMQ_PID:-}
fi
if [ -n "${RABBIT:-}" ]; then
  rpid=${RABBIT_PID:-$(cat /var/lib/bench-peers/rabbitmq/rabbitmq.pid 2>/dev/null || true)}
  servers+=("rabbitmq=$RABBIT=$rpid=/queue/q")
fi
if [ -f /usr/share/proton/examples/c/broker.c ] && gcc -O2 /usr/share/proton/examples/c/broker.c -o "$OUT/proton-broker" -lqpid-proton 2>/dev/null; then
  pport=$(free_port)
  "$OUT/proton-broker" 127.0.0.1 "$pport" >"$OUT/proton.log" 2>&1 &
  PIDS+=("$!")
  servers+=("proton-c=127.0.0.1:$pport=$!=q")
  sleep 0.5
fi

cpu() { # pid -> utime+stime in clock ticks
  if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then awk '{print $14+$15}' "/proc/$1/stat"; else echo 0; fi
}

# Address per server and scenario: enmasse's anycast and multicast
# scenarios use its direct addresses; the peers have no direct routing, so
# they run their best equivalent (a queue; RabbitMQ's /topic/ exchange for
# fan-out). Other scenarios use a fresh queue.
address() { # server prefix scenario round
  case "$1:$3" in
    enmasse:anycast-*) echo direct ;;
    enmasse:multicast-*) echo fanout ;;
    rabbitmq:multicast-*) echo "/topic/fan-$RUN_ID-$4" ;;
    *:fill|*:drain) echo "$2-$RUN_ID-backlog-$4" ;;
    *) echo "$2-$RUN_ID-$3-$4" ;;
  esac
}

scenarios=(
  "anycast-presettled=--count $COUNT --presettled"
  "anycast-unsettled=--count $COUNT"
  "multicast-1x10=--count $((COUNT / 10)) --consumers 10 --fanout --presettled --rate 20000"
  "queue-unsettled=--count $COUNT"
  "queue-presettled=--count $COUNT --presettled"
  "queue-durable=--count $COUNT --durable"
  "queue-4x4-durable=--count $COUNT --durable --producers 4 --consumers 4"
  "fill=--count $FILL --consumers 0"
  "drain=--count $FILL --drain-only"
  "latency-1000=--count 5000 --rate 1000"
  "latency-1000-durable=--count 5000 --rate 1000 --durable"
)
for round in $(seq "$ROUNDS"); do
  for sc in "${scenarios[@]}"; do
    name=${sc%%=*}; args=${sc#*=}
    [[ "$name" =~ ${SCENARIOS:-.} ]] || continue   # SCENARIOS: a regex selecting scenarios
    for s in "${servers[@]}"; do
      IFS== read -r sname saddr spid sprefix <<<"$s"
      [ "$sname:$name" = "proton-c:multicast-1x10" ] && continue   # no fan-out in the example broker
      addr=$(address "$sname" "$sprefix" "$name" "$round")
      before=$(cpu "$spid")
      res=$(timeout 300 ./bin/enmasse bench --url "$saddr" --address "$addr" $args --json 2>/dev/null || echo '{}')
      after=$(cpu "$spid")
      echo "$sname $name $round $((after-before)) $res" >>"$OUT/results"
    done
  done
  relay=$(./bin/enmasse bench --relay --count 1000000 --json)
  echo "relay relay $round 0 $relay" >>"$OUT/results"
done

for s in "${servers[@]}"; do
  IFS== read -r sname saddr spid sprefix <<<"$s"
  [ -n "$spid" ] && [ -r "/proc/$spid/status" ] && echo "$sname peak RSS: $(awk '/VmHWM/{print $2, $3}' "/proc/$spid/status")"
done

python3 - "$OUT/results" "$(getconf CLK_TCK)" <<'PY'
import json, sys, statistics
tick = int(sys.argv[2])
rows = {}
for line in open(sys.argv[1]):
    srv, sc, rnd, cpu, js = line.split(" ", 4)
    try:
        r = json.loads(js)
    except ValueError:
        r = {}
    rows.setdefault((sc, srv), []).append((r, int(cpu) / tick))
def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
servers = sorted({s for _, s in rows if s != "relay"}, key=lambda s: (s != "enmasse", s))
peers = [s for s in servers if s != "enmasse"]
print("| scenario | " + " | ".join(servers) + "".join(" | enmasse ÷ " + p for p in peers) + " |")
print("|---|" + "---|" * (len(servers) + len(peers)))
for sc, key in [("anycast-presettled", "recv_rate"), ("anycast-unsettled", "recv_rate"), ("multicast-1x10", "recv_rate"),
                ("queue-unsettled", "recv_rate"), ("queue-presettled", "recv_rate"), ("queue-durable", "recv_rate"),
                ("queue-4x4-durable", "recv_rate"), ("fill", "send_rate"), ("drain", "recv_rate")]:
    cells, meds = [], {}
    for s in servers:
        runs = rows.get((sc, s), [])
        # Multicast is at-most-once: report its drops instead of
        # discarding the run.
        lossy = sc.startswith("multicast")
        ok = [(r, c) for r, c in runs if r.get("errors", 1) == 0 and (lossy or r.get("lost", 1) == 0) and r.get(key)]
        rate = med([r.get(key) for r, _ in ok])
        n = lambda r: r.get("received") or r.get("sent") or 1
        cpu = med([c / n(r) * 1e5 for r, c in ok])
        meds[s] = rate
        cell = "–" if rate is None else "%.0f msg/s (%.2f CPU-s/100k)" % (rate, cpu or 0)
        if lossy and ok:
            cell += ", %.1f%% dropped" % med([100.0 * r.get("lost", 0) / max(r.get("sent", 0) * 10, 1) for r, _ in ok])
        cells.append(cell)
    ratios = ["%.1f×" % (meds["enmasse"] / meds[p]) if meds.get("enmasse") and meds.get(p) else "–" for p in peers]
    print("| %s | %s |%s" % (sc, " | ".join(cells), "".join(" %s |" % r for r in ratios)))
for sc in ["latency-1000", "latency-1000-durable"]:
    cells = []
    for s in servers:
        runs = rows.get((sc, s), [])
        p50, p99 = med([r.get("p50_ms") for r, _ in runs]), med([r.get("p99_ms") for r, _ in runs])
        cells.append("–" if p50 is None else "%.2f / %.2f ms" % (p50, p99))
    print("| %s p50 / p99 | %s |%s" % (sc, " | ".join(cells), " |" * len(peers)))
relay = med([r.get("relay_rate") for r, _ in rows.get(("relay", "relay"), [])])
print("\nPlain TCP relay of 100-byte messages on loopback (ceiling): %.0f msg/s" % relay)
PY
