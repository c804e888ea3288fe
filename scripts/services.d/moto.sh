# moto: sourced by services.sh, which provides say, die, port_open, pid_of, stop_pid, fail_start
# and $base. Defines moto_launch, _wait, _stop, _status and _purge.
# moto's server mode emulates AWS APIs over HTTP on one port; Klaxon's EKS source tests use its
# CloudWatch Logs (endpoint override AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://127.0.0.1:5000).
# State lives in the server's memory only: a restart loses every log group.
mdir=$base/moto
moto_port=5000
moto_requirements=$here/moto/requirements.txt
# The venv is named by the hash of the pinned requirements, so a version bump builds a new one.
moto_venv=$mdir/venv-$(sha256sum "$moto_requirements" | cut -c1-12)
moto_pidfile=$mdir/moto.pid
moto_log=$mdir/moto.log

moto_install() {
  [[ -f $moto_venv/.complete ]] && return 0
  command -v python3 >/dev/null 2>&1 || die "python3 (3.9 or newer) is needed for moto (apt-get install python3 python3-venv)"
  python3 -c 'import venv, ensurepip' 2>/dev/null ||
    die "python3 cannot create virtual environments, needed for moto (apt-get install python3-venv)"
  say "installing moto (scripts/services.d/moto/requirements.txt) from PyPI into $moto_venv (once)"
  mkdir -p "$mdir"
  # A venv cannot be moved once made, so it is built in place and marked complete at the end.
  rm -rf "$moto_venv"
  { python3 -m venv "$moto_venv" &&
    "$moto_venv/bin/pip" install -q --disable-pip-version-check --no-input -r "$moto_requirements"; } \
    >"$mdir/pip.log" 2>&1 || {
    tail -n 40 "$mdir/pip.log" >&2
    rm -rf "$moto_venv"
    die "pip could not install moto from PyPI (log: $mdir/pip.log)"
  }
  touch "$moto_venv/.complete"
}

moto_launch() {
  if pid_of "$moto_pidfile" moto_server >/dev/null; then return 0; fi
  if port_open "$moto_port"; then
    say "port $moto_port is taken by a process not started here; using it as moto if it answers"
    return 0
  fi
  moto_install
  [[ -f $moto_log ]] && mv -f "$moto_log" "$moto_log.1"
  say "starting moto on 127.0.0.1:$moto_port"
  setsid nohup "$moto_venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1 </dev/null 9>&- &
  echo $! >"$moto_pidfile"
}

# moto_ready: a real CloudWatch Logs call (moto does not check signatures, only reads the region
# and service from the credential scope), so a foreign server on the port does not count.
moto_ready() {
  curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$moto_port/" \
    -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: Logs_20140328.DescribeLogGroups' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0' \
    --data '{"limit": 1}' 2>/dev/null
}

moto_wait() {
  local start=$SECONDS
  while ((SECONDS - start < timeout_s)); do
    if moto_ready; then
      say "moto: CloudWatch Logs API answers at http://127.0.0.1:$moto_port"
      return 0
    fi
    pid_of "$moto_pidfile" moto_server >/dev/null || port_open "$moto_port" || fail_start moto "$moto_log"
    sleep 0.5
  done
  fail_start moto "$moto_log"
}

moto_stop() {
  local pid
  if pid=$(pid_of "$moto_pidfile" moto_server); then stop_pid moto "$pid"; fi
  rm -f "$moto_pidfile"
}

moto_status() {
  local pid
  if pid=$(pid_of "$moto_pidfile" moto_server); then
    echo "moto: running (pid $pid) on 127.0.0.1:$moto_port, $(sed -n 's/^moto==//p' "$moto_requirements" | sed 's/^/moto /'), log $moto_log"
  elif port_open "$moto_port"; then
    echo "moto: port $moto_port open, served by a process not started by scripts/services"
  else
    echo "moto: stopped"
    return 1
  fi
}

# moto keeps nothing on disk; the venv is a download cache, not data.
moto_purge() { :; }

moto_env() {
  echo "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://127.0.0.1:$moto_port"
}

register_service moto moto moto
