# kafka: sourced by services.sh, which provides say, die, port_open, pid_of, stop_pid, fail_start,
# need_java and $base. Defines kafka_launch, _wait, _stop, _status and _purge.
kdir=$base/kafka
kafka_pidfile=$kdir/kafka.pid
kafka_log=$kdir/kafka.log
kafka_lib=$kdir/lib-$kafka_version
# Azure Event Hubs' Kafka endpoint authenticates with SASL PLAIN, user `$ConnectionString`,
# password the connection string. Two more listeners speak that: SASL_PLAINTEXT and SASL_SSL
# (TLS with a test CA). The credentials and the CA are made once in $ksasl; tests read the files.
kafka_sasl_port=9094
kafka_sasl_ssl_port=9095
ksasl=$kdir/sasl

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

# kafka_sasl_material: once (and again when the server certificate is about to expire) makes the
# Event Hubs-shaped connection strings, a test CA and the SASL_SSL listener's certificate for
# 127.0.0.1 and localhost. Private keys and credentials are readable by their owner only.
kafka_sasl_material() {
  if [[ -s $ksasl/server-keystore.pem && -s $ksasl/connection-string ]] &&
    openssl x509 -checkend 86400 -noout -in "$ksasl/server.pem" >/dev/null 2>&1; then
    return 0
  fi
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to make the Kafka SASL_SSL test certificate (apt-get install openssl)"
  say "making the Kafka SASL test CA, certificate and connection strings in $ksasl (once)"
  rm -rf "$ksasl"
  mkdir -p "$ksasl"
  (
    umask 077
    cd "$ksasl"
    local hub='Endpoint=sb://klaxon-test.servicebus.windows.net/;SharedAccessKeyName=klaxon-listen;SharedAccessKey='
    printf '%s%s\n' "$hub" "$(openssl rand -base64 32)" >connection-string
    printf '%s%s\n' "$hub" "$(openssl rand -base64 32)" >wrong-connection-string
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj '/CN=Klaxon test CA' &&
      openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' &&
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
        -extfile server.ext -out server.pem &&
      cat server.key server.pem >server-keystore.pem
  ) >"$kdir/openssl.log" 2>&1 || {
    cat "$kdir/openssl.log" >&2
    rm -rf "$ksasl"
    die "openssl could not make the Kafka SASL_SSL test certificate"
  }
  chmod 644 "$ksasl/ca.pem"
}

# kafka_jaas: the broker-side PLAIN login, one line for server.properties. The second connection
# string is deliberately absent: tests use it to see the broker refuse a wrong password.
kafka_jaas() {
  printf 'org.apache.kafka.common.security.plain.PlainLoginModule required user_$ConnectionString="%s";' \
    "$(cat "$ksasl/connection-string")"
}

kafka_configure() {
  kafka_sasl_material
  mkdir -p "$kdir/data"
  cat >"$kdir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$kafka_controller_port
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$kafka_controller_port,SASL_PLAINTEXT://127.0.0.1:$kafka_sasl_port,SASL_SSL://127.0.0.1:$kafka_sasl_ssl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port,SASL_PLAINTEXT://127.0.0.1:$kafka_sasl_port,SASL_SSL://127.0.0.1:$kafka_sasl_ssl_port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=$(kafka_jaas)
listener.name.sasl_ssl.plain.sasl.jaas.config=$(kafka_jaas)
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$ksasl/server-keystore.pem
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
  local pid
  if pid=$(pid_of "$kafka_pidfile" klaxon.service=kafka); then
    port_open "$kafka_sasl_ssl_port" && return 0
    # Started by a scripts/services from before the SASL listeners: restart it with them
    # (topic data survives a restart).
    say "Kafka (pid $pid) runs without the SASL listeners; restarting it with them"
    stop_pid kafka "$pid"
  fi
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
  local start=$SECONDS ready=false
  while ((SECONDS - start < timeout_s)); do
    if [[ -s $kafka_pidfile ]] && ! pid_of "$kafka_pidfile" klaxon.service=kafka >/dev/null && ! port_open "$kafka_port"; then
      fail_start kafka "$kafka_log"
    fi
    if kafka_ready 10; then
      ready=true
      break
    fi
  done
  $ready || fail_start kafka "$kafka_log"
  if port_open "$kafka_sasl_port" && port_open "$kafka_sasl_ssl_port"; then
    say "kafka: SASL PLAIN listeners at 127.0.0.1:$kafka_sasl_port (SASL_PLAINTEXT) and 127.0.0.1:$kafka_sasl_ssl_port (SASL_SSL)"
  elif pid_of "$kafka_pidfile" klaxon.service=kafka >/dev/null; then
    fail_start kafka "$kafka_log"
  else
    say "WARNING: the Kafka on port $kafka_port was not started here and has no SASL listeners on $kafka_sasl_port/$kafka_sasl_ssl_port: the Event Hubs (SASL) tests will fail"
  fi
}

kafka_stop() {
  local pid
  if pid=$(pid_of "$kafka_pidfile" klaxon.service=kafka); then stop_pid kafka "$pid"; fi
  rm -f "$kafka_pidfile"
}

kafka_status() {
  local pid
  if pid=$(pid_of "$kafka_pidfile" klaxon.service=kafka); then
    local sasl="SASL_PLAINTEXT $kafka_sasl_port, SASL_SSL $kafka_sasl_ssl_port"
    port_open "$kafka_sasl_ssl_port" || sasl="no SASL listeners: started by an older scripts/services, 'up' restarts it"
    echo "kafka: running (pid $pid) on 127.0.0.1:$kafka_port ($sasl), Kafka $kafka_version, log $kafka_log"
  elif port_open "$kafka_port"; then
    echo "kafka: port $kafka_port open, served by a process not started by scripts/services"
  else
    echo "kafka: stopped"
    return 1
  fi
}

kafka_purge() { rm -rf "$kdir/data"; }

kafka_env() {
  echo "KLAXON_TEST_EVENTHUBS_SASL_BROKERS=127.0.0.1:$kafka_sasl_port"
  echo "KLAXON_TEST_EVENTHUBS_SASL_SSL_BROKERS=127.0.0.1:$kafka_sasl_ssl_port"
  echo "KLAXON_TEST_EVENTHUBS_CA_FILE=$ksasl/ca.pem"
  echo "KLAXON_TEST_EVENTHUBS_CONNECTION_STRING_FILE=$ksasl/connection-string"
  echo "KLAXON_TEST_EVENTHUBS_WRONG_CONNECTION_STRING_FILE=$ksasl/wrong-connection-string"
}

register_service kafka kafka kafka
