import { mkdtempSync, writeFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../scripts/bench/workload.ts';
import { Detector, loadRules } from '../../../src/detect/index.ts';
import { loadPlaceholders, watchPlaceholders } from '../../../src/detect/placeholder-files.ts';
import {
  defaultPlaceholders,
  IpSet,
  PlaceholderStore,
  parseAddress,
  parsePlaceholderText,
} from '../../../src/detect/placeholders.ts';
import { audit, rule } from './helpers.ts';

function load(detection: string, store: PlaceholderStore) {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-expand-'));
  writeFileSync(join(dir, 'r.yml'), rule(detection));
  return loadRules([dir], { placeholders: store });
}

function fires(detector: Detector, raw: Record<string, unknown>): boolean {
  return detector.evaluate(audit(raw)).length > 0;
}

describe('IpSet', () => {
  it('matches exact addresses, networks of any prefix length, IPv6 and IPv4-mapped IPv6', () => {
    const set = new IpSet(['203.0.113.7', '198.51.100.0/24', '10.0.0.0/8', '2001:db8::/32', '2001:db8:1::5']);
    expect(set.has('203.0.113.7')).toBe(true);
    expect(set.has('203.0.113.8')).toBe(false);
    expect(set.has('198.51.100.254')).toBe(true);
    expect(set.has('198.51.101.1')).toBe(false);
    expect(set.has('10.255.1.2')).toBe(true);
    expect(set.has('::ffff:10.1.2.3')).toBe(true);
    expect(set.has('2001:db8:ffff::1')).toBe(true);
    expect(set.has('2001:db9::1')).toBe(false);
    expect(set.has('2001:0db8:0001:0000:0000:0000:0000:0005')).toBe(true);
    expect(set.has('fe80::1%eth0')).toBe(false);
    expect(set.has('not-an-ip')).toBe(false);
    expect(set.has('1.2.3')).toBe(false);
    expect(set.size).toBe(5);
  });

  it('notes entries that are neither an address nor a network', () => {
    const set = new IpSet(['1.2.3.4/33', '300.1.1.1', 'example.com', '::1/129', '192.0.2.1/32']);
    expect(set.invalid).toEqual(['1.2.3.4/33', '300.1.1.1', 'example.com', '::1/129']);
    expect(set.size).toBe(1);
  });

  it('a /0 network holds every address of its family', () => {
    const set = new IpSet(['0.0.0.0/0']);
    expect(set.has('8.8.8.8')).toBe(true);
    expect(set.has('2001:db8::1')).toBe(false);
  });

  it('parses IPv6 forms the API server logs', () => {
    expect(parseAddress('::1')).toEqual({ v: 6, hex: `${'0'.repeat(31)}1` });
    expect(parseAddress('::ffff:192.0.2.1')).toEqual({ v: 4, n: 0xc0000201 });
    expect(parseAddress('64:ff9b::192.0.2.1')?.v).toBe(6);
    expect(parseAddress('1:2:3:4:5:6:7:8:9')).toBeUndefined();
    expect(parseAddress('1::2::3')).toBeUndefined();
  });

  it('gives the same answers as node:net BlockList on 100,000 random networks and addresses', () => {
    const rnd = mulberry32(17);
    const ip = () => [0, 0, 0, 0].map(() => Math.floor(rnd() * 256)).join('.');
    const entries: string[] = [];
    const reference = new BlockList();
    // Short prefixes would cover the whole space; the list is what threat feeds hold: hosts and small networks.
    for (let i = 0; i < 100_000; i++) {
      const bits = i % 4 === 0 ? 16 + Math.floor(rnd() * 17) : 32;
      const addr = ip();
      entries.push(`${addr}/${bits}`);
      if (i < 2_000) reference.addSubnet(addr, bits, 'ipv4');
    }
    const set = new IpSet(entries);
    expect(set.size).toBe(100_000);
    const small = new IpSet(entries.slice(0, 2_000));
    let hits = 0;
    for (let i = 0; i < 20_000; i++) {
      const probe = i % 2 === 0 ? entries[Math.floor(rnd() * 2_000)]!.split('/')[0]! : ip();
      const want = reference.check(probe, 'ipv4');
      expect(small.has(probe), probe).toBe(want);
      if (want) hits++;
      if (i % 2 === 0) expect(set.has(probe)).toBe(true);
    }
    expect(hits).toBeGreaterThan(9_000);
  });
});

describe('placeholder files', () => {
  it('reads one value a line, skipping blanks, comments and trailing annotations', () => {
    expect(
      parsePlaceholderText(
        '# Tor exit nodes\n\n185.220.101.1\n185.220.100.0/22  # block\r\n2001:db8::1, relay\n',
      ),
    ).toEqual(['185.220.101.1', '185.220.100.0/22', '2001:db8::1']);
  });

  it('overlays configured placeholders on the built-in ones; an unreadable file is a problem, not a crash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-ph-'));
    writeFileSync(join(dir, 'tor.txt'), '185.220.101.1\n');
    const { store, problems } = loadPlaceholders({
      indicator_ips: join(dir, 'tor.txt'),
      admins: ['alice@example.com'],
      missing: join(dir, 'nope.txt'),
    });
    expect(store.get('indicator_ips')?.snapshot.values).toEqual(['185.220.101.1']);
    expect(store.get('trusted_networks')?.snapshot.values).toContain('10.0.0.0/8');
    expect(store.get('admins')?.snapshot.values).toEqual(['alice@example.com']);
    expect(store.get('missing')?.snapshot.values).toEqual([]);
    expect(problems).toEqual([{ name: 'missing', reason: expect.stringContaining('ENOENT') }]);
  });

  it('re-reads a file when it changes, and the compiled rule follows without a reload', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-ph-'));
    const file = join(dir, 'ioc.txt');
    writeFileSync(file, '203.0.113.7\n');
    const sources = { indicator_ips: file };
    const { store } = loadPlaceholders(sources);
    const { ruleset, errors } = load(
      "sel:\n  sourceIPs|expand|cidr: '%indicator_ips%'\ncondition: sel",
      store,
    );
    expect(errors).toEqual([]);
    const d = new Detector(ruleset);
    expect(fires(d, { verb: 'get', sourceIPs: ['203.0.113.7'] })).toBe(true);
    expect(fires(d, { verb: 'get', sourceIPs: ['198.51.100.9'] })).toBe(false);
    let seen: number | undefined;
    const reloaded = new Promise<void>((resolve) => {
      const stop = watchPlaceholders(store, sources, 20, (e) => {
        stop();
        seen = e.values;
        resolve();
      });
    });
    // The watcher's first stat may land after a single write and see no change: rewrite until it notices.
    for (let n = 0; seen === undefined && n < 200; n++) {
      writeFileSync(file, `198.51.100.0/24\n# rotated ${n}\n`);
      await Promise.race([reloaded, new Promise((r) => setTimeout(r, 50))]);
    }
    expect(seen).toBe(1);
    expect(fires(d, { verb: 'get', sourceIPs: ['198.51.100.9'] })).toBe(true);
    expect(fires(d, { verb: 'get', sourceIPs: ['203.0.113.7'] })).toBe(false);
  });
});

