#!/usr/bin/env bash
# mqtt-cost.sh — the MQTT gateway's cost, two enmasse builds and Mosquitto
# in the same run (docs/benchmarks.md, "MQTT gateway cost"):
#
#   bench/mqtt-cost.sh OLD_BIN NEW_BIN [ROUNDS] [COUNT] > results.txt
#
# Starts `OLD_BIN serve`, `NEW_BIN serve` (fresh data directories) and
# `mosquitto` (as bench/peers.sh configures it) on free loopback ports,
# then ROUNDS (3) interleaved rounds of, against each server in turn:
#   qos0-1x1   enmasse bench --protocol mqtt --qos 0 --count COUNT
#   qos1-1x1   ... --qos 1 --count COUNT
#   qos0-1x10  ... --qos 0 --consumers 10 --count COUNT/10 --rate 20000
#   lat1000    ... --qos 1 --count 3000 --rate 1000
# each line: ROUND SCENARIO SERVER cpu_ticks=N (server CPU, 1/100 s) and the
# bench JSON. Then 10,000 idle connections against a fresh server of each
# (bench --idle-conns 10000 --server-pid), ROUNDS times. Loopback only; every
# run is bounded by its count and a timeout; the servers are stopped by PID.
set -u
OLD=$1 NEW=$2 ROUNDS=${3:-3} COUNT=${4:-100000}
D=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$D"' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
serve() { # BIN NAME → sets PID, ADDR
  "$1" serve --amqp 127.0.0.1:0 --mqtt 127.0.0.1:0 --mqtts "" --http "" --data-dir "$D/$2" >"$D/$2.log" 2>&1 &
  PID=$!
  for _ in $(seq 200); do grep -q 'msg=ready' "$D/$2.log" && break; sleep 0.1; done
  ADDR=$(grep -o 'proto=mqtt addr=[^ ]*' "$D/$2.log" | head -1 | sed 's/.*addr=//')
}
mosq() { # NAME → sets PID, ADDR
  local port; port=$(free_port)
  printf 'persistence false\nlistener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000000\nmax_connections -1\n' "$port" >"$D/$1.conf"
  mosquitto -c "$D/$1.conf" >"$D/$1.log" 2>&1 &
  PID=$! ADDR=127.0.0.1:$port
  sleep 0.5
}
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
serve "$OLD" old; OP=$PID OA=$ADDR
serve "$NEW" new; NP=$PID NA=$ADDR
mosq mosquitto; MP=$PID MA=$ADDR
SC=("qos0-1x1|--qos 0 --count $COUNT" "qos1-1x1|--qos 1 --count $COUNT"
  "qos0-1x10|--qos 0 --consumers 10 --count $((COUNT / 10)) --rate 20000" "lat1000|--qos 1 --count 3000 --rate 1000")
for r in $(seq "$ROUNDS"); do
  for s in "${SC[@]}"; do
    for t in "old $OA $OP" "new $NA $NP" "mosquitto $MA $MP"; do
      read -r tn addr pid <<<"$t"
      b=$(ticks "$pid")
      # shellcheck disable=SC2086
      res=$(timeout 150 "$NEW" bench --protocol mqtt --url "mqtt://$addr" --address "b/$r/${s%%|*}/$tn" ${s#*|} --json --quiet 2>>"$D/bench.err" | tail -1)
      echo "$r ${s%%|*} $tn cpu_ticks=$(($(ticks "$pid") - b)) $res"
    done
  done
done
kill "$OP" "$NP" "$MP"; wait "$OP" "$NP" "$MP" 2>/dev/null
for r in $(seq "$ROUNDS"); do
  for t in old new mosquitto; do
    case $t in old) serve "$OLD" "idle-old-$r" ;; new) serve "$NEW" "idle-new-$r" ;; *) mosq "idle-mosq-$r" ;; esac
    echo "$r idle-10000 $t $(timeout 300 "$NEW" bench --protocol mqtt --url "mqtt://$ADDR" --idle-conns 10000 --server-pid "$PID" --json --quiet 2>>"$D/bench.err" | tail -1)"
    kill "$PID"; wait "$PID" 2>/dev/null
  done
done
