// What AKS itself does on a cluster, as its Event Hubs messages carry it (test/fixtures/aks/routine-traffic.jsonl):
// the resource provider (aksService), kubelets and their TLS bootstrap, the controller manager, the kube-system
// add-ons, Azure Policy's Gatekeeper, the Istio add-on and application routing. The catalogue stays quiet on it,
// and the same requests by anyone else still alert.
import { describe, expect, it } from 'vitest';
import { catalogue, catalogueWithout, detect, fromCloud } from './detect.ts';
import { fixtureLines, variant } from './fixtures.ts';

type Json = Record<string, unknown>;
const messages = () => fixtureLines('aks/routine-traffic.jsonl') as { records: Json[] }[];

function asUser(user: Json, pick: (username: string) => boolean): unknown[] {
  return messages().map((m) =>
    variant(m, (doc) => {
      for (const record of doc.records) {
        const props = record.properties as Json;
        const event = JSON.parse(String(props.log)) as { user: { username: string } };
        if (pick(event.user.username)) props.log = JSON.stringify({ ...event, user });
      }
    }),
  );
}

const ADD_ONS = (username: string) =>
  username.startsWith('system:serviceaccount:aks-istio-system:') ||
  username.startsWith('system:serviceaccount:app-routing-system:');

describe('AKS routine traffic', { timeout: 60_000 }, () => {
  const { events, rejected, ignored } = fromCloud(messages());

  it('is what AKS runs: its own identities, kubelets, the controller manager and the managed add-ons', () => {
    expect(rejected).toEqual([]);
    expect(ignored).toBe(0);
    const users = new Set(events.map((e) => e.user?.name));
    for (const who of [
      'aksService',
      'system:node:aks-nodepool1-38290522-vmss000000',
      'nodeclient',
      'kubelet-nodepool-bootstrap',
      'system:kube-controller-manager',
      'system:serviceaccount:kube-system:cloud-node-manager',
      'system:serviceaccount:kube-system:azure-policy',
      'system:serviceaccount:gatekeeper-system:gatekeeper-admin',
      'system:serviceaccount:aks-istio-system:istiod-asm-1-23',
      'system:serviceaccount:app-routing-system:nginx',
    ])
      expect(users, who).toContain(who);
  });

  it('raises no alert with the allow-lists', () => {
    expect(detect(catalogue(), events).map((a) => `${a.rule.name}: ${a.user?.name}`)).toEqual([]);
  });

  it('would raise high alerts for the managed add-ons without the AKS allow-list', () => {
    const alerts = detect(catalogueWithout('aks-managed-identities.yml'), events).filter(
      (a) => a.klaxon.severity === 'high' && ADD_ONS(a.user?.name ?? ''),
    );
    expect([...new Set(alerts.map((a) => a.rule.name))].sort()).toEqual([
      'k8s-admission-webhook-changed',
      'k8s-secret-list-cluster-wide',
    ]);
  });

  it.each([
    [
      'the cluster-admin certificate (masterclient)',
      { username: 'masterclient', groups: ['system:masters'] },
    ],
    [
      'an Entra ID user',
      {
        username: 'aks-admin@contoso.com',
        groups: ['system:authenticated'],
        extra: { oid: ['9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a'] },
      },
    ],
    [
      'another service account of the add-on namespace',
      { username: 'system:serviceaccount:aks-istio-system:default' },
    ],
    ['a look-alike namespace', { username: 'system:serviceaccount:app-routing-system-dev:nginx' }],
  ])('the add-ons’ requests by %s still alert', (_who, user) => {
    const { events: theirs } = fromCloud(asUser(user, ADD_ONS));
    const alerts = detect(catalogue(), theirs).filter((a) => a.klaxon.severity === 'high');
    expect([...new Set(alerts.map((a) => a.rule.name))].sort()).toEqual([
      'k8s-admission-webhook-changed',
      'k8s-secret-list-cluster-wide',
    ]);
    expect(new Set(alerts.map((a) => a.user?.name))).toEqual(new Set([user.username]));
  });
});
