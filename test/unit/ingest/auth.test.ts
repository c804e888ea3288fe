import { describe, expect, it } from 'vitest';
import { authenticate, TokenTable } from '../../../src/ingest/auth.ts';

const tokens = new TokenTable({ prod: 'alpha-token', staging: ['beta-old', 'beta-new'] });

describe('TokenTable', () => {
  it('maps every token, including rotated ones, to its cluster', () => {
    expect(tokens.lookup('alpha-token')).toBe('prod');
    expect(tokens.lookup('beta-old')).toBe('staging');
    expect(tokens.lookup('beta-new')).toBe('staging');
    expect(tokens.lookup('alpha-toke')).toBeUndefined();
    expect(tokens.lookup('')).toBeUndefined();
  });

  it('refuses one token for two clusters and bad cluster names', () => {
    expect(() => new TokenTable({ a: 'same', b: 'same' })).toThrow(/same token/);
    expect(() => new TokenTable({ 'bad name!': 'x' })).toThrow();
  });
});

describe('authenticate', () => {
  const plain = { socket: {} };
  it('decides the cluster from a bearer token', () => {
    expect(authenticate({ ...plain, headers: { authorization: 'Bearer beta-new' } }, { tokens })).toEqual({
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
