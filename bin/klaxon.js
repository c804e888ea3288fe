#!/usr/bin/env node
// Klaxon runs its TypeScript directly (Node's type stripping, on by default
// from 22.18; undici needs 22.19), so there is no build to go stale. On an older node, re-run under
// the Node 24 that scripts/node24 installs.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 19)) {
  await import('../src/cli/main.ts');
} else {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const result = spawnSync('sh', [join(root, 'scripts/node24'), 'node', ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}
