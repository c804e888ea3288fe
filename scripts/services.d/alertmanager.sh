# alertmanager: sourced by services.sh, which provides say, die, port_open, pid_of, stop_pid, fail_start,
# need_java and $base. Defines am_launch, _wait, _stop, _status and _purge.
adir=$base/alertmanager
am_pidfile=$adir/alertmanager.pid
am_log=$adir/alertmanager.log

# Alerts of clusters named klaxon-webhook-* are routed to a webhook receiver that a test runs on this
# port, to count notifications (test/integration/detect-failover.test.ts); every other alert is discarded.
am_webhook_port=19093

am_bin() { command -v prometheus-alertmanager || command -v alertmanager; }

am_config() {
  cat <<EOF
route:
  receiver: discard
  routes:
    - receiver: test-webhook
      matchers: ['cluster=~"klaxon-webhook-.*"']
      group_by: [alert_id]
      group_wait: 1s
      group_interval: 1s
      repeat_interval: 24h
receivers:
  - name: discard
  - name: test-webhook
    webhook_configs:
      - url: http://127.0.0.1:$am_webhook_port/alerts
        send_resolved: false
EOF
}

am_install() {
  am_bin >/dev/null && return 0
  [[ $(id -u) -eq 0 ]] || die "Alertmanager is missing: run 'sudo apt-get install prometheus-alertmanager'"
  say "installing Debian's prometheus-alertmanager (once)"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus-alertmanager; } >"$base/apt.log" 2>&1 ||
    fail_start alertmanager "$base/apt.log"
}

am_launch() {
  if pid_of "$am_pidfile" alertmanager >/dev/null; then
    # Running with a configuration an older version of this script wrote: bring it up to date.
    if ! am_config | cmp -s - "$adir/alertmanager.yml"; then
      am_config >"$adir/alertmanager.yml"
      say "alertmanager: configuration changed, reloading"
      curl -fsS -o /dev/null -X POST "http://127.0.0.1:$am_port/-/reload" ||
        say "alertmanager: reload refused; see $am_log, or restart it"
    fi
    return 0
  fi
  if port_open "$am_port"; then
    say "port $am_port is taken by a process not started here; using it as Alertmanager if it answers"
    return 0
  fi
  am_install
  mkdir -p "$adir/data"
  am_config >"$adir/alertmanager.yml"
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

am_purge() { rm -rf "$adir/data"; }

register_service alertmanager am alertmanager am
