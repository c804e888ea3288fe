# elasticsearch: sourced by services.sh, which provides say, die, port_open, pid_of, stop_pid, fail_start,
# need_java and $base. Defines es_launch, _wait, _stop, _status and _purge.
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

es_purge() { rm -rf "$edir/data"; }

register_service elasticsearch es elasticsearch es
