import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRules } from '../../../src/detect/index.ts';
import { DETECTIONS, ROOT, replay } from '../catalogue/replay.ts';
import {
  audit,
  falcoAlert,
  falcosidekick,
  firedRules,
  type Json,
  min,
  sec,
  T0,
  user,
  uuid,
  writeJsonl,
} from './k8s.ts';

const FIXTURES = join(ROOT, 'test/fixtures/scenarios');
const SEQ = 'k8s-exec-followed-by-shell';
const alice = user('alice@example.com', '198.51.100.23');

/** kubectl exec -it POD -- sh: ResponseStarted (101) when the stream opens, ResponseComplete when it ends. */
function session(pod: string, start: number, verb = 'create', lengthMs = sec(95)): Json[] {
  const id = uuid(`session:${pod}:${start}`);
  const ref = { resource: 'pods', namespace: 'shop', name: pod, subresource: 'exec' };
  const query = 'command=sh&container=web&stdin=true&stdout=true&tty=true';
  return [
    audit({ at: start, actor: alice, verb, ref, query, code: 101, stage: 'ResponseStarted', auditID: id }),
    audit({
      at: start,
      latencyMs: lengthMs,
      actor: alice,
      verb,
      ref,
      query,
      code: 101,
      stage: 'ResponseComplete',
      auditID: id,
    }),
  ];
}

const shell = (at: number, pod: string, ns = 'shop') =>
  falcoAlert(at, 'Terminal shell in container', 'Notice', ns, pod);

async function sequences(audits: Json[], falcos: Json[]) {
  const { alerts } = await replay([writeJsonl('audit.jsonl', audits), writeJsonl('falco.jsonl', falcos)]);
  return alerts.filter((a) => a.rule.name === SEQ);
}

/** Scenario e: exec then a shell seen by Falco in the same pod. */
describe('exec then shell', { timeout: 30_000 }, () => {
  it('the committed traces: two sessions (SPDY create, WebSocket get) each followed by a shell, one critical alert each', async () => {
    const { alerts } = await replay([
      join(FIXTURES, 'exec-sessions.audit.jsonl'),
      join(FIXTURES, 'shells.falco.jsonl'),
    ]);
    const seq = alerts.filter((a) => a.rule.name === SEQ);
    expect(seq.map((a) => a.orchestrator?.resource?.name).sort()).toEqual([
      'api-5b6c7d8e9f-k2j4h',
      'web-7d9f8c6b5-x2x4q',
    ]);
    for (const a of seq) expect(a.klaxon.severity).toBe('critical');
    expect(alerts.filter((a) => a.rule.name === 'k8s-exec-into-pod')).toHaveLength(2);
    expect(alerts.filter((a) => a.rule.name === 'falco-runtime-alert')).toHaveLength(4);
  });

  it('the critical alert names who opened the session (not the process user Falco reports) and the Falco rule', async () => {
    const [a] = await sequences(session('web-7d9f', T0), [shell(T0 + sec(40), 'web-7d9f')]);
    expect(a?.user?.name).toBe('alice@example.com');
    expect(a?.source?.ip).toBe('198.51.100.23');
    expect(a?.message).toContain('alice@example.com');
    expect(a?.falco?.rule).toBe('Terminal shell in container');
    expect(String(a?.kubernetes?.audit?.requestURI)).toContain('/pods/web-7d9f/exec');
  });

  it('fires for a shell 40 s after the exec, in Falco and in falcosidekick shape', async () => {
    expect(await sequences(session('web-7d9f', T0), [shell(T0 + sec(40), 'web-7d9f')])).toHaveLength(1);
    const sidekick = falcosidekick(T0 + sec(40), 'Terminal shell in container', 'Notice', 'shop', 'web-7d9f');
    expect(await sequences(session('web-7d9f', T0), [sidekick])).toHaveLength(1);
  });

  it('fires when the Falco alert reaches Klaxon before the batched audit event', async () => {
    const falcoFirst = [shell(T0 + sec(3), 'web-7d9f'), ...session('web-7d9f', T0)];
    const { alerts } = await replay([writeJsonl('mixed.jsonl', falcoFirst)]);
    expect(alerts.filter((a) => a.rule.name === SEQ)).toHaveLength(1);
  });

  it('fires for an exec logged with verb get (WebSocket streaming, EKS)', async () => {
    expect(await sequences(session('web-7d9f', T0, 'get'), [shell(T0 + sec(40), 'web-7d9f')])).toHaveLength(
      1,
    );
  });

  it('stays quiet for a shell in another pod, another namespace, 5 minutes later, or before the exec', async () => {
    expect(await sequences(session('web-7d9f', T0), [shell(T0 + sec(40), 'web-8x2k1')])).toHaveLength(0);
    expect(await sequences(session('web-7d9f', T0), [shell(T0 + sec(40), 'web-7d9f', 'prod')])).toHaveLength(
      0,
    );
    expect(await sequences(session('web-7d9f', T0), [shell(T0 + min(5), 'web-7d9f')])).toHaveLength(0);
    expect(await sequences(session('web-7d9f', T0), [shell(T0 - min(1), 'web-7d9f')])).toHaveLength(0);
  });

  it('stays quiet when the exec was refused', async () => {
    const denied = audit({
      at: T0,
      actor: alice,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'shop', name: 'web-7d9f', subresource: 'exec' },
      query: 'command=sh&stdin=true&tty=true',
      code: 403,
      reason: 'Forbidden',
      message:
        'pods "web-7d9f" is forbidden: User "alice@example.com" cannot create resource "pods/exec" in API group "" in the namespace "shop"',
      annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
    });
    expect(await sequences([denied], [shell(T0 + sec(40), 'web-7d9f')])).toHaveLength(0);
  });
});

describe('exec then shell, as they arrive live', () => {
  const { ruleset } = loadRules([DETECTIONS]);

  /** Falco posts each alert at once; the API server's webhook posts the audit events of the last `batchMs` together. */
  function live(audits: Json[], falcos: Json[], batchMs: number): Set<string> {
    const arrivals: [number, Json][] = falcos.map((f) => [Date.parse(String(f.time)), f]);
    for (const a of audits) {
      const t = Date.parse(String(a.stageTimestamp));
      arrivals.push([T0 + Math.ceil((t - T0 + 1) / batchMs) * batchMs + 500, a]);
    }
    arrivals.sort((x, y) => x[0] - y[0]);
    return firedRules(
      ruleset,
      arrivals.map(([, e]) => e),
    );
  }

  it('fires when the exec reaches Klaxon 45 s after Falco already reported the shell (and other pods keep alerting)', () => {
    const noise = Array.from({ length: 60 }, (_, i) =>
      falcoAlert(T0 + i * 5000, 'Contact K8S API Server From Container', 'Notice', 'monitoring', 'agent-x'),
    );
    const exec = session('web-7d9f', T0 + sec(181)).slice(0, 1);
    const fired = live(exec, [...noise, shell(T0 + sec(184), 'web-7d9f')], sec(45));
    expect(fired).toContain(SEQ);
  });
});
