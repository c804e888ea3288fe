import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { alertLine, chooseFormat, formatAlertText, parseFormat, useColor } from '../../../src/cli/format.ts';
import { runReplay } from '../../../src/cli/replay.ts';
import { BUILTIN_RULES_DIR } from '../../../src/config.ts';
import { Alert } from '../../../src/schema/alert.ts';
import { makeAlert } from '../sinks/make-alert.ts';

const root = join(import.meta.dirname, '../../..');
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI colour codes
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function falcoAlert(): Alert {
  const base = makeAlert('falco-1', { level: 'critical' });
  return Alert.parse({
    ...base,
    rule: { ...base.rule, name: 'falco-runtime-alert' },
    user: { name: 'app' },
    source: undefined,
    kubernetes: undefined,
    orchestrator: { cluster: { name: 'prod-eu-1' }, namespace: 'shop' },
    falco: {
      rule: 'Terminal shell in container',
      priority: 'Notice',
      output_fields: {
        'proc.cmdline': 'sh -i',
        'k8s.pod.name': 'web-7f9c8d6b5-x2k4q',
        'k8s.ns.name': 'shop',
      },
    },
  });
}

describe('chooseFormat and useColor', () => {
  it('prints text on a terminal and JSON lines into a pipe, unless --format says otherwise', () => {
    expect(chooseFormat(undefined, true)).toBe('text');
    expect(chooseFormat(undefined, false)).toBe('json');
    expect(chooseFormat('json', true)).toBe('json');
    expect(chooseFormat('text', false)).toBe('text');
    expect(() => parseFormat('xml')).toThrow('--format must be one of json, text');
  });

  it('colours only a terminal that did not ask for NO_COLOR', () => {
    expect(useColor(true, {})).toBe(true);
    expect(useColor(false, {})).toBe(false);
    expect(useColor(true, { NO_COLOR: '1' })).toBe(false);
    expect(useColor(true, { TERM: 'dumb' })).toBe(false);
  });
});

describe('formatAlertText', () => {
  it('puts time, severity, rule, cluster, who, what and where on one line', () => {
    expect(formatAlertText(makeAlert('crb-1'), false)).toBe(
      '2025-03-14 09:26:53Z  HIGH      k8s-clusterrolebinding-cluster-admin  cluster=test  who=alice (10.0.0.7)' +
        '  what=create clusterrolebindings crb-1  where=kube-system',
    );
  });

  it('reads who, what and where of a Falco alert from its fields', () => {
    expect(formatAlertText(falcoAlert(), false)).toBe(
      '2025-03-14 09:26:53Z  CRITICAL  falco-runtime-alert  cluster=prod-eu-1  who=app' +
        '  what=Terminal shell in container (sh -i)  where=shop/web-7f9c8d6b5-x2k4q',
    );
  });

  it('colours the severity on a terminal and says the same once the colours are removed', () => {
    const coloured = formatAlertText(makeAlert('crb-1', { level: 'critical' }), true);
    expect(coloured).toContain('\x1b[1;97;41mCRITICAL');
    expect(plain(coloured)).toBe(formatAlertText(makeAlert('crb-1', { level: 'critical' }), false));
  });

  it('shows how many events a folded alert stands for', () => {
    const alert = makeAlert('burst');
    alert.klaxon.count = 12;
    expect(formatAlertText(alert, false)).toMatch(/ {2}x12$/);
  });

  it('never lets a payload drive the terminal: control characters are escaped', () => {
    const alert = makeAlert('evil');
    alert.user = { name: 'eve\x1b[2J\x1b]0;pwned\x07\nnext' };
    const line = formatAlertText(alert, true);
    expect(plain(line)).toContain('who=eve\\x1b[2J\\x1b]0;pwned\\x07\\x0anext');
    expect(line).not.toContain('\n');
    expect(line).not.toContain('\x07');
    expect(line).not.toContain('\x1b[2J');
  });
});

describe('alertLine', () => {
  it('leaves out alerts below --min-level and prints JSON that parses back to the alert', () => {
    const out = { format: 'json' as const, minLevel: 'high' as const, color: false };
    expect(alertLine(makeAlert('m', { level: 'medium' }), out)).toBeUndefined();
    const high = makeAlert('h', { level: 'high' });
    expect(JSON.parse(alertLine(high, out) ?? '')).toEqual(high);
    expect(alertLine(high, { ...out, format: 'text' })).toBe(formatAlertText(high, false));
  });
});

describe('klaxon replay --format', () => {
  async function replay(format: 'json' | 'text'): Promise<string[]> {
    const out = new PassThrough();
    const err = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => {
      text += d.toString();
    });
    err.resume();
    const code = await runReplay(
      [join(root, 'samples')],
      {
        rules: [BUILTIN_RULES_DIR],
        cluster: 'replay',
        minLevel: 'high',
        stream: false,
        format,
        color: false,
      },
      out,
      err,
    );
    expect(code).toBe(0);
    return text.trimEnd().split('\n');
  }

  // Two replays of the whole catalogue: seconds on a loaded machine.
  it('prints the same alerts as JSON lines or as text lines', { timeout: 60_000 }, async () => {
    const json = (await replay('json')).map((l) => Alert.parse(JSON.parse(l)));
    const text = await replay('text');
    expect(json.length).toBeGreaterThan(0);
    expect(text).toEqual(json.map((a) => formatAlertText(a, false)));
  });

  it('refuses an unknown format with one line', () => {
    const run = spawnSync(
      process.execPath,
      [join(root, 'bin/klaxon.js'), 'replay', '--format', 'xml', 'samples'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('klaxon replay: --format must be one of json, text\n');
  });
});

describe('klaxon serve --format / --min-level', () => {
  it('refuses a bad value before it listens', () => {
    for (const [flag, message] of [
      ['--format=yaml', '--format must be one of json, text'],
      ['--min-level=severe', '--min-level must be one of informational, low, medium, high, critical'],
    ]) {
      const run = spawnSync(process.execPath, [join(root, 'bin/klaxon.js'), 'serve', flag as string], {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      });
      expect(run.status, flag).toBe(2);
      expect(run.stderr).toBe(`klaxon serve: ${message}\n`);
    }
  });
});