describe('the expand modifier', () => {
  it('with cidr: any element of sourceIPs inside the placeholder networks; defaults are the private ranges', () => {
    const { ruleset, errors } = load(
      "sel:\n  sourceIPs|expand|cidr: '%trusted_networks%'\ncondition: not sel",
      defaultPlaceholders(),
    );
    expect(errors).toEqual([]);
    const d = new Detector(ruleset);
    expect(fires(d, { verb: 'get', sourceIPs: ['10.0.12.34'] })).toBe(false);
    expect(fires(d, { verb: 'get', sourceIPs: ['fd00::1'] })).toBe(false);
    expect(fires(d, { verb: 'get', sourceIPs: ['54.212.83.236'] })).toBe(true);
  });

  it('plain: values are Sigma strings (case-insensitive, wildcards), looked up in a set', () => {
    const store = new PlaceholderStore();
    store.set('admins', ['alice@example.com', 'ops-*@example.com']);
    const { ruleset, errors } = load("sel:\n  user.username|expand: '%admins%'\ncondition: sel", store);
    expect(errors).toEqual([]);
    const d = new Detector(ruleset);
    expect(fires(d, { verb: 'get', user: { username: 'Alice@Example.com' } })).toBe(true);
    expect(fires(d, { verb: 'get', user: { username: 'ops-oncall@example.com' } })).toBe(true);
    expect(fires(d, { verb: 'get', user: { username: 'mallory@example.com' } })).toBe(false);
    store.set('admins', ['mallory@example.com']);
    expect(fires(d, { verb: 'get', user: { username: 'mallory@example.com' } })).toBe(true);
    expect(fires(d, { verb: 'get', user: { username: 'alice@example.com' } })).toBe(false);
  });

  it('mixed with text and other modifiers: every combination, with \\% as a plain percent sign', () => {
    const store = new PlaceholderStore();
    store.set('teams', ['payments', 'shop']);
    const { ruleset, errors } = load(
      "sel:\n  objectRef.name|expand|startswith: '%teams%-admin'\n  requestURI|expand|contains: '\\%25%teams%'\ncondition: sel",
      store,
    );
    expect(errors).toEqual([]);
    const d = new Detector(ruleset);
    const ev = (name: string, uri: string) => ({
      verb: 'get',
      objectRef: { resource: 'secrets', name },
      requestURI: uri,
    });
    expect(fires(d, ev('shop-admin-token', '/x?a=%25shop'))).toBe(true);
    expect(fires(d, ev('shop-admin-token', '/x?a=shop'))).toBe(false);
    expect(fires(d, ev('web-admin-token', '/x?a=%25shop'))).toBe(false);
  });

  it('refuses what it cannot honour, with the reason', () => {
    const store = defaultPlaceholders();
    const reason = (d: string) => load(d, store).errors.map((e) => e.reason);
    expect(reason("sel:\n  source.ip|expand|cidr: '%tor_exit_nodes%'\ncondition: sel")[0]).toMatch(
      /placeholder %tor_exit_nodes% is not defined/,
    );
    expect(reason("sel:\n  userAgent|expand|re: '%indicator_ips%'\ncondition: sel")[0]).toMatch(
      /"expand" does not combine with "re"/,
    );
    expect(reason("sel:\n  userAgent|expand: 'curl'\ncondition: sel")[0]).toMatch(/needs a %placeholder%/);
    expect(reason("sel:\n  sourceIPs|expand|cidr: 'x%trusted_networks%'\ncondition: sel")[0]).toMatch(
      /one %placeholder%/,
    );
  });
});

