import { describe, expect, it } from 'vitest';
import { authenticate, TokenTable } from '../../../src/ingest/auth.ts';

const ALPHA = 'alpha-token-0123456789abcdefghijklmn';
const BETA_OLD = 'beta-old-0123456789abcdefghijklmnopq';
const BETA_NEW = 'beta-new-0123456789abcdefghijklmnopq';
const tokens = new TokenTable({ prod: ALPHA, staging: [BETA_OLD, BETA_NEW] });

describe('TokenTable', () => {
  it('maps every token, including rotated ones, to its cluster', () => {
    expect(tokens.lookup(ALPHA)).toBe('prod');
    expect(tokens.lookup(BETA_OLD)).toBe('staging');
    expect(tokens.lookup(BETA_NEW)).toBe('staging');
    expect(tokens.lookup(ALPHA.slice(0, -1))).toBeUndefined();
    expect(tokens.lookup('')).toBeUndefined();
  });

  it('refuses one token for two clusters and bad cluster names', () => {
    expect(() => new TokenTable({ a: ALPHA, b: ALPHA })).toThrow(/same token/);
    for (const name of [
      'bad name!',
      'prod.eu',
      '-prod',
      'prod-',
      'root:*:19000:0:99999:7:::',
      'x'.repeat(64),
    ]) {
      expect(() => new TokenTable({ [name]: ALPHA }), name).toThrow();
    }
    expect(new TokenTable({ 'prod-eu_1': ALPHA, Stage2: BETA_OLD }).size).toBe(2);
  });

  it('refuses weak tokens: short, few different characters, spaces or control characters', () => {
    for (const weak of [
      'x',
      'a'.repeat(31),
      'ab'.repeat(40),
      `${'k'.repeat(20)} ${'0123456789'.repeat(2)}`,
      `${ALPHA}\u0000`,
    ]) {
      expect(() => new TokenTable({ prod: weak }), JSON.stringify(weak)).toThrow();
    }
  });
});

describe('authenticate', () => {
  const plain = { socket: {} };
  it('decides the cluster from a bearer token', () => {
    expect(authenticate({ ...plain, headers: { authorization: `Bearer ${BETA_NEW}` } }, { tokens })).toEqual({
      ok: true,
      cluster: 'staging',
      via: 'token',
    });
  });

  it('refuses missing, malformed and unknown credentials with 401', () => {
    for (const authorization of [undefined, 'Bearer', 'Basic abc', 'Bearer nope']) {
      const result = authenticate({ ...plain, headers: { authorization } }, { tokens });
      expect(result).toMatchObject({ ok: false, status: 401 });
    }
  });
});

describe('ambiguous credentials', () => {
  it('refuses two Authorization headers, whichever one a proxy would read', () => {
    const result = authenticate(
      {
        headers: { authorization: `Bearer ${ALPHA}` },
        rawHeaders: ['Authorization', `Bearer ${ALPHA}`, 'authorization', `Bearer ${BETA_NEW}`],
        socket: {},
      },
      { tokens },
    );
    expect(result).toMatchObject({ ok: false, status: 400, error: 'ambiguous_credentials' });
  });

  it('refuses a client certificate whose names map to several clusters, and a token of another cluster than the certificate', () => {
    const socket = (names: { cn: string; dns: string[] }) => ({
      encrypted: true,
      authorized: true,
      getPeerCertificate: () => ({
        subject: { CN: names.cn },
        subjectaltname: names.dns.map((d) => `DNS:${d}`).join(', '),
      }),
    });
    const clientSubjects = { 'ingest.prod': 'prod', 'ingest.stage': 'staging' };
    const both = socket({ cn: 'ingest.stage', dns: ['ingest.prod'] });
    expect(authenticate({ headers: {}, socket: both }, { tokens, clientSubjects })).toMatchObject({
      ok: false,
      status: 403,
    });
    const stage = socket({ cn: 'ingest.stage', dns: [] });
    expect(authenticate({ headers: {}, socket: stage }, { tokens, clientSubjects })).toMatchObject({
      ok: true,
      cluster: 'staging',
    });
    expect(
      authenticate(
        { headers: { authorization: `Bearer ${ALPHA}` }, socket: stage },
        { tokens, clientSubjects },
      ),
    ).toMatchObject({ ok: false, status: 400, error: 'ambiguous_credentials' });
    expect(
      authenticate(
        { headers: { authorization: `Bearer ${BETA_OLD}` }, socket: stage },
        { tokens, clientSubjects },
      ),
    ).toMatchObject({ ok: true, cluster: 'staging', via: 'token' });
  });
});
