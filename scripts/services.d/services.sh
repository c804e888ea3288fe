#!/usr/bin/env bash
# Real test services for Klaxon, on 127.0.0.1, without Docker:
#   kafka          Apache Kafka (single-node KRaft) from Maven Central, port 9092
#   elasticsearch  Elasticsearch integ-test-zip from Maven Central, port 9200 (run as a non-root user)
#   alertmanager   Debian's prometheus-alertmanager, port 9093
# Downloads, data, pid files and logs live in $KLAXON_SERVICES_DIR (default /var/tmp/klaxon-services),
# outside the repo, so every clone (and CI) shares one cache and one set of running servers.
set -euo pipefail

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
       scripts/services env                     print the endpoints as shell variables
NAME: kafka | elasticsearch | alertmanager (none = all)
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

# ---------------------------------------------------------------- kafka
kdir=$base/kafka
kafka_pidfile=$kdir/kafka.pid
kafka_log=$kdir/kafka.log
kafka_lib=$kdir/lib-$kafka_version

kafka_fetch() {
  [[ -f $kafka_lib/.complete ]] && return 0
  need_java
  say "fetching Kafka $kafka_version and its runtime dependencies from Maven Central (once)"
  mkdir -p "$kdir/fetch"
  cat >"$kdir/fetch/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>klaxon.services</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$kafka_version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$log4j_version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$log4j_version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$slf4j_version</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$kafka_lib.tmp"
  (cd "$kdir/fetch" && mvn -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$kafka_lib.tmp") \
    >"$kdir/fetch/mvn.log" 2>&1 || {
    tail -n 40 "$kdir/fetch/mvn.log" >&2
    die "Maven could not fetch org.apache.kafka:kafka_2.13:$kafka_version"
  }
  javac -d "$kafka_lib.tmp/check" -cp "$kafka_lib.tmp/*" "$here/KafkaReady.java" || die "could not compile KafkaReady.java"
  touch "$kafka_lib.tmp/.complete"
  rm -rf "$kafka_lib"
  mv "$kafka_lib.tmp" "$kafka_lib"
}

kafka_configure() {
  mkdir -p "$kdir/data"
  cat >"$kdir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$kafka_controller_port
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$kafka_controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$kdir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
delete.topic.enable=true
EOF
  cat >"$kdir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  if [[ ! -f $kdir/data/meta.properties ]]; then
    # A fixed cluster id: the base64url form of the 16 bytes "klaxon-test-clus".
    java -cp "$kafka_lib/*" -Dlog4j2.configurationFile="$kdir/log4j2.properties" kafka.tools.StorageTool \
      format -t a2xheG9uLXRlc3QtY2x1cw -c "$kdir/server.properties" >"$kdir/format.log" 2>&1 ||
      fail_start kafka "$kdir/format.log"
  fi
}

kafka_ready() {
  java -cp "$kafka_lib/*:$kafka_lib/check" KafkaReady "127.0.0.1:$kafka_port" "$1" 2>/dev/null
}

kafka_launch() {
  if pid_of "$kafka_pidfile" klaxon.service=kafka >/dev/null; then return 0; fi
  if port_open "$kafka_port"; then
    say "port $kafka_port is taken by a process not started here; using it as Kafka if it answers"
    return 0
  fi
  kafka_fetch
  kafka_configure
  [[ -f $kafka_log ]] && mv -f "$kafka_log" "$kafka_log.1"
  say "starting Kafka $kafka_version on 127.0.0.1:$kafka_port"
  setsid nohup java -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true -Dklaxon.service=kafka \
    -Dlog4j2.configurationFile="$kdir/log4j2.properties" -cp "$kafka_lib/*" \
    kafka.Kafka "$kdir/server.properties" >"$kafka_log" 2>&1 </dev/null 9>&- &
  echo $! >"$kafka_pidfile"
}

kafka_wait() {
  local start=$SECONDS
  while ((SECONDS - start < timeout_s)); do
    if [[ -s $kafka_pidfile ]] && ! pid_of "$kafka_pidfile" klaxon.service=kafka >/dev/null && ! port_open "$kafka_port"; then
      fail_start kafka "$kafka_log"
    fi
    if kafka_ready 10; then return 0; fi
  done
  fail_start kafka "$kafka_log"
}

kafka_stop() {
  local pid
  if pid=$(pid_of "$kafka_pidfile" klaxon.service=kafka); then stop_pid kafka "$pid"; fi
  rm -f "$kafka_pidfile"
}

