#!/bin/sh
# Posts every file under /samples to Klaxon ingest (compose's klaxon-samples
# service). Falco alerts go to /v1/falco, everything else to /v1/audit.
# JSON-lines files are posted line by line, as the API server's log backend and
# Falco write one event per line; .json files are posted whole (an EventList,
# an Event or an array).
set -eu
url="${KLAXON_INGEST_URL:-http://klaxon-ingest:8080}"
token="${KLAXON_TOKEN:?KLAXON_TOKEN is required}"
sent=0
failed=0

post() { # endpoint, @file
  if curl -fsS -o /dev/null -X POST "$url$1" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary "$2"; then
    sent=$((sent + 1))
  else
    failed=$((failed + 1))
  fi
}

files=$(find /samples -type f \( -name '*.json' -o -name '*.jsonl' -o -name '*.ndjson' \) | sort)
[ -n "$files" ] || { echo "no samples found under /samples" >&2; exit 1; }
for f in $files; do
  case "$f" in
    *falco*) endpoint=/v1/falco ;;
    *) endpoint=/v1/audit ;;
  esac
  case "$f" in
    *.json) post "$endpoint" "@$f" ;;
    *)
      while IFS= read -r line || [ -n "$line" ]; do
        [ -n "$line" ] || continue
        printf '%s' "$line" >/tmp/klaxon-sample.json
        post "$endpoint" @/tmp/klaxon-sample.json
      done <"$f"
      ;;
  esac
done
echo "klaxon-samples: $sent requests accepted, $failed failed"
[ "$failed" -eq 0 ]
