# kafka: sourced by services.sh, which provides say, die, port_open, pid_of, stop_pid, fail_start,
# need_java and $base. Defines kafka_launch, _wait, _stop, _status and _purge.
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
  detached java -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true -Dklaxon.service=kafka \
    -Dlog4j2.configurationFile="$kdir/log4j2.properties" -cp "$kafka_lib/*" \
    kafka.Kafka "$kdir/server.properties" >"$kafka_log" 2>&1 &
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

kafka_purge() { rm -rf "$kdir/data"; }

register_service kafka kafka kafka
