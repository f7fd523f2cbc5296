#!/usr/bin/env bash
# The project's local Apache Kafka: one KRaft node (broker + controller) from Maven Central
# jars, run with plain `java`, no Docker. State lives in .kafka/ (git-ignored).
#
# usage: scripts/kafka.sh start | stop | status | probe | acquire HOLDER_PID | release HOLDER_PID
#                        | acl ARGS...
#
#   start    start the broker in the background and wait until it answers a metadata request
#            (reuses any broker that already answers on the bootstrap address)
#   stop     stop the broker this script started (pid file), SIGKILL after a timeout; it
#            stops it even while test runs hold leases, and never touches a broker it did
#            not start
#   status   say what answers on the bootstrap address; exit 0 if a broker answers
#   probe    exit 0 if a broker answers on the bootstrap address, silently
#   acquire  for scripts/with-kafka.sh and tests/conftest.py: make sure a broker answers and
#            hold a lease on it for process HOLDER_PID; a broker started by `acquire` is
#            stopped by the `release` that drops the last live lease. A broker started by
#            `start` (make kafka) is never stopped by `release`, and `start` while tests
#            hold the broker keeps it running after they finish.
#   acl      run Kafka's AclCommand (what kafka-acls.sh runs) against the PLAINTEXT
#            listener, with the remaining arguments (e.g. --add --allow-principal ...)
#
# One broker per state directory. A test that must stop or restart a broker should start
# its own with another KAFKA_STATE_DIR and KAFKA_BOOTSTRAP port, not the shared one.
#
# Listeners (all on 127.0.0.1 unless KAFKA_BOOTSTRAP names another host):
#   PLAINTEXT   KAFKA_BOOTSTRAP                    default 127.0.0.1:9092
#   SASL_SSL    KAFKA_SASL_SSL_PORT                default bootstrap port + 1 (9093);
#               SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN; "none" turns the listener off
#   CONTROLLER  KAFKA_CONTROLLER_PORT              default bootstrap port + 2 (9094)
#   SSL (mTLS)  KAFKA_MTLS_PORT                    default none (off); TLS with a required
#               client certificate signed by the local CA (.kafka/tls/ca.p12); for tests
# KAFKA_ACL=1 turns on KRaft's StandardAuthorizer (no ACL: denied); the PLAINTEXT and
# controller listeners' principal User:ANONYMOUS is the super user (for the ACL tests only).
# KAFKA_SCRAM_USERS="name=password ..." adds SCRAM users at format time.
# SASL user: KAFKA_SASL_USERNAME (deid) / KAFKA_SASL_PASSWORD (deid-local-dev), created at
# format time; a changed user or password reformats the (throw-away) data directory.
# Other knobs: KAFKA_HEAP_OPTS (-Xms128m -Xmx512m), KAFKA_START_TIMEOUT (60 s),
# KAFKA_STOP_TIMEOUT (30 s), KAFKA_STATE_DIR (.kafka).
#
# Files: .kafka/libs (jars), .kafka/server.properties, .kafka/data, .kafka/tls,
# .kafka/logs/server.log (broker log; nothing goes to the terminal), .kafka/kafka.pid,
# .kafka/broker.json (what tests read: addresses, CA file, SASL user).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${KAFKA_STATE_DIR:-$ROOT/.kafka}"
LIBS="$STATE/libs"
LOGS="$STATE/logs"
DATA="$STATE/data"
TLS="$STATE/tls"
CONFIG="$STATE/server.properties"
PIDFILE="$STATE/kafka.pid"
INFO="$STATE/broker.json"
LEASES="$STATE/leases"
AUTOSTOP="$STATE/autostop"
POM="$ROOT/scripts/kafka/pom.xml"
LOG4J="$ROOT/scripts/kafka/log4j2.yaml"
PROBE="$ROOT/scripts/kafka/probe.py"

