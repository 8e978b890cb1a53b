#!/usr/bin/env bash
# peers.sh — install (apt, Debian bookworm) and start the peer servers that
# bench/suite.sh measures enmasse against, each on free loopback ports with
# its own state directory.
#
#   bench/peers.sh [up] [PEER...]   # start (default: all) — idempotent
#   bench/peers.sh down [PEER...]   # stop (default: all) only the pids this script started
#   bench/peers.sh status
#
# PEER: mosquitto (2.0, MQTT 5/3.1.1), rabbitmq (3.10, AMQP 1.0 + MQTT
# 3.1.1 plugins), nats (2.9, MQTT 3.1.1 listener: needs JetStream and a
# server_name), activemq (5.17, MQTT 3.1.1; Debian builds it without AMQP),
# proton (the Qpid Proton C example broker, AMQP 1.0: compiled from
# Debian's libqpid-proton11-dev-examples).
#
# State: $ENMASSE_PEERS_DIR (default /tmp/enmasse-peers)/<peer>/ holds the
# config, data, logs, a pid file and a ports file. $ENMASSE_PEERS_DIR/peers.env
# (sourced by bench/suite.sh) lists every running peer:
#   PEER_<NAME>_PID=…  PEER_<NAME>_MQTT=127.0.0.1:PORT  PEER_<NAME>_MQTT_VERSION=5,311|5|311 (the versions it is measured with)
#   PEER_RABBITMQ_AMQP=127.0.0.1:PORT  PEER_PROTON_AMQP=127.0.0.1:PORT
# apt runs only when a package is missing (NO_INSTALL=1 skips it). Nothing
# is stopped by name: `down` signals the pids in this directory's pid files.
# Ports are picked free each time a peer starts, so a peer started elsewhere
# (for example a RabbitMQ on 25672) is left alone; RabbitMQ gets its own
# node name and shares a running epmd rather than killing it.
set -euo pipefail
DIR=${ENMASSE_PEERS_DIR:-/tmp/enmasse-peers}
ALL=(mosquitto rabbitmq nats activemq proton)
log() { echo "[peers] $*" >&2; }
# PIN=1: peers start on CPU 0 only (taskset), so that their runtimes size
# their thread pools for one CPU (bench/suite.sh PIN=1).
PINNED=
[ -z "${PIN:-}" ] || PINNED="taskset -c 0"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port seconds
  local i=0
  until port_open "$1"; do
    i=$((i + 1)); [ "$i" -gt $(($2 * 5)) ] && { log "port $1 not open after $2 s"; return 1; }
    sleep 0.2
  done
}

install_pkgs() {
  [ -n "${NO_INSTALL:-}" ] && return 0
  local need=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing ${need[*]}"
  local policy=
  # Keep the maintainer scripts from starting the services on their default ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy=1; fi
  apt-get -o DPkg::Lock::Timeout=600 update -q
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}"
  [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
}

up_mosquitto() {
  local d=$DIR/mosquitto
  install_pkgs mosquitto
  mkdir -p "$d"
  alive "$d/pid" && return 0
  local port; port=$(free_port)
  cat >"$d/mosquitto.conf" <<EOF
pid_file $d/pid
persistence false
log_dest file $d/mosquitto.log
listener $port 127.0.0.1
allow_anonymous true
# The default (1000 queued QoS 1/2 messages per client) silently drops
# above it: raised so a slow subscriber in a throughput run is not shed.
max_queued_messages 1000000
EOF
  chown -R mosquitto: "$d" 2>/dev/null || true
  rm -f "$d/pid"
  $PINNED mosquitto -c "$d/mosquitto.conf" -d 9>&-
  wait_port "$port" 20
  # Both versions: MQTT 5 through paho.golang, and 3.1.1 through the
  # bench's own client, which leaves the server, not the client, the
  # bottleneck of a throughput run.
  echo "MQTT=127.0.0.1:$port MQTT_VERSION=5,311" >"$d/ports"
}