describe('detect.placeholders settings', () => {
  it('reads name=file pairs from the environment and mappings from the YAML file', async () => {
    const { loadConfig, ConfigError } = await import('../../../src/config.ts');
    const fromEnv = loadConfig({
      KLAXON_PLACEHOLDERS: 'indicator_ips=/etc/klaxon/tor.txt,trusted_networks=/etc/klaxon/nets.txt',
    });
    expect(fromEnv.detect.placeholders).toEqual({
      indicator_ips: '/etc/klaxon/tor.txt',
      trusted_networks: '/etc/klaxon/nets.txt',
    });
    expect(fromEnv.detect.placeholderReloadSeconds).toBe(30);
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-cfg-'));
    writeFileSync(
      join(dir, 'klaxon.yaml'),
      'detect:\n  placeholders:\n    trusted_networks: [10.0.0.0/8, 203.0.113.0/24]\n    indicator_ips: /etc/klaxon/tor.txt\n  placeholderReloadSeconds: 5\n',
    );
    const fromFile = loadConfig({ KLAXON_CONFIG: join(dir, 'klaxon.yaml') });
    expect(fromFile.detect.placeholders.trusted_networks).toEqual(['10.0.0.0/8', '203.0.113.0/24']);
    expect(fromFile.detect.placeholderReloadSeconds).toBe(5);
    expect(() => loadConfig({ KLAXON_PLACEHOLDERS: 'bad name=/x' })).toThrow(ConfigError);
  });
});
