# pubsub: sourced by services.sh, which provides say, die, port_open, pid_of, stop_pid, fail_start
# and $base. Defines pubsub_launch, _wait, _stop, _status and _purge.
# Google's in-memory Pub/Sub server (Go module cloud.google.com/go/pubsub/v2/pstest), wrapped by
# pstest/main.go and built once with `go build` from the Go module proxy. It serves the Pub/Sub
# gRPC API in plaintext, as the official emulator does: PUBSUB_EMULATOR_HOST=127.0.0.1:8085.
# State lives in the server's memory only: a restart loses every topic and subscription.
pdir=$base/pubsub
pubsub_port=8085
pubsub_src=$here/pstest
# The binary is named by the hash of its sources, so an edit or a version bump builds a new one.
pubsub_bin=$pdir/pstest-$(cat "$pubsub_src/main.go" "$pubsub_src/go.mod" "$pubsub_src/go.sum" | sha256sum | cut -c1-12)
pubsub_pidfile=$pdir/pstest.pid
pubsub_log=$pdir/pstest.log

pubsub_go() {
  command -v go 2>/dev/null || { [[ -x /usr/local/go/bin/go ]] && echo /usr/local/go/bin/go; }
}

pubsub_build() {
  [[ -x $pubsub_bin ]] && return 0
  local go started=$SECONDS
  go=$(pubsub_go) ||
    die "Go $(sed -n 's/^go //p' "$pubsub_src/go.mod") or newer is needed to build the Pub/Sub test server (https://go.dev/doc/install; a Go 1.21+ with GOTOOLCHAIN=auto fetches the newer toolchain from the module proxy)"
  say "building the Pub/Sub test server (pstest) with $("$go" version | cut -d' ' -f3) from the Go module proxy (once)"
  mkdir -p "$pdir"
  # Static, stripped, no VCS stamp (the module sits inside Klaxon's git work tree).
  (cd "$pubsub_src" && CGO_ENABLED=0 GOFLAGS='-buildvcs=false -mod=readonly' \
    "$go" build -trimpath -ldflags='-s -w' -o "$pubsub_bin.tmp" .) >"$pdir/build.log" 2>&1 || {
    tail -n 40 "$pdir/build.log" >&2
    die "go build of scripts/services.d/pstest failed (log: $pdir/build.log)"
  }
  mv -f "$pubsub_bin.tmp" "$pubsub_bin"
  say "built $pubsub_bin in $((SECONDS - started)) s"
}

pubsub_launch() {
  if pid_of "$pubsub_pidfile" "$pdir/pstest-" >/dev/null; then return 0; fi
  if port_open "$pubsub_port"; then
    say "port $pubsub_port is taken by a process not started here; using it as Pub/Sub if it answers"
    return 0
  fi
  pubsub_build
  [[ -f $pubsub_log ]] && mv -f "$pubsub_log" "$pubsub_log.1"
  say "starting the Pub/Sub test server on 127.0.0.1:$pubsub_port"
  setsid nohup "$pubsub_bin" -address "127.0.0.1:$pubsub_port" >"$pubsub_log" 2>&1 </dev/null 9>&- &
  echo $! >"$pubsub_pidfile"
}

# pubsub_ready: a real gRPC call (Publisher/ListTopics with an empty request, over HTTP/2 in
# plaintext) answered with grpc-status 0, so a foreign server on the port does not count.
pubsub_ready() {
  printf '\0\0\0\0\0' | curl -sS --max-time 5 --http2-prior-knowledge -o /dev/null -D - \
    -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- \
    "http://127.0.0.1:$pubsub_port/google.pubsub.v1.Publisher/ListTopics" 2>/dev/null |
    grep -qi '^grpc-status: 0'
}

pubsub_wait() {
  local start=$SECONDS
  while ((SECONDS - start < timeout_s)); do
    if pubsub_ready; then
      say "pubsub: Pub/Sub gRPC API answers at 127.0.0.1:$pubsub_port"
      return 0
    fi
    pid_of "$pubsub_pidfile" "$pdir/pstest-" >/dev/null || port_open "$pubsub_port" || fail_start pubsub "$pubsub_log"
    sleep 0.2
  done
  fail_start pubsub "$pubsub_log"
}

pubsub_stop() {
  local pid
  if pid=$(pid_of "$pubsub_pidfile" "$pdir/pstest-"); then stop_pid pubsub "$pid"; fi
  rm -f "$pubsub_pidfile"
}

pubsub_status() {
  local pid
  if pid=$(pid_of "$pubsub_pidfile" "$pdir/pstest-"); then
    echo "pubsub: running (pid $pid) on 127.0.0.1:$pubsub_port, $(grep -o 'cloud.google.com/go/pubsub/v2 v[^ ]*' "$pubsub_src/go.mod" | head -n 1 | cut -d' ' -f2) pstest, log $pubsub_log"
  elif port_open "$pubsub_port"; then
    echo "pubsub: port $pubsub_port open, served by a process not started by scripts/services"
  else
    echo "pubsub: stopped"
    return 1
  fi
}

# pstest keeps nothing on disk; the binary is a build cache, not data.
pubsub_purge() { :; }

pubsub_env() {
  echo "PUBSUB_EMULATOR_HOST=127.0.0.1:$pubsub_port"
}

register_service pubsub pubsub pubsub pstest