BOOTSTRAP="${KAFKA_BOOTSTRAP:-127.0.0.1:9092}"
BOOTSTRAP="${BOOTSTRAP%%,*}"
HOST="${BOOTSTRAP%:*}"
PORT="${BOOTSTRAP##*:}"
SASL_PORT="${KAFKA_SASL_SSL_PORT:-$((PORT + 1))}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 2))}"
SASL_USERNAME="${KAFKA_SASL_USERNAME:-deid}"
SASL_PASSWORD="${KAFKA_SASL_PASSWORD:-deid-local-dev}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

say() { echo "kafka.sh: $*"; }
die() { echo "kafka.sh: $*" >&2; exit 1; }

sasl_enabled() { [[ "$SASL_PORT" != "none" && "$SASL_PORT" != "0" && -n "$SASL_PORT" ]]; }
MTLS_PORT="${KAFKA_MTLS_PORT:-none}"
ACL="${KAFKA_ACL:-0}"
SCRAM_USERS="${KAFKA_SCRAM_USERS:-}"
mtls_enabled() { [[ "$MTLS_PORT" != "none" && "$MTLS_PORT" != "0" && -n "$MTLS_PORT" ]]; }

python_bin() {
  if [[ -x "$ROOT/.venv/bin/python" ]]; then echo "$ROOT/.venv/bin/python"
  elif command -v python3 >/dev/null; then command -v python3
  else die "python3 not found (needed to check that the broker answers)"
  fi
}

# probe [WAIT_S [PID]]: 0 answers, 1 no answer, 2 PID exited while waiting
probe() {
  local rc=0
  "$(python_bin)" "$PROBE" "$BOOTSTRAP" --wait "${1:-0}" --pid "${2:-0}" || rc=$?
  return "$rc"
}

# our_pid: the pid from the pid file if that process is the broker this tree started
our_pid() {
  local pid
  [[ -s "$PIDFILE" ]] || return 1
  pid="$(<"$PIDFILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $CONFIG" || return 1
  echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

recorded_bootstrap() {
  [[ -s "$INFO" ]] && sed -n 's/.*"bootstrap": *"\([^"]*\)".*/\1/p' "$INFO" | head -n1
}

log_tail() {
  local f
  for f in "$LOGS/kafka.out" "$LOGS/server.log"; do
    if [[ -s "$f" ]]; then
      echo "----- last lines of ${f#"$ROOT/"} -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
}

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null; then command -v java
  else die "java not found: install a JDK 17+ (Debian: apt-get install -y openjdk-17-jre-headless)"
  fi
}

