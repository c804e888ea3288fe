#!/usr/bin/env bash
# Real test services for Klaxon, on 127.0.0.1, without Docker. One file per service in this
# folder (<name>.sh) defines <prefix>_launch, _wait, _stop, _status and _purge (and may define
# <prefix>_env) and registers itself:
#   kafka          Apache Kafka (single-node KRaft) from Maven Central, port 9092; SASL PLAIN as
#                  Azure Event Hubs does it on 9094 (SASL_PLAINTEXT) and 9095 (SASL_SSL)
#   elasticsearch  Elasticsearch integ-test-zip from Maven Central, port 9200 (run as a non-root user)
#   alertmanager   Debian's prometheus-alertmanager, port 9093
#   moto           moto's AWS emulator (CloudWatch Logs) from PyPI in a venv, port 5000
#   pubsub         Google's in-memory Pub/Sub server (pstest), built with Go, port 8085
#   rsyslog        Debian's rsyslog as a syslog receiver: TCP 10514, TLS 10515, TLS + client certificate 10516
#   otelcol        an OpenTelemetry Collector built from the Go module proxy: OTLP/HTTP 14318, file exporter
# Downloads, data, pid files and logs live in $KLAXON_SERVICES_DIR (default /var/tmp/klaxon-services),
# outside the repo, so every clone (and CI) shares one cache and one set of running servers.
set -euo pipefail

# Close every descriptor above 2 a caller left open (bash reads this script on 255). Run as
# `flock /tmp/klaxon-it.lock scripts/services up`, the lock is such a descriptor, and a server
# started from here would hold the shared lock for as long as it runs.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if ((fd > 2 && fd != 255)); then eval "exec $fd>&-"; fi
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base=${KLAXON_SERVICES_DIR:-/var/tmp/klaxon-services}
kafka_version=${KLAXON_KAFKA_VERSION:-4.4.0}
es_version=${KLAXON_ES_VERSION:-8.19.21}
log4j_version=2.25.3
slf4j_version=2.0.17
kafka_port=9092
kafka_controller_port=9097
es_port=9200
am_port=9093
es_user=klaxon-es
timeout_s=${KLAXON_SERVICES_TIMEOUT:-180}

say() { printf 'services: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: scripts/services up|start [NAME...]      start (downloading once) and wait until ready
       scripts/services down|stop [--purge] [NAME...]  stop; --purge also deletes the data
       scripts/services status [NAME...]        print each service's state (exit 1 if one is not running)
       scripts/services env [NAME...]           print the endpoints as shell variables
NAME: a service of scripts/services.d (kafka, elasticsearch, alertmanager, moto, pubsub); none = all
EOF
  exit 2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_of FILE MARKER: prints the pid recorded in FILE when that process is alive and its command
# line contains MARKER (a stale pid file, or a pid reused by another program, does not count).
pid_of() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  printf '%s\n' "$pid"
}

fail_start() {
  local name=$1 logfile=$2
  say "ERROR: $name did not become ready; last lines of $logfile:"
  tail -n 60 "$logfile" >&2 2>/dev/null || say "(no log at $logfile)"
  exit 1
}

# stop_pid NAME PID: SIGTERM, then SIGKILL after 60 s (Kafka and Elasticsearch shut down cleanly
# within seconds; a clean Kafka shutdown keeps its log segments consistent for the next start).
stop_pid() {
  local name=$1 pid=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || { say "$name stopped"; return 0; }
    sleep 0.1
  done
  say "$name did not stop within 60 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  # A start right after must not find the dying process still holding the port or the data dir.
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

need_java() {
  command -v java >/dev/null 2>&1 || die "Java 17+ is needed for Kafka and Elasticsearch (apt-get install openjdk-17-jdk-headless)"
  command -v mvn >/dev/null 2>&1 || die "Maven is needed to fetch Kafka and Elasticsearch from Maven Central (apt-get install maven)"
}

# ---------------------------------------------------------------- registry
# register_service NAME PREFIX ALIAS...: called by each service file when it is sourced.
service_names=()
declare -A service_prefix=()
register_service() {
  local name=$1 prefix=$2 alias
  shift 2
  service_names+=("$name")
  for alias in "$@"; do service_prefix[$alias]=$prefix; done
}

for file in "$here"/*.sh; do
  [[ $(basename "$file") == services.sh ]] || source "$file"
done

# ---------------------------------------------------------------- commands
fn_prefix() {
  [[ -n ${service_prefix[$1]:-} ]] || die "unknown service '$1' (${service_names[*]})"
  echo "${service_prefix[$1]}"
}

lock() {
  mkdir -p "$base"
  chmod 755 "$base" 2>/dev/null || true
  exec 9>"$base/.lock"
  # Parallel test runs each call `up`; one at a time decides what to start.
  flock 9
}

cmd=${1:-}
[[ -n $cmd ]] || usage
shift
purge=false
names=()
for arg in "$@"; do
  case $arg in
  --purge) purge=true ;;
  -*) usage ;;
  *) names+=("$(fn_prefix "$arg")") ;;
  esac
done
if ((${#names[@]} == 0)); then
  for name in "${service_names[@]}"; do names+=("$(fn_prefix "$name")"); done
fi

case $cmd in
up | start)
  lock
  started=$SECONDS
  # Launch everything first, then wait: the servers boot in parallel.
  for n in "${names[@]}"; do "${n}_launch"; done
  for n in "${names[@]}"; do "${n}_wait"; done
  say "ready in $((SECONDS - started)) s"
  ;;
down | stop)
  lock
  for n in "${names[@]}"; do "${n}_stop"; done
  if $purge; then
    for n in "${names[@]}"; do "${n}_purge"; done
    say "data deleted"
  fi
  ;;
status)
  rc=0
  for n in "${names[@]}"; do "${n}_status" || rc=1; done
  exit "$rc"
  ;;
env)
  echo "KAFKA_BROKERS=127.0.0.1:$kafka_port"
  echo "ELASTICSEARCH_URL=http://127.0.0.1:$es_port"
  echo "KLAXON_ALERTMANAGER_URL=http://127.0.0.1:$am_port"
  for n in "${names[@]}"; do
    if declare -F "${n}_env" >/dev/null; then "${n}_env"; fi
  done
  ;;
*) usage ;;
esac
