import { createHash, timingSafeEqual } from 'node:crypto';
import { parseCredentials, readCredentialsFile, TokensFile } from '../ingest/auth.ts';
import { eksClusterFromLogGroup } from '../normalize/cloudwatch.ts';

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

/**
 * Firehose access keys and the clusters each may send, compared in constant time (as `TokenTable`): every
 * entry is compared to the digest of the header, so timing tells neither a key's length nor which matched.
 */
export class FirehoseKeys {
  private readonly entries: Array<{ digest: Buffer; clusters: readonly string[] }> = [];

  constructor(mapping: Record<string, string | string[]>) {
    const byDigest = new Map<string, { digest: Buffer; clusters: string[] }>();
    for (const [cluster, value] of Object.entries(TokensFile.parse(mapping))) {
      for (const key of Array.isArray(value) ? value : [value]) {
        const d = digest(key);
        const entry = byDigest.get(d.toString('hex')) ?? { digest: d, clusters: [] };
        if (!entry.clusters.includes(cluster)) entry.clusters.push(cluster);
        byDigest.set(d.toString('hex'), entry);
      }
    }
    for (const entry of byDigest.values()) this.entries.push({ ...entry, clusters: entry.clusters.sort() });
  }

  /** Reads `cluster: key` / `cluster: [keys]`; errors name the file and entry, never a key. */
  static fromFile(setting: string, path: string): FirehoseKeys {
    const doc = readCredentialsFile(setting, path);
    return new FirehoseKeys(
      parseCredentials(
        setting,
        path,
        TokensFile,
        doc,
        'a mapping "cluster: access key" or "cluster: [keys]"',
      ),
    );
  }

  /** The clusters a key may send, or undefined for an unknown key. */
  lookup(key: string): readonly string[] | undefined {
    const d = digest(key);
    let found: readonly string[] | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(d, entry.digest) && found === undefined) found = entry.clusters;
    }
    return found;
  }
}

/**
 * The cluster an event from `logGroup` is filed under: the key's, when it has one; else the one the EKS log
 * group names, if the key may send it. The payload only ever picks among the clusters the credential allows.
 */
export function clusterForLogGroup(
  allowed: readonly string[],
  logGroup: string | undefined,
): { cluster: string } | { error: string } {
  if (allowed.length === 1) return { cluster: allowed[0]! };
  const named = logGroup === undefined ? undefined : eksClusterFromLogGroup(logGroup);
  if (named !== undefined && allowed.includes(named)) return { cluster: named };
  return {
    error: `log group ${logGroup ?? '(none)'} is not /aws/eks/<cluster>/cluster of a cluster this access key may send (${allowed.join(', ')})`,
  };
}
