#!/usr/bin/env node
// The image's HEALTHCHECK: exits 0 when Klaxon's /healthz answers 2xx, else 1. No curl in the image.
// URL: KLAXON_HEALTH_URL when set (detect: http://127.0.0.1:8081/healthz), else serve/ingest on
// 127.0.0.1:KLAXON_PORT (default 8080), over HTTPS when KLAXON_TLS_CERT is set. The server
// certificate is not verified: it names the Service, not 127.0.0.1, and this only asks the process
// in the same container whether it is alive (with mTLS, /healthz needs no client certificate).
import { request as http } from 'node:http';
import { request as https } from 'node:https';

const url = new URL(
  process.env.KLAXON_HEALTH_URL ||
    `${process.env.KLAXON_TLS_CERT ? 'https' : 'http'}://127.0.0.1:${process.env.KLAXON_PORT || 8080}/healthz`,
);
const send = url.protocol === 'https:' ? https : http;
const req = send(url, { timeout: 2500, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exit(res.statusCode >= 200 && res.statusCode < 300 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (err) => {
  process.stderr.write(`healthcheck ${url}: ${err.message}\n`);
  process.exit(1);
});
req.end();