# java_cmd MAIN_CLASS ARGS...: the JVM command line, into the array JAVA_CMD
java_cmd() {
  local heap
  read -r -a heap <<<"$HEAP_OPTS"
  JAVA_CMD=("$(java_bin)" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$LOG4J" -Dkafka.logs.dir="$LOGS" -cp "$LIBS/*" "$@")
}

kafka_java() { java_cmd "$@"; "${JAVA_CMD[@]}"; }

ensure_libs() {
  local stamp="$LIBS/.pom.sha256" want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -s "$stamp" && "$(<"$stamp")" == "$want" ]] && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (Debian: apt-get install -y maven)"
  say "downloading the Kafka jars into ${LIBS#"$ROOT/"} (first start only) ..."
  rm -rf "$LIBS"
  mkdir -p "$LIBS" "$LOGS"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dkafka.libs="$LIBS" \
        dependency:copy-dependencies >"$LOGS/mvn.log" 2>&1; then
    tail -n 40 "$LOGS/mvn.log" >&2
    rm -rf "$LIBS"
    die "mvn dependency:copy-dependencies failed (full output: ${LOGS#"$ROOT/"}/mvn.log)"
  fi
  echo "$want" >"$stamp"
}

write_config() {
  local listeners advertised protocols sasl_block="" mtls_block=""
  listeners="PLAINTEXT://$HOST:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT"
  advertised="PLAINTEXT://$HOST:$PORT"
  protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if sasl_enabled; then
    listeners+=",SASL_SSL://$HOST:$SASL_PORT"
    advertised+=",SASL_SSL://$HOST:$SASL_PORT"
    protocols+=",SASL_SSL:SASL_SSL"
    local tls_pass
    tls_pass="$(<"$TLS/password")"
    sasl_block="
# SASL_SSL listener for the TLS + SASL tests (scripts/kafka/make-certs.sh made the certs)
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$TLS/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$tls_pass
listener.name.sasl_ssl.ssl.key.password=$tls_pass
listener.name.sasl_ssl.ssl.client.auth=none
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USERNAME}=\"${SASL_PASSWORD}\";"
  fi
  if mtls_enabled; then
    listeners+=",SSL://$HOST:$MTLS_PORT"
    advertised+=",SSL://$HOST:$MTLS_PORT"
    protocols+=",SSL:SSL"
    local mtls_pass
    mtls_pass="$(<"$TLS/password")"
    mtls_block="
# SSL listener that requires a client certificate signed by the local CA (mTLS tests)
listener.name.ssl.ssl.keystore.type=PKCS12
listener.name.ssl.ssl.keystore.location=$TLS/broker.p12
listener.name.ssl.ssl.keystore.password=$mtls_pass
listener.name.ssl.ssl.key.password=$mtls_pass
listener.name.ssl.ssl.truststore.type=PKCS12
listener.name.ssl.ssl.truststore.location=$TLS/truststore.p12
listener.name.ssl.ssl.truststore.password=$mtls_pass
listener.name.ssl.ssl.client.auth=required"
  fi
  local acl_block=""
  if [[ "$ACL" == "1" ]]; then
    acl_block="
# ACL tests: StandardAuthorizer, nothing allowed without an ACL, PLAINTEXT is the super user
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:ANONYMOUS"
  fi
  cat >"$CONFIG.tmp" <<EOF
# Generated by scripts/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA

# one node: every internal topic has one replica
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0

# small and quiet: this machine runs the tests too
num.network.threads=2
num.io.threads=4
background.threads=4
log.retention.hours=24
log.cleaner.dedupe.buffer.size=16777216
$sasl_block
$mtls_block
$acl_block
EOF
  mv "$CONFIG.tmp" "$CONFIG"
  chmod 600 "$CONFIG"
}

# format the data directory on first start (random cluster id, SCRAM users); a changed
# SASL user/password means a new format, since SCRAM credentials are written at format time
ensure_formatted() {
  local want stamp="$STATE/format.sha256" cluster_id
  want="$(printf 'v1 %s %s %s %s' "$SASL_USERNAME" "$SASL_PASSWORD" "$(sasl_enabled && echo sasl)" "$SCRAM_USERS" | sha256sum | cut -d' ' -f1)"
  if [[ -s "$DATA/meta.properties" && -s "$stamp" && "$(<"$stamp")" == "$want" ]]; then
    return 0
  fi
  rm -rf "$DATA" "$stamp"
  mkdir -p "$DATA"
  cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$LOGS/format.log" | tail -n1)"
  [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || { cat "$LOGS/format.log" >&2; die "could not make a cluster id"; }
  local scram=()
  if sasl_enabled; then
    scram=(--add-scram "SCRAM-SHA-256=[name=$SASL_USERNAME,password=$SASL_PASSWORD]"
           --add-scram "SCRAM-SHA-512=[name=$SASL_USERNAME,password=$SASL_PASSWORD]")
    local entry
    for entry in $SCRAM_USERS; do
      scram+=(--add-scram "SCRAM-SHA-256=[name=${entry%%=*},password=${entry#*=}]"
              --add-scram "SCRAM-SHA-512=[name=${entry%%=*},password=${entry#*=}]")
    done
  fi
  if ! kafka_java kafka.tools.StorageTool format --config "$CONFIG" --cluster-id "$cluster_id" \
        "${scram[@]}" >>"$LOGS/format.log" 2>&1; then
    tail -n 40 "$LOGS/format.log" >&2
    die "kafka-storage format failed (${LOGS#"$ROOT/"}/format.log)"
  fi
  echo "$want" >"$stamp"
  say "formatted ${DATA#"$ROOT/"} (cluster id $cluster_id)"
}

write_info() {
  local pid="$1" sasl_json=""
  if sasl_enabled; then
    sasl_json=",
  \"sasl_ssl_bootstrap\": \"$HOST:$SASL_PORT\",
  \"cafile\": \"$TLS/ca.pem\",
  \"sasl_mechanisms\": [\"SCRAM-SHA-256\", \"SCRAM-SHA-512\", \"PLAIN\"],
  \"sasl_username\": \"$SASL_USERNAME\",
  \"sasl_password\": \"$SASL_PASSWORD\""
  fi
  cat >"$INFO.tmp" <<EOF
{
  "pid": $pid,
  "bootstrap": "$HOST:$PORT",
  "controller": "127.0.0.1:$CONTROLLER_PORT"$sasl_json
}
EOF
  chmod 600 "$INFO.tmp"
  mv "$INFO.tmp" "$INFO"
}

cmd_start() {
  local pid
  mkdir -p "$STATE" "$LOGS"
  if pid="$(our_pid)"; then
    local recorded
    recorded="$(recorded_bootstrap || true)"
    if [[ -n "$recorded" && "$recorded" != "$HOST:$PORT" ]]; then
      die "the broker started from this tree (pid $pid) listens on $recorded, not $BOOTSTRAP; run 'scripts/kafka.sh stop' with KAFKA_BOOTSTRAP=$recorded first"
    fi
    if probe 0; then
      say "broker already running (pid $pid) on $BOOTSTRAP; reusing it"
      return 0
    fi
    say "broker (pid $pid) is starting; waiting up to ${START_TIMEOUT}s for it to answer on $BOOTSTRAP"
    probe "$START_TIMEOUT" "$pid" || { log_tail; die "broker (pid $pid) did not answer on $BOOTSTRAP"; }
    say "broker (pid $pid) answers on $BOOTSTRAP"
    return 0
  fi
  if probe 0; then
    say "a broker already answers on $BOOTSTRAP (not started by this script, so 'stop' leaves it alone); reusing it"
    return 0
  fi
  rm -f "$PIDFILE" "$INFO" "$AUTOSTOP"
  local p
  for p in "$PORT" "$CONTROLLER_PORT" $(sasl_enabled && echo "$SASL_PORT") \
           $(mtls_enabled && echo "$MTLS_PORT"); do
    if port_in_use "$p"; then
      die "$HOST:$p is taken by something that is not a Kafka broker answering on $BOOTSTRAP; free it or set KAFKA_BOOTSTRAP / KAFKA_SASL_SSL_PORT / KAFKA_CONTROLLER_PORT"
    fi
  done

  local t0 t1
  t0="$(date +%s%N)"
  ensure_libs
  if sasl_enabled || mtls_enabled; then
    "$ROOT/scripts/kafka/make-certs.sh" "$TLS" >/dev/null
  fi
  write_config
  ensure_formatted

  : >"$LOGS/kafka.out"
  # setsid: the broker outlives this script and the terminal's Ctrl-C; the inner bash writes
  # its own pid, then exec's java, so the pid file holds the java pid
  # (9>&-: the broker must not inherit the lock of `acquire`)
  java_cmd kafka.Kafka "$CONFIG"
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" "${JAVA_CMD[@]}" \
    </dev/null >>"$LOGS/kafka.out" 2>&1 9>&- &
  local i
  for i in $(seq 1 50); do
    [[ -s "$PIDFILE" ]] && break
    sleep 0.1
  done
  pid="$(<"$PIDFILE")" || die "the broker process did not start"
  write_info "$pid"

  local rc=0
  probe "$START_TIMEOUT" "$pid" || rc=$?
  if [[ $rc -ne 0 ]]; then
    log_tail
    if [[ $rc -eq 2 ]]; then
      rm -f "$PIDFILE" "$INFO"
      die "the broker exited during start-up (logs: ${LOGS#"$ROOT/"}/)"
    fi
    cmd_stop >/dev/null || true
    die "the broker did not answer on $BOOTSTRAP within ${START_TIMEOUT}s; stopped it (logs: ${LOGS#"$ROOT/"}/)"
  fi
  t1="$(date +%s%N)"
  local extra=""
  sasl_enabled && extra=", SASL_SSL on $HOST:$SASL_PORT"
  say "broker started (pid $pid) on $BOOTSTRAP$extra in $(( (t1 - t0) / 1000000000 )).$(( (t1 - t0) / 100000000 % 10 ))s; log: ${LOGS#"$ROOT/"}/server.log"
}

cmd_stop() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PIDFILE" "$INFO" "$AUTOSTOP"
    say "no broker started by scripts/kafka.sh is running; nothing to stop"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null && [[ $waited -lt $((STOP_TIMEOUT * 10)) ]]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "broker (pid $pid) still running after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE" "$INFO" "$AUTOSTOP"
  rm -rf "$LEASES"
  say "broker stopped (pid $pid)"
}

cmd_status() {
  local pid=""
  pid="$(our_pid || true)"
  if probe 0; then
    if [[ -n "$pid" ]]; then
      local extra=""
      if sasl_enabled && [[ -s "$INFO" ]] && grep -q sasl_ssl_bootstrap "$INFO"; then
        extra="; SASL_SSL on $HOST:$SASL_PORT"
      fi
      say "running (pid $pid), answering on $BOOTSTRAP$extra"
    else
      say "a broker answers on $BOOTSTRAP (not started by scripts/kafka.sh)"
    fi
    return 0
  fi
  if [[ -n "$pid" ]]; then
    say "process $pid is up but does not answer on $BOOTSTRAP (starting, or started for $(recorded_bootstrap || echo 'another address'))"
    return 1
  fi
  say "not running (nothing answers on $BOOTSTRAP)"
  return 3
}

# --- leases: several test runs in one tree share one broker -------------------------------

start_time_of() { # the kernel's start time of PID, to tell a reused pid from the original
  [[ -r "/proc/$1/stat" ]] || return 1
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $20}'
}

with_lock() {
  mkdir -p "$STATE"
  if command -v flock >/dev/null; then
    exec 9>"$STATE/lock"
    flock -w $((START_TIMEOUT + STOP_TIMEOUT + 600)) 9 || die "timed out waiting for $STATE/lock"
  fi
  "$@"
}

prune_leases() {
  local f holder
  [[ -d "$LEASES" ]] || return 0
  for f in "$LEASES"/*; do
    [[ -e "$f" ]] || continue
    holder="${f##*/}"
    if [[ "$(start_time_of "$holder" 2>/dev/null || true)" != "$(<"$f")" ]]; then
      rm -f "$f"
    fi
  done
}

