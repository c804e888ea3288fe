// No real HEC receiver can be had on the build machines (Splunk is not redistributable, and the
// OpenTelemetry Collector's splunkhecreceiver depends on contrib modules the Go module proxy does not
// serve here), so the HEC transport is tested against the wire contract of Splunk's documentation
// ("Format events for HTTP Event Collector", "HTTP Event Collector indexer acknowledgment", "Troubleshoot
// HTTP Event Collector": status and error codes): a local HTTP peer that answers as HEC documents it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SplunkHecTransport } from '../../../src/sinks/splunk-hec.ts';
import { SplunkHecSinkSettings } from '../../../src/sinks/splunk-hec-settings.ts';
import { makeAlert } from './make-alert.ts';

interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function hec(
  answer: (req: Seen, n: number) => { status: number; body: unknown },
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      const request = { path: req.url ?? '', headers: req.headers, body };
      seen.push(request);
      const { status, body: out } = answer(request, seen.length - 1);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, seen };
}

function tokenFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hec-')), 'token');
  writeFileSync(path, 'f3a1c2d4-0000-4000-8000-000000000001\n');
  return path;
}

/** Splits concatenated HEC event objects back into objects. */
function events(body: string): Array<Record<string, unknown>> {
  return body
    .replace(/}{"time"/g, '}\n{"time"')
    .split('\n')
    .map((s) => JSON.parse(s) as Record<string, unknown>);
}

describe('Splunk HEC transport (documented wire contract)', () => {
  it('posts batched events to /services/collector/event with the Splunk token scheme', async () => {
    const { url, seen } = await hec(() => ({ status: 200, body: { text: 'Success', code: 0 } }));
    const settings = SplunkHecSinkSettings.parse({
      type: 'splunk-hec',
      url,
      tokenFile: tokenFile(),
      index: 'k8s',
      batchSize: 2,
    });
    const transport = new SplunkHecTransport(settings);
    const alerts = [makeAlert('a'), makeAlert('b'), makeAlert('c')];
    expect(await transport.send(alerts)).toEqual([]);
    await transport.close();
    expect(seen.map((s) => s.path)).toEqual(['/services/collector/event', '/services/collector/event']);
    expect(seen[0]!.headers.authorization).toBe('Splunk f3a1c2d4-0000-4000-8000-000000000001');
    expect(seen[0]!.headers['x-splunk-request-channel']).toBeUndefined();
    const sent = seen.flatMap((s) => events(s.body));
    expect(sent.map((e) => (e.event as { klaxon: { alert_id: string } }).klaxon.alert_id)).toEqual(
      alerts.map((a) => a.klaxon.alert_id),
    );
    expect(sent[0]).toMatchObject({
      sourcetype: 'klaxon:alert',
      source: 'klaxon',
      index: 'k8s',
      host: 'test',
    });
  });

  it('with acknowledgement, sends a channel and waits until /services/collector/ack reports the ackId', async () => {
    let polls = 0;
    const { url, seen } = await hec((req) => {
      if (req.path.startsWith('/services/collector/event'))
        return { status: 200, body: { text: 'Success', code: 0, ackId: 7 } };
      polls++;
      return { status: 200, body: { acks: { '7': polls >= 3 } } };
    });
    const settings = SplunkHecSinkSettings.parse({
      type: 'splunk-hec',
      url,
      tokenFile: tokenFile(),
      ack: true,
      ackPollMs: 50,
    });
    const transport = new SplunkHecTransport(settings);
    expect(await transport.send([makeAlert('a')])).toEqual([]);
    await transport.close();
    const channel = seen[0]!.headers['x-splunk-request-channel'];
    expect(channel).toMatch(/^[0-9a-f-]{36}$/);
    const acks = seen.slice(1);
    expect(acks).toHaveLength(3);
    for (const a of acks) {
      expect(a.path).toBe(`/services/collector/ack?channel=${channel}`);
      expect(a.headers['x-splunk-request-channel']).toBe(channel);
      expect(JSON.parse(a.body)).toEqual({ acks: [7] });
    }
  });

  it('fails the batch (to be sent again) when the acknowledgement does not come in time', async () => {
    const { url } = await hec((req) =>
      req.path.startsWith('/services/collector/event')
        ? { status: 200, body: { text: 'Success', code: 0, ackId: 1 } }
        : { status: 200, body: { acks: { '1': false } } },
    );
    const settings = SplunkHecSinkSettings.parse({
      type: 'splunk-hec',
      url,
      tokenFile: tokenFile(),
      ack: true,
      ackPollMs: 50,
      ackTimeoutSeconds: 1,
    });
    const transport = new SplunkHecTransport(settings);
    await expect(transport.send([makeAlert('a')])).rejects.toThrow(/did not acknowledge/);
    await transport.close();
  });

  it('throws on 503 (server busy) so the batch is retried, and refuses nothing', async () => {
    const { url } = await hec(() => ({ status: 503, body: { text: 'Server is busy', code: 9 } }));
    const transport = new SplunkHecTransport(
      SplunkHecSinkSettings.parse({ type: 'splunk-hec', url, tokenFile: tokenFile() }),
    );
    await expect(transport.send([makeAlert('a')])).rejects.toThrow(/503/);
    await transport.close();
  });

  it('refuses only the event HEC names as invalid and sends the others again', async () => {
    const { url, seen } = await hec((_, n) =>
      n === 0
        ? { status: 400, body: { text: 'Invalid data format', code: 6, 'invalid-event-number': 1 } }
        : { status: 200, body: { text: 'Success', code: 0 } },
    );
    const transport = new SplunkHecTransport(
      SplunkHecSinkSettings.parse({ type: 'splunk-hec', url, tokenFile: tokenFile() }),
    );
    const alerts = [makeAlert('a'), makeAlert('b'), makeAlert('c')];
    const refused = await transport.send(alerts);
    await transport.close();
    expect(refused.map((r) => r.alert.klaxon.alert_id)).toEqual([alerts[1]!.klaxon.alert_id]);
    expect(refused[0]!.reason).toMatch(/code 6/);
    const resent = events(seen[1]!.body).map(
      (e) => (e.event as { klaxon: { alert_id: string } }).klaxon.alert_id,
    );
    expect(resent).toEqual([alerts[0]!.klaxon.alert_id, alerts[2]!.klaxon.alert_id]);
  });

  it('never puts the token in the settings or the URL', () => {
    expect(
      SplunkHecSinkSettings.safeParse({
        type: 'splunk-hec',
        url: 'https://admin:secret@splunk:8088',
        tokenFile: '/t',
      }).success,
    ).toBe(false);
    expect(
      SplunkHecSinkSettings.safeParse({
        type: 'splunk-hec',
        url: 'https://splunk:8088',
        token: 'x',
        tokenFile: '/t',
      }).success,
    ).toBe(false);
  });
});