rabbit_env() {
  local d=$DIR/rabbitmq
  export HOME=$d RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf \
    RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins RABBITMQ_NODENAME=enmasse-peers@localhost \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_MNESIA_BASE=$d/mnesia RABBITMQ_LOG_BASE=$d/log \
    RABBITMQ_PID_FILE=$d/pid ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  [ -s "$d/ports" ] && . "$d/ports"
  export RABBITMQ_NODE_PORT=${AMQP_PORT:-0} RABBITMQ_DIST_PORT=${DIST_PORT:-0} \
    RABBITMQ_CTL_DIST_PORT_MIN=${CTL_PORT:-0} RABBITMQ_CTL_DIST_PORT_MAX=$((${CTL_PORT:-0} + 10))
}
up_rabbitmq() {
  local d=$DIR/rabbitmq
  install_pkgs rabbitmq-server
  mkdir -p "$d/log" "$d/mnesia"
  alive "$d/pid" && return 0
  local amqp mqtt dist ctl
  amqp=$(free_port); mqtt=$(free_port); dist=$(free_port); ctl=$(free_port)
  echo "AMQP_PORT=$amqp MQTT_PORT=$mqtt DIST_PORT=$dist CTL_PORT=$ctl AMQP=127.0.0.1:$amqp MQTT=127.0.0.1:$mqtt MQTT_VERSION=311" >"$d/ports"
  rabbit_env
  : >"$d/rabbitmq-env.conf"
  echo '[rabbitmq_amqp1_0,rabbitmq_mqtt].' >"$d/enabled_plugins"
  cat >"$d/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$amqp
mqtt.listeners.tcp.1 = 127.0.0.1:$mqtt
mqtt.allow_anonymous = true
mqtt.default_user = guest
mqtt.default_pass = guest
amqp1_0.default_user = guest
log.file.level = warning
EOF
  [ -s "$d/.erlang.cookie" ] || { head -c 32 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 20 >"$d/.erlang.cookie"; chmod 400 "$d/.erlang.cookie"; }
  # epmd is shared by every Erlang node on the host: stop it on `down` only if we started it.
  local had_epmd=; port_open 4369 && had_epmd=1
  rm -f "$d/pid" "$d/epmd.pid"
  (cd "$d" && exec $PINNED setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$d/log/stdout.log" 2>&1 </dev/null 9>&-) &
  local i=0
  while [ ! -s "$d/pid" ]; do i=$((i + 1)); [ "$i" -gt 300 ] && { log "rabbitmq wrote no pid file"; return 1; }; sleep 0.2; done
  /usr/lib/rabbitmq/bin/rabbitmqctl -q wait --timeout 120 "$d/pid" >/dev/null 9>&-
  wait_port "$amqp" 60; wait_port "$mqtt" 60
  [ -n "$had_epmd" ] || ss -ltnpH 'sport = :4369' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 >"$d/epmd.pid" || true
}

up_nats() {
  local d=$DIR/nats
  install_pkgs nats-server
  mkdir -p "$d/js"
  alive "$d/pid" && return 0
  local port mqtt; port=$(free_port); mqtt=$(free_port)
  cat >"$d/nats.conf" <<EOF
server_name: enmasse-peers-nats
listen: 127.0.0.1:$port
pid_file: "$d/pid"
log_file: "$d/nats.log"
# MQTT needs JetStream (sessions, retained messages, QoS 1) and a server_name.
jetstream { store_dir: "$d/js" }
mqtt { listen: 127.0.0.1:$mqtt }
EOF
  rm -f "$d/pid"
  (exec $PINNED setsid nats-server -c "$d/nats.conf" >"$d/stdout.log" 2>&1 </dev/null 9>&-) &
  wait_port "$mqtt" 30
  echo "NATS=127.0.0.1:$port MQTT=127.0.0.1:$mqtt MQTT_VERSION=311" >"$d/ports"
}

up_activemq() {
  local d=$DIR/activemq
  install_pkgs activemq libmqtt-client-java
  mkdir -p "$d/conf" "$d/data" "$d/lib" "$d/tmp"
  alive "$d/pid" && return 0
  # activemq-mqtt needs the fusesource MQTT codec and hawtdispatch (Debian:
  # libmqtt-client-java); the launcher puts every jar of ${activemq.base}/lib
  # on the class path.
  local j
  for j in mqtt-client hawtdispatch hawtdispatch-transport; do ln -sf "/usr/share/java/$j.jar" "$d/lib/$j.jar"; done
  local ow mqtt; ow=$(free_port); mqtt=$(free_port)
  printf 'log4j.rootLogger=WARN, file\nlog4j.appender.file=org.apache.log4j.FileAppender\nlog4j.appender.file.File=%s/broker.log\nlog4j.appender.file.layout=org.apache.log4j.PatternLayout\nlog4j.appender.file.layout.ConversionPattern=%%d %%-5p %%m%%n\n' "$d" >"$d/conf/log4j.properties"
  cat >"$d/conf/activemq.xml" <<EOF
<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <bean class="org.springframework.beans.factory.config.PropertyPlaceholderConfigurer"/>
  <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false" brokerName="enmasse-peers" dataDirectory="$d/data">
    <persistenceAdapter><kahaDB directory="$d/data/kahadb"/></persistenceAdapter>
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:$ow"/>
      <!-- NIO, and room for the suite's 10,000 idle connections (the default is 1000). -->
      <transportConnector name="mqtt" uri="mqtt+nio://127.0.0.1:$mqtt?maximumConnections=20000&amp;wireFormat.maxFrameSize=104857600"/>
    </transportConnectors>
  </broker>
</beans>
EOF
  rm -f "$d/pid"
  # The JVM flags of Debian's /usr/share/activemq/activemq-options and /usr/bin/activemq.
  (cd "$d" && exec $PINNED setsid java -Xms512M -Xmx512M -Dorg.apache.activemq.UseDedicatedTaskRunner=true \
    --add-reads=java.xml=java.logging \
    --add-opens java.base/java.security=ALL-UNNAMED --add-opens java.base/java.net=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED \
    --add-opens java.naming/javax.naming.spi=ALL-UNNAMED --add-opens java.rmi/sun.rmi.transport.tcp=ALL-UNNAMED \
    --add-opens java.base/java.util.concurrent=ALL-UNNAMED --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED \
    -Djava.io.tmpdir="$d/tmp" -Dactivemq.classpath="$d/conf:$d/lib/" -Dactivemq.home=/usr/share/activemq \
    -Dactivemq.base="$d" -Dactivemq.conf="$d/conf" -Dactivemq.data="$d/data" \
    -jar /usr/share/activemq/bin/activemq.jar start "xbean:file:$d/conf/activemq.xml" \
    >"$d/activemq.log" 2>&1 </dev/null 9>&-) &
  echo $! >"$d/pid" # the subshell execs setsid, which execs java: the same pid
  wait_port "$mqtt" 90
  echo "OPENWIRE=127.0.0.1:$ow MQTT=127.0.0.1:$mqtt MQTT_VERSION=311" >"$d/ports"
}

up_proton() {
  local d=$DIR/proton src=/usr/share/proton/examples/c/broker.c
  install_pkgs gcc libc6-dev libqpid-proton11-dev libqpid-proton11-dev-examples
  mkdir -p "$d"
  alive "$d/pid" && return 0
  # The example's own thread.h sits beside broker.c. It listens on HOST
  # PORT with 4 threads and keeps every queue in memory.
  [ "$d/broker" -nt "$src" ] || gcc -O2 -o "$d/broker" "$src" -lqpid-proton -lpthread
  local port; port=$(free_port)
  rm -f "$d/pid"
  (cd "$d" && exec $PINNED setsid "$d/broker" 127.0.0.1 "$port" >"$d/broker.log" 2>&1 </dev/null 9>&-) &
  echo $! >"$d/pid"
  wait_port "$port" 20
  echo "AMQP=127.0.0.1:$port" >"$d/ports"
}

write_env() {
  local p up tmp=$DIR/peers.env.tmp
  : >"$tmp"
  for p in "${ALL[@]}"; do
    alive "$DIR/$p/pid" && [ -s "$DIR/$p/ports" ] || continue
    up=$(echo "$p" | tr a-z A-Z)
    echo "PEER_${up}_PID=$(cat "$DIR/$p/pid")" >>"$tmp"
    for kv in $(cat "$DIR/$p/ports"); do
      case $kv in *_PORT=*) ;; *) echo "PEER_${up}_$kv" >>"$tmp" ;; esac
    done
  done
  mv "$tmp" "$DIR/peers.env"
}

