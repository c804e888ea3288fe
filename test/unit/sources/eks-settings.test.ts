// The settings of the EKS source types, as the settings file gives them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.ts';
import { logGroupOf } from '../../../src/sources/cloudwatch-settings.ts';
import { SourcesSettings } from '../../../src/sources/settings.ts';

describe('sources of type cloudwatch and firehose', () => {
  it('take the issue’s minimal settings, with EKS’s own log group and stream names by default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-eks-settings-'));
    const file = join(dir, 'klaxon.yaml');
    writeFileSync(
      file,
      [
        'sources:',
        '  prod-eu-audit: {type: cloudwatch, cluster: prod-eu, region: eu-west-1}',
        '  staging-audit: {type: cloudwatch, cluster: staging, logGroup: /aws/eks/staging-2/cluster}',
        '  eks-firehose: {type: firehose, accessKeysFile: /etc/klaxon/firehose-keys.yaml, bodyLimit: 8MiB}',
      ].join('\n'),
    );
    const { sources } = loadConfig({ KLAXON_CONFIG: file });
    const prod = sources['prod-eu-audit'];
    if (prod?.type !== 'cloudwatch') throw new Error('expected a cloudwatch source');
    expect(prod).toMatchObject({
      region: 'eu-west-1',
      logStreamPrefix: 'kube-apiserver-audit-',
      pollSeconds: 5,
      overlapSeconds: 15,
      latenessSeconds: 300,
      lateScanSeconds: 120,
      maxTrackedEvents: 50_000,
      startAt: 'end',
    });
    expect(logGroupOf(prod)).toBe('/aws/eks/prod-eu/cluster');
    const staging = sources['staging-audit'];
    expect(staging?.type === 'cloudwatch' && logGroupOf(staging)).toBe('/aws/eks/staging-2/cluster');
    expect(sources['eks-firehose']).toEqual({
      type: 'firehose',
      accessKeysFile: '/etc/klaxon/firehose-keys.yaml',
      path: '/v1/firehose',
      bodyLimit: 8 * 1024 * 1024,
      maxInflatedBytes: 160 * 1024 * 1024,
    });
  });

  it('refuse unknown keys and bad values with their path', () => {
    for (const [sources, path] of [
      [{ x: { type: 'cloudwatch', cluster: 'prod', logGroupName: '/aws/eks/prod/cluster' } }, 'x'],
      [{ x: { type: 'cloudwatch', cluster: 'prod', region: 'Europe' } }, 'x.region'],
      [{ x: { type: 'cloudwatch', cluster: 'prod', pollSeconds: 0 } }, 'x.pollSeconds'],
      [{ x: { type: 'cloudwatch', cluster: 'prod', logGroup: '/aws/eks/prod cluster' } }, 'x.logGroup'],
      [{ x: { type: 'firehose' } }, 'x.accessKeysFile'],
      [{ x: { type: 'firehose', accessKeysFile: '/k', path: 'v1/firehose' } }, 'x.path'],
    ] as const) {
      const parsed = SourcesSettings.safeParse(sources);
      expect(parsed.success, JSON.stringify(sources)).toBe(false);
      if (!parsed.success) expect(parsed.error.issues[0]!.path.join('.')).toBe(path);
    }
    expect(() => loadConfig({ KLAXON_CONFIG: '/nonexistent/klaxon.yaml' })).toThrow(ConfigError);
  });
});
