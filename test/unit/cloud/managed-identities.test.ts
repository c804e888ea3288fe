import { describe, expect, it } from 'vitest';
import { catalogue, catalogueWithout, detect, fromCloud } from './detect.ts';
import { fixtureJson, fixtureLines, variant } from './fixtures.ts';

type Json = Record<string, unknown>;
type User = { username: string; groups?: string[]; extra?: Record<string, string[]> };

/** Each cloud's own control plane and add-ons at work, as the cloud delivers it, and who else may do the same. */
const CLOUDS: {
  cloud: string;
  filter: string;
  deliveries: () => unknown[];
  asUser: (deliveries: unknown[], user: User) => unknown[];
  others: [string, User][];
}[] = [
  {
    cloud: 'EKS',
    filter: 'eks-managed-identities.yml',
    deliveries: () => [fixtureJson('eks/subscription-control-plane.json')],
    asUser: (deliveries, user) =>
      deliveries.map((d) =>
        variant(d as Json, (p) => {
          for (const e of p.logEvents as Json[])
            e.message = JSON.stringify({ ...JSON.parse(String(e.message)), user });
        }),
      ),
    others: [
      [
        'the cluster creator through aws-auth',
        {
          username: 'kubernetes-admin',
          groups: ['system:masters', 'system:authenticated'],
          extra: {
            arn: ['arn:aws:iam::111122223333:user/bob'],
            canonicalArn: ['arn:aws:iam::111122223333:user/bob'],
          },
        },
      ],
      [
        'an SSO user through an access entry',
        {
          username:
            'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ClusterAdmin_6b9f1c2e4a7d3b5e/alice@example.com',
          groups: ['system:authenticated'],
          extra: { sessionName: ['alice@example.com'] },
        },
      ],
      ['a workload', { username: 'system:serviceaccount:ci:deployer', groups: ['system:serviceaccounts'] }],
    ],
  },
  {
    cloud: 'GKE',
    filter: 'gke-managed-identities.yml',
    deliveries: () => fixtureLines('gke/control-plane.jsonl'),
    asUser: (deliveries, user) =>
      deliveries.map((d) =>
        variant(d as Json, (e) => {
          (e.protoPayload as Json).authenticationInfo = { principalEmail: user.username };
        }),
      ),
    others: [
      ['a Google account', { username: 'alice@example.com' }],
      ['an IAM service account named gke-*', { username: 'gke-deployer@acme-prod.iam.gserviceaccount.com' }],
      ['a workload (Workload Identity service account)', { username: 'system:serviceaccount:ci:deployer' }],
    ],
  },
  {
    cloud: 'AKS',
    filter: 'aks-managed-identities.yml',
    deliveries: () => fixtureLines('aks/PT1H.json'),
    asUser: (deliveries, user) =>
      deliveries.map((d) =>
        variant(d as Json, (r) => {
          const props = r.properties as Json;
          props.log = JSON.stringify({ ...JSON.parse(String(props.log)), user });
        }),
      ),
    others: [
      [
        'the cluster-admin certificate (az aks get-credentials --admin)',
        { username: 'masterclient', groups: ['system:masters'] },
      ],
      [
        'an Entra ID user named aks-*',
        {
          username: 'aks-admin@contoso.com',
          groups: ['system:authenticated'],
          extra: { oid: ['9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a'] },
        },
      ],
      [
        'an Entra ID service principal (object id)',
        {
          username: '3f2e1d0c-9b8a-4f7e-a6d5-c4b3a2918070',
          extra: { oid: ['3f2e1d0c-9b8a-4f7e-a6d5-c4b3a2918070'] },
        },
      ],
      ['a workload', { username: 'system:serviceaccount:ci:deployer', groups: ['system:serviceaccounts'] }],
    ],
  },
];

const full = catalogue();

describe.each(CLOUDS)('$cloud managed identities', ({ filter, deliveries, asUser, others }) => {
  const withoutFilter = catalogueWithout(filter);
  const { events } = fromCloud(deliveries());
  /** What the cloud's own identities would raise if the allow-list did not leave them out. */
  const quieted = [...new Set(detect(withoutFilter, events).map((a) => a.rule.name))].sort();

  it('the routine traffic would alert without the allow-list', () => {
    expect(quieted.length).toBeGreaterThan(0);
  });

  it('the allow-list quiets it completely', () => {
    expect(detect(full, events).map((a) => `${a.rule.name}: ${a.user?.name}`)).toEqual([]);
  });

  it.each(others)('the same requests by %s still alert', (_who, user) => {
    const { events: theirs } = fromCloud(asUser(deliveries(), user));
    const alerts = detect(full, theirs);
    expect([...new Set(alerts.map((a) => a.rule.name))].sort()).toEqual(expect.arrayContaining(quieted));
    expect(new Set(alerts.map((a) => a.user?.name))).toEqual(new Set([user.username]));
  });
});
