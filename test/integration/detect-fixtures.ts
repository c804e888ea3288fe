import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { Alert } from '../../src/schema/alert.ts';
import type { NormalizedEvent } from '../../src/schema/event.ts';

/** Rule names carry a per-run suffix, so Alertmanager and Elasticsearch queries see only this run. */
export interface TestRules {
  dir: string;
  admin: string;
  failedAuth: string;
  burst: string;
}

/** A detection rule, a quiet base rule and a cross-partition correlation over it, in a fresh directory. */
export function writeTestRules(run: string): TestRules {
  const names = {
    admin: `kxt-crb-admin-${run}`,
    failedAuth: `kxt-failed-auth-${run}`,
    burst: `kxt-auth-burst-${run}`,
  };
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-detect-rules-'));
  writeFileSync(
    join(dir, 'admin.yml'),
    `title: ClusterRoleBinding to cluster-admin
name: ${names.admin}
id: ${randomUUID()}
description: A ClusterRoleBinding grants cluster-admin.
references: [https://kubernetes.io/docs/reference/access-authn-authz/rbac/]
tags: [attack.privilege-escalation, attack.t1098]
logsource: {product: kubernetes, service: audit}
level: high
detection:
  selection:
    verb: create
    objectRef.resource: clusterrolebindings
    requestObject.roleRef.name: cluster-admin
  condition: selection
`,
  );
  writeFileSync(
    join(dir, 'failed-auth.yml'),
    `title: Failed authentication
name: ${names.failedAuth}
id: ${randomUUID()}
tags: [attack.credential-access, attack.t1110]
logsource: {product: kubernetes, service: audit}
level: low
detection:
  selection:
    responseStatus.code: 401
  condition: selection
---
title: Failed authentication burst from one address
name: ${names.burst}
id: ${randomUUID()}
description: Ten or more failed authentications from one source address within five minutes.
tags: [attack.credential-access, attack.t1110]
level: high
correlation:
  type: event_count
  rules: [${names.failedAuth}]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 10}
`,
  );
  return { dir, ...names };
}

let seq = 0;

/** A normalized audit event (what ingest puts on klaxon.events). */
export function auditEvent(
  raw: Record<string, unknown>,
  time: string,
  opts: { user: string; ip: string; cluster?: string },
): NormalizedEvent {
  const auditID = `${randomUUID()}-${++seq}`;
  const audit: Record<string, unknown> = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID,
    stage: 'ResponseComplete',
    stageTimestamp: time,
    user: { username: opts.user },
    sourceIPs: [opts.ip],
    responseStatus: { code: 200 },
    ...raw,
  };
  const ref = (audit as { objectRef?: { resource?: string; name?: string; namespace?: string } }).objectRef;
  const code = (audit.responseStatus as { code: number }).code;
  return {
    '@timestamp': time,
    event: {
      kind: 'event',
      dataset: 'kubernetes.audit',
      action: String(audit.verb ?? ''),
      outcome: code >= 400 ? 'failure' : 'success',
      id: `${auditID}/ResponseComplete`,
    },
    user: { name: opts.user },
    source: { ip: opts.ip },
    orchestrator: {
      type: 'kubernetes',
      cluster: { name: opts.cluster ?? 'test' },
      ...(ref?.namespace ? { namespace: ref.namespace } : {}),
      resource: { type: ref?.resource, name: ref?.name },
    },
    kubernetes: { audit },
  };
}

export function clusterAdminBinding(time: string, user: string): NormalizedEvent {
  return auditEvent(
    {
      verb: 'create',
      objectRef: {
        resource: 'clusterrolebindings',
        apiGroup: 'rbac.authorization.k8s.io',
        name: `pwn-${seq}`,
      },
      requestObject: { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
      responseStatus: { code: 201 },
    },
    time,
    { user, ip: '10.1.2.3' },
  );
}

export function failedAuth(time: string, user: string, ip: string): NormalizedEvent {
  return auditEvent(
    { verb: 'list', objectRef: { resource: 'secrets', namespace: 'default' }, responseStatus: { code: 401 } },
    time,
    { user, ip },
  );
}

/** The alerts of one rule in the indices under `prefix`, after a refresh (up to 100). */
export async function alertsOfRule(es: Client, prefix: string, ruleName: string): Promise<Alert[]> {
  await es.indices.refresh({ index: `${prefix}-alerts*`, allow_no_indices: true });
  const r = await es.search<Alert>({
    index: `${prefix}-alerts*`,
    allow_no_indices: true,
    query: { term: { 'rule.name': ruleName } },
    size: 100,
  });
  return r.hits.hits.map((h) => h._source!);
}

/** First-seen rule names of `writeFirstSeenRules`, with the per-run suffix. */
export interface FirstSeenTestRules {
  dir: string;
  /** Learns service accounts' client families (1 day of learning). */
  client: string;
  base: string;
}

/** A base rule (service-account requests) and a first-seen rule over it, in a fresh directory. */
export function writeFirstSeenRules(run: string): FirstSeenTestRules {
  const names = { base: `kxt-sa-request-${run}`, client: `kxt-sa-new-client-${run}` };
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-first-seen-rules-'));
  writeFileSync(
    join(dir, 'first-seen.yml'),
    `title: Service account used from a new client
name: ${names.client}
id: ${randomUUID()}
description: A service account used from a client family it has not used in 30 days.
tags: [attack.credential-access, attack.t1528]
level: medium
first_seen:
  rules: [${names.base}]
  group-by: [user.username]
  field: userAgent|family
  timespan: 30d
  learning: 1d
---
title: Service account request
name: ${names.base}
id: ${randomUUID()}
tags: [attack.initial-access, attack.t1078]
logsource: {product: kubernetes, service: audit}
level: informational
detection:
  selection:
    user.username|startswith: 'system:serviceaccount:'
  condition: selection
`,
  );
  return { dir, ...names };
}

/** A service account's request (normalized) with a user agent. */
export function serviceAccountRequest(time: string, account: string, userAgent: string): NormalizedEvent {
  return auditEvent(
    { verb: 'get', objectRef: { resource: 'configmaps', namespace: 'shop', name: 'config' }, userAgent },
    time,
    { user: `system:serviceaccount:shop:${account}`, ip: '10.0.12.87' },
  );
}