do_acquire() {
  local holder="$1" started=0
  if ! probe 0; then
    # not answering: start (or wait for a start in progress), then mark the broker as ours to stop
    local before=""
    before="$(our_pid || true)"
    cmd_start
    if [[ -z "$before" ]] && our_pid >/dev/null; then started=1; fi
  fi
  if [[ $started -eq 1 ]]; then
    our_pid >"$AUTOSTOP"
  fi
  mkdir -p "$LEASES"
  start_time_of "$holder" >"$LEASES/$holder" || { rm -f "$LEASES/$holder"; die "no process $holder"; }
}

do_release() {
  local holder="$1"
  rm -f "$LEASES/$holder"
  prune_leases
  if compgen -G "$LEASES/*" >/dev/null; then
    return 0
  fi
  local pid
  if [[ -s "$AUTOSTOP" ]] && pid="$(our_pid)" && [[ "$(<"$AUTOSTOP")" == "$pid" ]]; then
    cmd_stop
  fi
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    start)
      # an explicit start keeps the broker running after tests release it
      with_lock cmd_start
      rm -f "$AUTOSTOP"
      ;;
    stop) with_lock cmd_stop ;;
    status) cmd_status ;;
    probe) probe 0 ;;
    acl) shift; kafka_java org.apache.kafka.tools.AclCommand --bootstrap-server "$BOOTSTRAP" "$@" ;;
    acquire)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || die "usage: scripts/kafka.sh acquire HOLDER_PID"
      with_lock do_acquire "$2"
      ;;
    release)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || die "usage: scripts/kafka.sh release HOLDER_PID"
      with_lock do_release "$2"
      ;;
    *)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
      exit 64
      ;;
  esac
}

main "$@"
