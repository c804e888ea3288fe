import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { isLoopback, planListener, UnsafeListenError } from '../../../src/ingest/server.ts';
import { createLogger } from '../../../src/log.ts';

function tokensFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'klaxon-tokens-')), 'tokens.yaml');
  writeFileSync(file, text);
  return file;
}

describe('planListener', () => {
  it('without credentials: loopback only, with a generated token for cluster "local"', () => {
    const plan = planListener(loadConfig({}));
    expect(plan.host).toBe('127.0.0.1');
    expect(plan.generatedToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(plan.auth.tokens?.lookup(plan.generatedToken!)).toBe('local');
    expect(planListener(loadConfig({})).generatedToken).not.toBe(plan.generatedToken);
  });

  it('refuses a non-loopback address without configured credentials', () => {
    for (const host of ['0.0.0.0', '10.1.2.3', '::']) {
      expect(() => planListener(loadConfig({ KLAXON_HOST: host }))).toThrow(UnsafeListenError);
    }
  });

  it('with a tokens file: listens on all addresses by default and uses the file', () => {
    const tokB = 'tok-b-0123456789abcdefghijklmnopqrstuvwxyz';
    const file = tokensFile(
      `prod: tok-prod-0123456789abcdefghijklmnopqrstuv\nstaging: [tok-a-0123456789abcdefghijklmnopqrstuvwxyz, ${tokB}]\n`,
    );
    const plan = planListener(loadConfig({ KLAXON_TOKENS_FILE: file }));
    expect(plan.host).toBe('0.0.0.0');
    expect(plan.generatedToken).toBeUndefined();
    expect(plan.auth.tokens?.lookup(tokB)).toBe('staging');
  });

  it('never echoes a value of the tokens file, whatever is wrong with it', () => {
    const secret = 'tok-SECRET-0123456789abcdefghijklmnopqrstuv';
    const cases = [
      `prod: ${secret}\n  bad-indent: [\n`, // YAML error: the parser would quote this line
      `${secret}: stage\n`, // written the wrong way round: the key is the secret
      `prod: [${secret}, 42]\n`,
      'root:*:19000:0:99999:7:::\nprod: x\n', // a mistyped path pointing at /etc/shadow
      `prod: ${secret.slice(0, 20)}\n`, // too short
    ];
    for (const text of cases) {
      let message = '';
      try {
        planListener(loadConfig({ KLAXON_TOKENS_FILE: tokensFile(text) }));
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, text).toMatch(/KLAXON_TOKENS_FILE/);
      for (const fragment of [secret.slice(0, 20), 'root', '19000', 'stage']) {
        expect(message, text).not.toContain(fragment);
      }
    }
  });

  it('names the file but never echoes token values when the file is malformed', () => {
    const file = tokensFile('prod: [secret-value-123, 42, {x: 1}]\n');
    let message = '';
    try {
      planListener(loadConfig({ KLAXON_TOKENS_FILE: file }));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(file);
    expect(message).not.toContain('secret-value-123');
  });

  it('requires certificate and key together, and a client mapping with a CA', () => {
    expect(() => planListener(loadConfig({ KLAXON_TLS_CERT: '/x.crt' }))).toThrow(/together/);
    expect(() =>
      planListener(loadConfig({ KLAXON_TLS_CERT: '/x.crt', KLAXON_TLS_KEY: '/x.key', KLAXON_TLS_CA: '/ca' })),
    ).toThrow(UnsafeListenError);
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.8.0.1', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.1.1', 'example.com'].some(isLoopback)).toBe(false);
  });
});

describe('logger', () => {
  it('redacts credentials', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.info({ req: { headers: { authorization: 'Bearer top-secret-1' } } }, 'request');
    logger.info({ headers: { authorization: 'Bearer top-secret-2' }, password: 'top-secret-3' }, 'other');
    expect(out).toContain('[redacted]');
    expect(out).not.toMatch(/top-secret/);
  });
});