kafka_status() {
  local pid
  if pid=$(pid_of "$kafka_pidfile" klaxon.service=kafka); then
    echo "kafka: running (pid $pid) on 127.0.0.1:$kafka_port, Kafka $kafka_version, log $kafka_log"
  elif port_open "$kafka_port"; then
    echo "kafka: port $kafka_port open, served by a process not started by scripts/services"
  else
    echo "kafka: stopped"
    return 1
  fi
}

# ---------------------------------------------------------------- elasticsearch
edir=$base/elasticsearch
es_home=$edir/elasticsearch-$es_version
es_pidfile=$edir/run/elasticsearch.pid
es_log=$edir/logs/klaxon.log
es_start_log=$edir/start.log

# Elasticsearch refuses to run as root: as root, run it as a dedicated system user.
es_as() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$es_user" -- "$@"
  else
    "$@"
  fi
}

es_java_home() {
  if [[ -n ${KLAXON_ES_JAVA_HOME:-} ]]; then
    echo "$KLAXON_ES_JAVA_HOME"
  else
    dirname "$(dirname "$(readlink -f "$(command -v java)")")"
  fi
}

es_fetch() {
  [[ -f $es_home/.complete ]] && return 0
  need_java
  command -v unzip >/dev/null 2>&1 || die "unzip is needed to unpack Elasticsearch (apt-get install unzip)"
  say "fetching Elasticsearch $es_version (integ-test-zip) from Maven Central (once)"
  mkdir -p "$edir/fetch"
  (cd "$edir/fetch" && mvn -B dependency:copy \
    -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$es_version:zip" -DoutputDirectory="$edir/fetch") \
    >"$edir/fetch/mvn.log" 2>&1 || {
    tail -n 40 "$edir/fetch/mvn.log" >&2
    die "Maven could not fetch org.elasticsearch.distribution.integ-test-zip:elasticsearch:$es_version:zip"
  }
  rm -rf "$edir/unpack" "$es_home"
  mkdir -p "$edir/unpack"
  unzip -q "$edir/fetch/elasticsearch-$es_version.zip" -d "$edir/unpack"
  mv "$edir/unpack/elasticsearch-$es_version" "$es_home"
  rm -rf "$edir/unpack" "$edir/fetch/elasticsearch-$es_version.zip"
  touch "$es_home/.complete"
}

es_configure() {
  if [[ $(id -u) -eq 0 ]] && ! id "$es_user" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir "$edir" --shell /usr/sbin/nologin "$es_user"
  fi
  mkdir -p "$edir/data" "$edir/logs" "$edir/run" "$edir/tmp"
  cat >"$es_home/config/elasticsearch.yml" <<EOF
cluster.name: klaxon
node.name: klaxon-es
network.host: 127.0.0.1
http.port: $es_port
transport.port: 9300
discovery.type: single-node
path.data: $edir/data
path.logs: $edir/logs
xpack.security.enabled: false
# Tests write to this node on whatever disk the machine has; do not turn indices read-only.
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
EOF
  printf -- '-Xms512m\n-Xmx512m\n' >"$es_home/config/jvm.options.d/klaxon.options"
  if [[ $(id -u) -eq 0 ]]; then
    chmod 755 "$base" "$edir"
    chown -R "$es_user" "$es_home" "$edir/data" "$edir/logs" "$edir/run" "$edir/tmp"
    runuser -u "$es_user" -- test -r "$es_home/bin/elasticsearch" ||
      die "user $es_user cannot read $es_home; set KLAXON_SERVICES_DIR to a directory outside /root"
  fi
}

es_launch() {
  if pid_of "$es_pidfile" org.elasticsearch >/dev/null; then return 0; fi
  if port_open "$es_port"; then
    say "port $es_port is taken by a process not started here; using it as Elasticsearch if it answers"
    return 0
  fi
  es_fetch
  es_configure
  rm -f "$es_pidfile"
  say "starting Elasticsearch $es_version on 127.0.0.1:$es_port (Java at $(es_java_home))"
  (cd "$edir" && es_as env ES_JAVA_HOME="$(es_java_home)" ES_TMPDIR="$edir/tmp" ES_JAVA_OPTS="" \
    setsid nohup "$es_home/bin/elasticsearch" -d -p "$es_pidfile" >"$es_start_log" 2>&1 </dev/null 9>&-) &
  es_launcher=$!
}

