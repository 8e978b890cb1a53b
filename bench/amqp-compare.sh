#!/usr/bin/env bash
# amqp-compare.sh — enmasse against other AMQP 1.0 servers with the same load
# tool (enmasse bench), several interleaved rounds, medians and ratios.
#
#   bench/amqp-compare.sh                 # enmasse only, plus the TCP relay ceiling
#   RABBIT=127.0.0.1:25672 bench/amqp-compare.sh   # also RabbitMQ's AMQP 1.0 plugin
#
# ROUNDS (default 3) and COUNT (messages per throughput run, default 100000)
# bound the run; every run also has a 120 s timeout. Loopback only. Prints a
# markdown table: median received msg/s, latency p50/p99 at 1,000 msg/s,
# server CPU seconds per 100k messages, and enmasse ÷ peer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
RUN_ID=$(date +%s)-$$   # fresh queue names: a peer may keep queues across runs
COUNT=${COUNT:-100000}
OUT=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "keeping $OUT" >&2
trap 'kill "$SERVE_PID" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT

go build -o bin/enmasse ./cmd/enmasse
./bin/enmasse serve --amqp 127.0.0.1:0 --http "" --data-dir "$OUT/data" >"$OUT/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 50); do grep -q 'proto=amqp' "$OUT/serve.log" 2>/dev/null && break; sleep 0.1; done
ENMASSE=$(grep -o 'proto=amqp addr=[^ ]*' "$OUT/serve.log" | sed 's/.*addr=//')
[ -n "$ENMASSE" ] || { echo "enmasse serve did not start" >&2; cat "$OUT/serve.log" >&2; exit 1; }

servers=("enmasse=$ENMASSE=$SERVE_PID=q")
if [ -n "${RABBIT:-}" ]; then
  rpid=$(cat /var/lib/bench-peers/rabbitmq/rabbitmq.pid 2>/dev/null || true)
  servers+=("rabbitmq=$RABBIT=$rpid=/queue/q")
fi

cpu() { # pid -> utime+stime in clock ticks
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] && awk '{print $14+$15}' "/proc/$1/stat" || echo 0
}

scenarios=(
  "queue-unsettled=--count $COUNT"
  "queue-presettled=--count $COUNT --presettled"
  "queue-4x4=--count $COUNT --producers 4 --consumers 4"
  "latency-1000=--count 5000 --rate 1000"
)
for round in $(seq "$ROUNDS"); do
  for sc in "${scenarios[@]}"; do
    name=${sc%%=*}; args=${sc#*=}
    for s in "${servers[@]}"; do
      IFS== read -r sname saddr spid sprefix <<<"$s"
      before=$(cpu "$spid")
      res=$(timeout 120 ./bin/enmasse bench --url "$saddr" --address "${sprefix}-$RUN_ID-$name-$round" $args --json 2>/dev/null || echo '{}')
      after=$(cpu "$spid")
      echo "$sname $name $round $((after-before)) $res" >>"$OUT/results"
    done
  done
  relay=$(./bin/enmasse bench --relay --count 1000000 --json)
  echo "relay relay $round 0 $relay" >>"$OUT/results"
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
print("| scenario | " + " | ".join(servers) + " | enmasse ÷ " + " | enmasse ÷ ".join(s for s in servers if s != "enmasse") + " |")
print("|---|" + "---|" * (len(servers) + len(servers) - 1))
for sc in ["queue-unsettled", "queue-presettled", "queue-4x4"]:
    cells, meds = [], {}
    for s in servers:
        runs = rows.get((sc, s), [])
        rate = med([r.get("recv_rate") for r, _ in runs if r.get("received") == r.get("sent")])
        cpu = med([c / max(r.get("received", 0), 1) * 1e5 for r, c in runs if r.get("received")])
        meds[s] = rate
        cells.append("–" if rate is None else "%.0f msg/s (%.2f CPU-s/100k)" % (rate, cpu or 0))
    ratios = ["%.1f×" % (meds["enmasse"] / meds[s]) if meds.get("enmasse") and meds.get(s) else "–" for s in servers if s != "enmasse"]
    print("| %s | %s | %s |" % (sc, " | ".join(cells), " | ".join(ratios)))
cells = []
for s in servers:
    runs = rows.get(("latency-1000", s), [])
    p50, p99 = med([r.get("p50_ms") for r, _ in runs]), med([r.get("p99_ms") for r, _ in runs])
    cells.append("–" if p50 is None else "%.2f / %.2f ms" % (p50, p99))
print("| p50 / p99 at 1,000 msg/s | %s |%s" % (" | ".join(cells), " |" * (len(servers) - 1)))
relay = med([r.get("relay_rate") for r, _ in rows.get(("relay", "relay"), [])])
print("\nPlain TCP relay of 100-byte messages on loopback (ceiling): %.0f msg/s" % relay)
PY