stop_pid() { # pidfile
  alive "$1" || { rm -f "$1"; return 0; }
  local pid i; pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

cmd=${1:-up}
case $cmd in
up | down | status) shift || true ;;
*) cmd=up ;;
esac
mkdir -p "$DIR"
# One run at a time; the servers started below do not inherit the lock.
exec 9>"$DIR/.lock"
flock -w 300 9
case $cmd in
up)
  peers=("$@"); [ ${#peers[@]} -gt 0 ] || peers=("${ALL[@]}")
  for p in "${peers[@]}"; do
    case " ${ALL[*]} " in *" $p "*) ;; *) log "unknown peer $p (${ALL[*]})"; exit 2 ;; esac
    if alive "$DIR/$p/pid"; then log "$p already running (pid $(cat "$DIR/$p/pid"))"; continue; fi
    if "up_$p"; then log "$p up: pid $(cat "$DIR/$p/pid") $(cat "$DIR/$p/ports")"; else log "$p failed to start (see $DIR/$p)"; fi
  done
  write_env
  cat "$DIR/peers.env"
  ;;
down)
  peers=("$@"); [ ${#peers[@]} -gt 0 ] || peers=("${ALL[@]}")
  for p in "${peers[@]}"; do
    stop_pid "$DIR/$p/pid"
    [ "$p" != rabbitmq ] || stop_pid "$DIR/rabbitmq/epmd.pid"
  done
  write_env
  log "stopped"
  ;;
status)
  write_env
  cat "$DIR/peers.env"
  ;;
esac