es_wait() {
  local start=$SECONDS
  if [[ -n ${es_launcher:-} ]]; then
    # With -d the launcher returns once the node has started, or failed to.
    wait "$es_launcher" || {
      cat "$es_start_log" >&2
      fail_start elasticsearch "$es_log"
    }
  fi
  while ((SECONDS - start < timeout_s)); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$es_port/_cluster/health?wait_for_status=yellow&timeout=5s" 2>/dev/null; then
      say "elasticsearch: cluster health yellow or better at http://127.0.0.1:$es_port"
      return 0
    fi
    pid_of "$es_pidfile" org.elasticsearch >/dev/null || port_open "$es_port" || fail_start elasticsearch "$es_log"
    sleep 1
  done
  fail_start elasticsearch "$es_log"
}

es_stop() {
  local pid
  if pid=$(pid_of "$es_pidfile" org.elasticsearch); then stop_pid elasticsearch "$pid"; fi
  rm -f "$es_pidfile"
}

es_status() {
  local pid
  if pid=$(pid_of "$es_pidfile" org.elasticsearch); then
    echo "elasticsearch: running (pid $pid) on 127.0.0.1:$es_port, Elasticsearch $es_version, log $es_log"
  elif port_open "$es_port"; then
    echo "elasticsearch: port $es_port open, served by a process not started by scripts/services"
  else
    echo "elasticsearch: stopped"
    return 1
  fi
}

# ---------------------------------------------------------------- alertmanager
adir=$base/alertmanager
am_pidfile=$adir/alertmanager.pid
am_log=$adir/alertmanager.log

am_bin() { command -v prometheus-alertmanager || command -v alertmanager; }

am_install() {
  am_bin >/dev/null && return 0
  [[ $(id -u) -eq 0 ]] || die "Alertmanager is missing: run 'sudo apt-get install prometheus-alertmanager'"
  say "installing Debian's prometheus-alertmanager (once)"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus-alertmanager; } >"$base/apt.log" 2>&1 ||
    fail_start alertmanager "$base/apt.log"
}

am_launch() {
  if pid_of "$am_pidfile" alertmanager >/dev/null; then return 0; fi
  if port_open "$am_port"; then
    say "port $am_port is taken by a process not started here; using it as Alertmanager if it answers"
    return 0
  fi
  am_install
  mkdir -p "$adir/data"
  cat >"$adir/alertmanager.yml" <<'EOF'
route:
  receiver: discard
receivers:
  - name: discard
EOF
  [[ -f $am_log ]] && mv -f "$am_log" "$am_log.1"
  say "starting Alertmanager on 127.0.0.1:$am_port"
  setsid nohup "$(am_bin)" --config.file="$adir/alertmanager.yml" --storage.path="$adir/data" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= >"$am_log" 2>&1 </dev/null 9>&- &
  echo $! >"$am_pidfile"
}

am_wait() {
  local start=$SECONDS
  while ((SECONDS - start < timeout_s)); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$am_port/-/ready" 2>/dev/null; then
      say "alertmanager: ready at http://127.0.0.1:$am_port"
      return 0
    fi
    pid_of "$am_pidfile" alertmanager >/dev/null || port_open "$am_port" || fail_start alertmanager "$am_log"
    sleep 0.5
  done
  fail_start alertmanager "$am_log"
}

am_stop() {
  local pid
  if pid=$(pid_of "$am_pidfile" alertmanager); then stop_pid alertmanager "$pid"; fi
  rm -f "$am_pidfile"
}

am_status() {
  local pid
  if pid=$(pid_of "$am_pidfile" alertmanager); then
    echo "alertmanager: running (pid $pid) on 127.0.0.1:$am_port, log $am_log"
  elif port_open "$am_port"; then
    echo "alertmanager: port $am_port open, served by a process not started by scripts/services"
  else
    echo "alertmanager: stopped"
    return 1
  fi
}

# ---------------------------------------------------------------- commands
fn_prefix() {
  case $1 in
  kafka) echo kafka ;;
  elasticsearch | es) echo es ;;
  alertmanager | am) echo am ;;
  *) die "unknown service '$1' (kafka, elasticsearch, alertmanager)" ;;
  esac
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
((${#names[@]})) || names=(kafka es am)

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
    for n in "${names[@]}"; do
      case $n in
      kafka) rm -rf "$kdir/data" ;;
      es) rm -rf "$edir/data" ;;
      am) rm -rf "$adir/data" ;;
      esac
    done
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
  ;;
*) usage ;;
esac
