# otelcol: sourced by services.sh, which provides say, die, port_open, pid_of, stop_pid, fail_start
# and $base. Defines otelcol_launch, _wait, _stop, _status and _purge.
# An OpenTelemetry Collector for the OTLP sink tests: the OTLP/HTTP receiver on 127.0.0.1:14318 and
# the file exporter writing every request as one OTLP JSON line to $base/otelcol/out/logs.jsonl.
# Built once from the Go module proxy (otelcol/main.go, go.mod, go.sum beside this file: the
# collector's own component factories, pinned by go.sum), cached under $base/otelcol by the hash
# of those files. Needs Go (the version go.mod names, or newer). A cold build takes a few minutes.
odir=$base/otelcol
otelcol_src=$here/otelcol
otelcol_pidfile=$odir/otelcol.pid
otelcol_log=$odir/otelcol.log
otelcol_port=14318

otelcol_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else die "Go is needed to build the OpenTelemetry Collector for the tests (https://go.dev/doc/install; it then fetches modules from the Go module proxy)"
  fi
}

otelcol_bin() {
  local hash
  hash=$(cat "$otelcol_src/go.mod" "$otelcol_src/go.sum" "$otelcol_src/main.go" | sha256sum | cut -c1-16)
  echo "$odir/bin/klaxon-otelcol-$hash"
}

otelcol_build() {
  local bin go started
  bin=$(otelcol_bin)
  [[ -x $bin ]] && return 0
  go=$(otelcol_go)
  mkdir -p "$odir/bin"
  started=$SECONDS
  say "building the OpenTelemetry Collector (OTLP receiver + file exporter) from the Go module proxy (once; a few minutes)"
  # Its own module and build caches: a fresh machine measures the same, and other builds on the machine do not interfere.
  (cd "$otelcol_src" && GOMODCACHE="$odir/gomod" GOCACHE="$odir/gocache" GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
    "$go" build -trimpath -ldflags="-s -w" -o "$bin.tmp" .) >"$odir/build.log" 2>&1 || fail_start otelcol "$odir/build.log"
  mv -f "$bin.tmp" "$bin"
  say "otelcol: built in $((SECONDS - started)) s"
}

otelcol_configure() {
  mkdir -p "$odir/out"
  cat >"$odir/otelcol.yaml" <<CONF
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$otelcol_port
exporters:
  file:
    path: $odir/out/logs.jsonl
    format: json
    # A restart (the outage tests stop and start the collector) must not truncate what was written.
    append: true
    flush_interval: 100ms
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [file]
CONF
}

otelcol_launch() {
  if pid_of "$otelcol_pidfile" klaxon-otelcol >/dev/null; then return 0; fi
  if port_open "$otelcol_port"; then
    say "port $otelcol_port is taken by a process not started here; using it as the collector if it answers"
    return 0
  fi
  otelcol_build
  otelcol_configure
  [[ -f $otelcol_log ]] && mv -f "$otelcol_log" "$otelcol_log.1"
  say "starting the OpenTelemetry Collector on 127.0.0.1:$otelcol_port (OTLP/HTTP)"
  setsid nohup "$(otelcol_bin)" --config="file:$odir/otelcol.yaml" >"$otelcol_log" 2>&1 </dev/null 9>&- &
  echo $! >"$otelcol_pidfile"
}

otelcol_wait() {
  local start=$SECONDS pid
  pid=$(tr -dc '0-9' <"$otelcol_pidfile" 2>/dev/null || true)
  while ((SECONDS - start < timeout_s)); do
    if curl -fsS -o /dev/null -H 'content-type: application/json' --data '{}' "http://127.0.0.1:$otelcol_port/v1/logs" 2>/dev/null; then
      say "otelcol: ready at http://127.0.0.1:$otelcol_port, writing to $odir/out/logs.jsonl"
      return 0
    fi
    # The launched pid, not pid_of: until it execs the collector its command line is still this script's.
    { [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; } || port_open "$otelcol_port" || fail_start otelcol "$otelcol_log"
    sleep 0.2
  done
  fail_start otelcol "$otelcol_log"
}

otelcol_stop() {
  local pid
  if pid=$(pid_of "$otelcol_pidfile" klaxon-otelcol); then stop_pid otelcol "$pid"; fi
  rm -f "$otelcol_pidfile"
}

otelcol_status() {
  local pid
  if pid=$(pid_of "$otelcol_pidfile" klaxon-otelcol); then
    echo "otelcol: running (pid $pid) on 127.0.0.1:$otelcol_port, output $odir/out/logs.jsonl, log $otelcol_log"
  elif port_open "$otelcol_port"; then
    echo "otelcol: port $otelcol_port open, served by a process not started by scripts/services"
  else
    echo "otelcol: stopped"
    return 1
  fi
}

otelcol_purge() { rm -rf "$odir/out"; }

register_service otelcol otelcol otelcol otel
