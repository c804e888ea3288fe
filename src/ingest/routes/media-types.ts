/**
 * The media types of a body of JSON records: one document, an array, JSON lines (Falco's `http_output`, Fluent Bit's
 * `json_lines`, Vector's newline-delimited JSON) or an RFC 7464 sequence. The route's `config.accepts`.
 */
export const JSON_RECORDS = [
  'application/json',
  'application/x-ndjson',
  'application/jsonl',
  'application/ndjson',
  'application/json-seq',
];
