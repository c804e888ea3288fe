import { describe, expect, it } from 'vitest';
import { normalizeAudit } from '../../../src/normalize/index.ts';

const base = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  auditID: '0d3f1e5a-8f0b-4c1e-9d7a-2b6c4e8f1a3d',
  stage: 'ResponseComplete',
  verb: 'get',
  stageTimestamp: '2025-03-11T14:02:05.131874Z',
};
const related = (user: unknown, extra: Record<string, unknown> = {}) => {
  const result = normalizeAudit({ ...base, user, ...extra }, { cluster: 'c' });
  if (!result.ok) throw new Error(result.reason);
  return result.event.related?.user;
};

describe('related.user: who acted, as every cloud names them', () => {
  it('adds the IAM identities aws-iam-authenticator puts in user.extra (EKS)', () => {
    expect(
      related({
        username: 'kubernetes-admin',
        extra: {
          accessKeyId: ['AKIARZ7EXAMPLEKEY0002'],
          arn: ['arn:aws:iam::111122223333:user/bob'],
          canonicalArn: ['arn:aws:iam::111122223333:user/bob'],
          principalId: ['AIDARZ7EXAMPLEBOB0001'],
          sessionName: [''],
        },
      }),
    ).toEqual([
      'kubernetes-admin',
      'arn:aws:iam::111122223333:user/bob',
      'AIDARZ7EXAMPLEBOB0001',
      'AKIARZ7EXAMPLEKEY0002',
    ]);
  });

  it('adds the Entra ID object id (AKS), once, beside the impersonated user', () => {
    expect(
      related(
        {
          username: '3f2e1d0c-9b8a-4f7e-a6d5-c4b3a2918070',
          extra: { oid: ['3f2e1d0c-9b8a-4f7e-a6d5-c4b3a2918070'] },
        },
        { impersonatedUser: { username: 'system:serviceaccount:shop:api' } },
      ),
    ).toEqual(['3f2e1d0c-9b8a-4f7e-a6d5-c4b3a2918070', 'system:serviceaccount:shop:api']);
  });

  it('leaves out other extra keys, non-strings, long values and all but the first few values', () => {
    expect(
      related({
        username: 'system:serviceaccount:shop:api',
        extra: {
          'authentication.kubernetes.io/pod-name': ['api-6f7c9d8b5-k2lqz'],
          'authentication.kubernetes.io/credential-id': ['JTI=1'],
          oid: [42, 'x'.repeat(600), 'a', 'b', 'c', 'd', 'e'],
          arn: 'not-a-list',
        },
      }),
    ).toEqual(['system:serviceaccount:shop:api', 'a', 'b']);
  });
});
