import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeListenError } from '../../../src/ingest/lifecycle.ts';

const root = join(import.meta.dirname, '../../..');

describe('a port that cannot be listened on', () => {
  it('ends `klaxon serve` with exit 1 and one line on stderr, no stack trace', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, [join(root, 'bin/klaxon.js'), 'serve', '--port', String(port)], {
        env: { PATH: process.env.PATH ?? '', KLAXON_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(1);
      expect(stderr).toBe(
        `klaxon serve: cannot listen on 127.0.0.1:${port}: the port is already in use (another Klaxon? pick another with --port)\n`,
      );
    } finally {
      taken.close();
    }
  });

  it('describes only listen errors a user can fix', () => {
    const err = (code: string, syscall = 'listen') =>
      Object.assign(new Error(code), { code, syscall, address: '::1', port: 80 });
    expect(describeListenError(err('EACCES'))).toBe(
      'cannot listen on [::1]:80: permission denied (ports below 1024 need privileges; use --port 8080)',
    );
    expect(describeListenError(err('EADDRINUSE', 'connect'))).toBeUndefined();
    expect(describeListenError(err('EMFILE'))).toBeUndefined();
    expect(describeListenError(new Error('boom'))).toBeUndefined();
  });
});
