# rsyslog: sourced by services.sh, which provides say, die, port_open, pid_of, stop_pid, fail_start
# and $base. Defines rsyslog_launch, _wait, _stop, _status and _purge.
# Debian's rsyslog as a syslog receiver for the SIEM sink tests, on its own ports (never 514):
#   127.0.0.1:10514  TCP, RFC 6587 octet counting (and LF framing)
#   127.0.0.1:10515  TLS (RFC 5425), server certificate from a test CA, no client certificate
#   127.0.0.1:10516  TLS requiring a client certificate signed by the same CA
# Every message received is written as one JSON line (RFC 5424 fields, MSG JSON-escaped) to
# $base/rsyslog/out/<tcp|tls|mtls>.jsonl. The test CA, server and client certificates are
# generated once into $base/rsyslog/tls.
rdir=$base/rsyslog
rsyslog_pidfile=$rdir/rsyslogd.pid
rsyslog_log=$rdir/rsyslogd.log
rsyslog_tcp_port=10514
rsyslog_tls_port=10515
rsyslog_mtls_port=10516
rsyslog_ossl=/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so

rsyslog_install() {
  command -v rsyslogd >/dev/null 2>&1 && [[ -f $rsyslog_ossl ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "rsyslog is missing: run 'sudo apt-get install rsyslog rsyslog-openssl'"
  say "installing Debian's rsyslog and rsyslog-openssl (once)"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rsyslog rsyslog-openssl; } \
    >"$base/apt-rsyslog.log" 2>&1 || fail_start rsyslog "$base/apt-rsyslog.log"
}

# A CA, a server certificate for 127.0.0.1/localhost and a client certificate: made once.
rsyslog_certificates() {
  local t=$rdir/tls
  [[ -f $t/.complete ]] && return 0
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to make the test certificates"
  rm -rf "$t" && mkdir -p "$t"
  (
    cd "$t"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Klaxon test CA" \
      -keyout ca.key -out ca.crt -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile server.ext -out server.crt
    openssl req -newkey rsa:2048 -nodes -subj "/CN=klaxon-test-client" -keyout client.key -out client.csr
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile client.ext -out client.crt
    chmod 644 ./*.crt ./*.key
  ) >"$rdir/openssl.log" 2>&1 || fail_start rsyslog "$rdir/openssl.log"
  touch "$t/.complete"
}

rsyslog_configure() {
  mkdir -p "$rdir/work" "$rdir/out"
  cat >"$rdir/rsyslog.conf" <<CONF
global(
  workDirectory="$rdir/work"
  maxMessageSize="64k"
  parser.escapeControlCharactersOnReceive="off"
  defaultNetstreamDriverCAFile="$rdir/tls/ca.crt"
  defaultNetstreamDriverCertFile="$rdir/tls/server.crt"
  defaultNetstreamDriverKeyFile="$rdir/tls/server.key"
)
module(load="imtcp" maxSessions="500")

template(name="klaxonJson" type="list") {
  constant(value="{\"pri\":") property(name="pri")
  constant(value=",\"hostname\":\"") property(name="hostname" format="json")
  constant(value="\",\"app\":\"") property(name="app-name" format="json")
  constant(value="\",\"procid\":\"") property(name="procid" format="json")
  constant(value="\",\"msgid\":\"") property(name="msgid" format="json")
  constant(value="\",\"sd\":\"") property(name="structured-data" format="json")
  constant(value="\",\"time\":\"") property(name="timereported" dateFormat="rfc3339" format="json")
  constant(value="\",\"msg\":\"") property(name="msg" format="json")
  constant(value="\"}\n")
}

ruleset(name="tcp") { action(type="omfile" file="$rdir/out/tcp.jsonl" template="klaxonJson" flushOnTXEnd="on") stop }
ruleset(name="tls") { action(type="omfile" file="$rdir/out/tls.jsonl" template="klaxonJson" flushOnTXEnd="on") stop }
ruleset(name="mtls") { action(type="omfile" file="$rdir/out/mtls.jsonl" template="klaxonJson" flushOnTXEnd="on") stop }

input(type="imtcp" address="127.0.0.1" port="$rsyslog_tcp_port" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="$rsyslog_tls_port" ruleset="tls"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="$rsyslog_mtls_port" ruleset="mtls"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
CONF
}

rsyslog_launch() {
  if pid_of "$rsyslog_pidfile" rsyslogd >/dev/null; then return 0; fi
  if port_open "$rsyslog_tcp_port"; then
    say "port $rsyslog_tcp_port is taken by a process not started here; using it as rsyslog if it answers"
    return 0
  fi
  rsyslog_install
  mkdir -p "$rdir"
  rsyslog_certificates
  rsyslog_configure
  rsyslogd -N1 -f "$rdir/rsyslog.conf" >"$rdir/check.log" 2>&1 || fail_start rsyslog "$rdir/check.log"
  [[ -f $rsyslog_log ]] && mv -f "$rsyslog_log" "$rsyslog_log.1"
  rm -f "$rsyslog_pidfile"
  say "starting rsyslog on 127.0.0.1:$rsyslog_tcp_port (TCP), :$rsyslog_tls_port (TLS), :$rsyslog_mtls_port (TLS + client certificate)"
  setsid nohup rsyslogd -n -f "$rdir/rsyslog.conf" -i "$rsyslog_pidfile" >"$rsyslog_log" 2>&1 </dev/null 9>&- &
}

rsyslog_wait() {
  local start=$SECONDS
  while ((SECONDS - start < timeout_s)); do
    if port_open "$rsyslog_tcp_port" && port_open "$rsyslog_tls_port" && port_open "$rsyslog_mtls_port"; then
      say "rsyslog: ready, writing to $rdir/out"
      return 0
    fi
    sleep 0.2
  done
  fail_start rsyslog "$rsyslog_log"
}

rsyslog_stop() {
  local pid
  if pid=$(pid_of "$rsyslog_pidfile" rsyslogd); then stop_pid rsyslog "$pid"; fi
  rm -f "$rsyslog_pidfile"
}

rsyslog_status() {
  local pid
  if pid=$(pid_of "$rsyslog_pidfile" rsyslogd); then
    echo "rsyslog: running (pid $pid) on 127.0.0.1:$rsyslog_tcp_port/$rsyslog_tls_port/$rsyslog_mtls_port, output $rdir/out, CA $rdir/tls/ca.crt"
  elif port_open "$rsyslog_tcp_port"; then
    echo "rsyslog: port $rsyslog_tcp_port open, served by a process not started by scripts/services"
  else
    echo "rsyslog: stopped"
    return 1
  fi
}

rsyslog_purge() { rm -rf "$rdir/out" "$rdir/work"; }

register_service rsyslog rsyslog rsyslog syslog
