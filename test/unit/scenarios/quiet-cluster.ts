/**
 * A deterministic generator of one hour of a normal, busy cluster's audit traffic (scenario g of the evaluation):
 * kubelets, the control plane's controllers, add-ons, GitOps, CI, developers, monitoring, health probes and the
 * managed-cluster components of EKS, GKE and AKS. Nothing in it is an attack: the catalogue must stay at `low` or
 * below on all of it. Written independently of test/fixtures/catalogue.
 */
import { mulberry32 } from '../../../scripts/bench/workload.ts';
import {
  type Actor,
  audit,
  container,
  controller,
  forbidden,
  type Json,
  min,
  node,
  podSpec,
  resetIds,
  sec,
  serviceAccount,
  T0,
  unauthorized,
  user,
  uuid,
} from './k8s.ts';

const NODES = [
  ['ip-10-0-11-21.eu-west-1.compute.internal', '10.0.11.21'],
  ['ip-10-0-12-34.eu-west-1.compute.internal', '10.0.12.34'],
  ['ip-10-0-13-47.eu-west-1.compute.internal', '10.0.13.47'],
  ['ip-10-0-21-58.eu-west-1.compute.internal', '10.0.21.58'],
  ['ip-10-0-22-69.eu-west-1.compute.internal', '10.0.22.69'],
  ['ip-10-0-23-70.eu-west-1.compute.internal', '10.0.23.70'],
] as const;

const APPS = [
  ['shop', 'cart', 'ghcr.io/acme/cart:2.4.1'],
  ['shop', 'checkout', 'ghcr.io/acme/checkout:1.19.0'],
  ['shop', 'web', 'ghcr.io/acme/web:3.2.7'],
  ['payments', 'payments-api', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments-api:2024.06.10-1'],
  ['data', 'postgres', 'docker.io/bitnami/postgresql:16.3.0-debian-12-r14'],
  ['search', 'opensearch', 'opensearchproject/opensearch:2.14.0'],
] as const;

const ECR_CNI = '602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.2-eksbuild.1';
const ECR_CNI_INIT = '602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni-init:v1.18.2-eksbuild.1';
const EKS_KUBE_PROXY =
  '602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:v1.30.0-minimal-eksbuild.3';

const KCM = (name: string) => controller(name);

/** Appends `count` evenly spread occurrences (with jitter) of `make` over the hour. */
function every(
  out: Json[],
  rnd: () => number,
  periodMs: number,
  make: (at: number, i: number) => Json | Json[],
): void {
  let i = 0;
  for (let t = T0 + Math.floor(rnd() * periodMs); t < T0 + min(60); t += periodMs) {
    const jitter = Math.floor(rnd() * Math.min(2000, periodMs / 4));
    const made = make(t + jitter, i++);
    if (Array.isArray(made)) out.push(...made);
    else out.push(made);
  }
}

function appPodSpec(image: string, sa: string): Json {
  return podSpec(
    [
      container(
        image.split('/').pop()!.split(':')[0]!,
        image,
        {
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
        {
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          livenessProbe: { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, periodSeconds: 10 },
          env: [
            { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'password' } } },
          ],
        },
      ),
    ],
    { serviceAccountName: sa, securityContext: { fsGroup: 1000 } },
  );
}

function awsNodePodSpec(): Json {
  return podSpec(
    [
      container(
        'aws-node',
        ECR_CNI,
        { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
        {
          volumeMounts: [
            { name: 'cni-bin-dir', mountPath: '/host/opt/cni/bin' },
            { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
          ],
        },
      ),
    ],
    {
      hostNetwork: true,
      serviceAccountName: 'aws-node',
      priorityClassName: 'system-node-critical',
      initContainers: [container('aws-vpc-cni-init', ECR_CNI_INIT, { privileged: true })],
      volumes: [
        { name: 'cni-bin-dir', hostPath: { path: '/opt/cni/bin', type: '' } },
        { name: 'cni-net-dir', hostPath: { path: '/etc/cni/net.d', type: '' } },
        { name: 'log-dir', hostPath: { path: '/var/log/aws-routed-eni', type: 'DirectoryOrCreate' } },
        { name: 'run-dir', hostPath: { path: '/var/run/aws-node', type: 'DirectoryOrCreate' } },
        { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
      ],
      tolerations: [{ operator: 'Exists' }],
    },
  );
}

function deploymentBody(
  ns: string,
  name: string,
  image: string,
  replicas: number,
  annotations: Json = {},
): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: ns,
      labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name },
    },
    spec: {
      replicas,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': name }, annotations },
        spec: appPodSpec(image, name),
      },
    },
  };
}

/** The pods a ReplicaSet / DaemonSet controller creates, with the scheduler's binding and the kubelet's events. */
function podsFromController(
  at: number,
  ctl: string,
  ns: string,
  owner: [string, string],
  spec: Json,
  count: number,
  rnd: () => number,
): Json[] {
  const out: Json[] = [];
  for (let k = 0; k < count; k++) {
    const suffix = Math.floor(rnd() * 36 ** 5)
      .toString(36)
      .padStart(5, 'x');
    const name = `${owner[1]}-${suffix}`;
    const [nodeName, nodeIp] = NODES[Math.floor(rnd() * NODES.length)]!;
    const body = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        generateName: `${owner[1]}-`,
        namespace: ns,
        labels: { 'app.kubernetes.io/name': owner[1].split('-')[0] },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: owner[0],
            name: owner[1],
            uid: uuid(`owner:${owner[1]}`),
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec,
    };
    out.push(
      audit({
        at: at + k * 200,
        actor: KCM(ctl),
        verb: 'create',
        ref: { resource: 'pods', namespace: ns },
        requestObject: body,
        responseObject: { ...body, metadata: { ...body.metadata, name, uid: uuid(`pod:${name}`) } },
        annotations: {
          'authorization.k8s.io/decision': 'allow',
          'authorization.k8s.io/reason': `RBAC: allowed by ClusterRoleBinding "system:controller:${ctl}" of ClusterRole "system:controller:${ctl}" to ServiceAccount "${ctl}/kube-system"`,
          'pod-security.kubernetes.io/enforce-policy': 'privileged:latest',
        },
      }),
      audit({
        at: at + k * 200 + 40,
        actor: {
          username: 'system:kube-scheduler',
          groups: ['system:authenticated'],
          sourceIPs: ['172.18.0.3'],
          userAgent: 'kube-scheduler/v1.30.1 (linux/amd64) kubernetes/6911225/scheduler',
        },
        verb: 'create',
        ref: { resource: 'pods', namespace: ns, name, subresource: 'binding' },
        requestObject: {
          kind: 'Binding',
          apiVersion: 'v1',
          metadata: { name, namespace: ns },
          target: { kind: 'Node', name: nodeName },
        },
      }),
      audit({
        at: at + k * 200 + 900,
        actor: node(nodeName, nodeIp),
        verb: 'create',
        ref: {
          resource: 'serviceaccounts',
          namespace: ns,
          name: String((spec as { serviceAccountName?: string }).serviceAccountName ?? 'default'),
          subresource: 'token',
        },
        requestObject: {
          kind: 'TokenRequest',
          apiVersion: 'authentication.k8s.io/v1',
          spec: {
            audiences: ['https://kubernetes.default.svc'],
            expirationSeconds: 3607,
            boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name },
          },
        },
      }),
      audit({
        at: at + k * 200 + 2500,
        actor: node(nodeName, nodeIp),
        verb: 'create',
        ref: { resource: 'events', namespace: ns },
        level: 'Request',
        requestObject: {
          kind: 'Event',
          apiVersion: 'v1',
          metadata: { name: `${name}.17d8e5f${k}`, namespace: ns },
          involvedObject: { kind: 'Pod', namespace: ns, name },
          reason: 'Pulled',
          message: `Successfully pulled image "${String(((spec.containers as Json[])[0] as Json).image)}" in 1.873s (1.873s including waiting). Image size: 48213112 bytes.`,
          source: { component: 'kubelet', host: nodeName },
          type: 'Normal',
        },
      }),
      audit({
        at: at + k * 200 + 3500,
        actor: node(nodeName, nodeIp),
        verb: 'patch',
        ref: { resource: 'pods', namespace: ns, name, subresource: 'status' },
        level: 'Request',
        requestObject: {
          metadata: { uid: uuid(`pod:${name}`) },
          status: {
            phase: 'Running',
            conditions: [{ type: 'Ready', status: 'True' }],
            containerStatuses: [
              {
                name: 'app',
                ready: true,
                started: true,
                state: { running: { startedAt: '2024-06-11T09:00:00Z' } },
              },
            ],
          },
        },
      }),
    );
  }
  return out;
}

/** One hour of a busy, healthy cluster, sorted by event time. */
export function quietHour(seed = 20240611): Json[] {
  resetIds();
  // Seeded, so the hour is the same on every run.
  const rnd = mulberry32(seed);
  const out: Json[] = [];

  // Kubelets: lease renewals every 10 s, node status every minute, secret/configmap refreshes, projected tokens.
  for (const [name, ip] of NODES) {
    const kubelet = node(name, ip);
    every(out, rnd, sec(10), (at) =>
      audit({
        at,
        actor: kubelet,
        verb: 'update',
        ref: { resource: 'leases', namespace: 'kube-node-lease', name },
        query: 'timeout=10s',
      }),
    );
    every(out, rnd, min(1), (at) =>
      audit({
        at,
        actor: kubelet,
        verb: 'patch',
        ref: { resource: 'nodes', name, subresource: 'status' },
        query: 'timeout=10s',
        level: 'Request',
        requestObject: {
          status: {
            $setElementOrder_conditions: [
              { type: 'MemoryPressure' },
              { type: 'DiskPressure' },
              { type: 'PIDPressure' },
              { type: 'Ready' },
            ],
            conditions: [{ type: 'Ready', lastHeartbeatTime: '2024-06-11T09:00:00Z' }],
          },
        },
      }),
    );
    every(out, rnd, min(5), (at, i) => {
      const [ns, app] = APPS[i % APPS.length]!;
      return [
        audit({
          at,
          actor: kubelet,
          verb: 'list',
          ref: { resource: 'secrets', namespace: ns },
          query: `fieldSelector=metadata.name%3D${app}-tls&limit=500&resourceVersion=0`,
        }),
        audit({
          at: at + 50,
          actor: kubelet,
          verb: 'watch',
          ref: { resource: 'configmaps', namespace: ns },
          query: `allowWatchBookmarks=true&fieldSelector=metadata.name%3Dkube-root-ca.crt&resourceVersion=81221&timeout=7m16s&timeoutSeconds=436&watch=true`,
        }),
        audit({
          at: at + 80,
          actor: kubelet,
          verb: 'create',
          ref: { resource: 'serviceaccounts', namespace: ns, name: app, subresource: 'token' },
          requestObject: {
            kind: 'TokenRequest',
            apiVersion: 'authentication.k8s.io/v1',
            spec: {
              audiences: ['https://kubernetes.default.svc'],
              expirationSeconds: 3607,
              boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: `${app}-7d9f8c6b5-x2x4q` },
            },
          },
        }),
        audit({
          at: at + 120,
          actor: kubelet,
          verb: 'get',
          ref: { resource: 'pods', namespace: ns, name: `${app}-7d9f8c6b5-x2x4q` },
        }),
      ];
    });
  }

  // Control plane: leader election, scheduler, endpoint slices, garbage collector, namespace controller, HPA.
  const kcmUser: Actor = {
    username: 'system:kube-controller-manager',
    groups: ['system:authenticated'],
    sourceIPs: ['172.18.0.2'],
    userAgent: 'kube-controller-manager/v1.30.1 (linux/amd64) kubernetes/6911225/leader-election',
  };
  const schedUser: Actor = {
    username: 'system:kube-scheduler',
    groups: ['system:authenticated'],
    sourceIPs: ['172.18.0.3'],
    userAgent: 'kube-scheduler/v1.30.1 (linux/amd64) kubernetes/6911225/leader-election',
  };
  every(out, rnd, sec(2), (at, i) =>
    audit({
      at,
      actor: i % 2 ? kcmUser : schedUser,
      verb: 'update',
      ref: {
        resource: 'leases',
        namespace: 'kube-system',
        name: i % 2 ? 'kube-controller-manager' : 'kube-scheduler',
      },
      query: 'timeout=5s',
    }),
  );
  every(out, rnd, sec(15), (at, i) => {
    const [ns, app] = APPS[i % APPS.length]!;
    return audit({
      at,
      actor: KCM('endpointslice-controller'),
      verb: 'update',
      ref: { resource: 'endpointslices', namespace: ns, name: `${app}-8xk2p` },
      level: 'RequestResponse',
      requestObject: {
        kind: 'EndpointSlice',
        apiVersion: 'discovery.k8s.io/v1',
        metadata: { name: `${app}-8xk2p`, namespace: ns },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.0.12.88'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    });
  });
  every(out, rnd, sec(30), (at) =>
    audit({
      at,
      actor: KCM('generic-garbage-collector'),
      verb: 'list',
      ref: { resource: 'controllerrevisions' },
      query: 'limit=500&resourceVersion=0',
    }),
  );
  every(out, rnd, sec(30), (at, i) =>
    audit({
      at,
      actor: { ...KCM('horizontal-pod-autoscaler') },
      verb: 'list',
      ref: { resource: 'pods', namespace: 'shop', apiGroup: 'metrics.k8s.io', apiVersion: 'v1beta1' },
      uri: `/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods?labelSelector=app.kubernetes.io%2Fname%3D${i % 2 ? 'cart' : 'web'}`,
    }),
  );

  // HPA scales cart up and down: scale subresource, the deployment controller's ReplicaSet update, new pods.
  for (const [k, t] of [min(12), min(31), min(47)].entries()) {
    const replicas = [4, 6, 3][k]!;
    out.push(
      audit({
        at: T0 + t,
        actor: KCM('horizontal-pod-autoscaler'),
        verb: 'update',
        ref: { resource: 'deployments', namespace: 'shop', name: 'cart', subresource: 'scale' },
        level: 'RequestResponse',
        requestObject: {
          kind: 'Scale',
          apiVersion: 'autoscaling/v1',
          metadata: { name: 'cart', namespace: 'shop' },
          spec: { replicas },
        },
      }),
      audit({
        at: T0 + t + 100,
        actor: KCM('deployment-controller'),
        verb: 'update',
        ref: { resource: 'replicasets', namespace: 'shop', name: 'cart-7d9f8c6b5' },
        requestObject: {
          kind: 'ReplicaSet',
          apiVersion: 'apps/v1',
          metadata: {
            name: 'cart-7d9f8c6b5',
            namespace: 'shop',
            annotations: { 'deployment.kubernetes.io/desired-replicas': String(replicas) },
          },
          spec: {
            replicas,
            selector: { matchLabels: { 'app.kubernetes.io/name': 'cart' } },
            template: {
              metadata: { labels: { 'app.kubernetes.io/name': 'cart' } },
              spec: appPodSpec('ghcr.io/acme/cart:2.4.1', 'cart'),
            },
          },
        },
      }),
      ...podsFromController(
        T0 + t + 300,
        'replicaset-controller',
        'shop',
        ['ReplicaSet', 'cart-7d9f8c6b5'],
        appPodSpec('ghcr.io/acme/cart:2.4.1', 'cart'),
        2,
        rnd,
      ),
    );
  }

  // Cluster autoscaler: status configmap, node list, evictions.
  const ca = serviceAccount(
    'kube-system',
    'cluster-autoscaler',
    '10.0.11.80',
    'cluster-autoscaler/v1.30.1 (linux/amd64) kubernetes/6911225',
  );
  every(out, rnd, sec(10), (at) => [
    audit({
      at,
      actor: ca,
      verb: 'update',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'cluster-autoscaler-status' },
      requestObject: {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: { name: 'cluster-autoscaler-status', namespace: 'kube-system' },
        data: { status: 'Cluster-autoscaler status at 2024-06-11 09:00:00: Health: Healthy' },
      },
    }),
    audit({
      at: at + 30,
      actor: ca,
      verb: 'update',
      ref: { resource: 'leases', namespace: 'kube-system', name: 'cluster-autoscaler' },
    }),
  ]);
  out.push(
    audit({
      at: T0 + min(52),
      actor: ca,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'search', name: 'opensearch-2', subresource: 'eviction' },
      requestObject: {
        kind: 'Eviction',
        apiVersion: 'policy/v1',
        metadata: { name: 'opensearch-2', namespace: 'search' },
      },
    }),
  );

  // kube-proxy, CoreDNS, metrics-server, kube-state-metrics: watches and lists.
  const proxy: Actor = {
    username: 'system:kube-proxy',
    groups: ['system:authenticated'],
    sourceIPs: ['10.0.11.21'],
    userAgent: 'kube-proxy/v1.30.0 (linux/amd64) kubernetes/7c48c2b',
  };
  const coredns = serviceAccount(
    'kube-system',
    'coredns',
    '10.0.12.77',
    'coredns/v1.11.1 (linux/amd64) kubernetes/',
  );
  const metrics = serviceAccount(
    'kube-system',
    'metrics-server',
    '10.0.13.12',
    'metrics-server/v0.7.1 (linux/amd64) kubernetes/',
  );
  const ksm = serviceAccount(
    'monitoring',
    'kube-state-metrics',
    '10.0.21.44',
    'kube-state-metrics/v2.12.0 (linux/amd64) kubernetes/',
  );
  every(out, rnd, min(7), (at) => [
    audit({
      at,
      actor: proxy,
      verb: 'watch',
      ref: { resource: 'endpointslices' },
      query:
        'allowWatchBookmarks=true&labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name&resourceVersion=1234&timeout=7m0s&timeoutSeconds=420&watch=true',
    }),
    audit({
      at: at + 10,
      actor: coredns,
      verb: 'watch',
      ref: { resource: 'endpointslices' },
      query: 'allowWatchBookmarks=true&resourceVersion=1234&timeout=7m0s&timeoutSeconds=420&watch=true',
    }),
    audit({
      at: at + 20,
      actor: coredns,
      verb: 'watch',
      ref: { resource: 'namespaces' },
      query: 'allowWatchBookmarks=true&resourceVersion=1234&timeoutSeconds=311&watch=true',
    }),
    audit({
      at: at + 30,
      actor: ksm,
      verb: 'watch',
      ref: { resource: 'secrets' },
      query: 'allowWatchBookmarks=true&resourceVersion=1234&timeout=5m0s&timeoutSeconds=300&watch=true',
    }),
    audit({
      at: at + 35,
      actor: ksm,
      verb: 'list',
      ref: { resource: 'secrets' },
      query: 'limit=500&resourceVersion=0',
    }),
  ]);
  every(out, rnd, sec(15), (at) => [
    audit({
      at,
      actor: metrics,
      verb: 'list',
      ref: { resource: 'nodes' },
      query: 'limit=500&resourceVersion=0',
    }),
    audit({
      at: at + 5,
      actor: metrics,
      verb: 'create',
      ref: { resource: 'subjectaccessreviews' },
      requestObject: {
        kind: 'SubjectAccessReview',
        apiVersion: 'authorization.k8s.io/v1',
        spec: {
          user: 'system:serviceaccount:kube-system:horizontal-pod-autoscaler',
          resourceAttributes: { verb: 'list', group: 'metrics.k8s.io', resource: 'pods', namespace: 'shop' },
        },
      },
    }),
  ]);

  // Prometheus: /metrics of the API server and the kubelets through the API server's node proxy.
  // The prometheus-operator example names its account plainly "prometheus": no allow-list knows it.
  const prom = serviceAccount('monitoring', 'prometheus', '10.0.22.15', 'Prometheus/2.52.0');
  every(out, rnd, sec(30), (at, i) => {
    const [name] = NODES[i % NODES.length]!;
    return [
      audit({ at, actor: prom, verb: 'get', uri: '/metrics' }),
      audit({
        at: at + 50,
        actor: prom,
        verb: 'get',
        ref: { resource: 'nodes', name, subresource: 'proxy' },
        uri: `/api/v1/nodes/${name}/proxy/metrics/cadvisor`,
      }),
      audit({
        at: at + 60,
        actor: prom,
        verb: 'get',
        ref: { resource: 'nodes', name, subresource: 'proxy' },
        uri: `/api/v1/nodes/${name}/proxy/metrics`,
      }),
    ];
  });

  // Health probes: the load balancer and the kubelet probe the API server anonymously.
  every(out, rnd, sec(5), (at, i) => {
    const path = ['/readyz', '/livez', '/healthz', '/livez?verbose', '/version'][i % 5]!;
    return audit({
      at,
      actor: {
        username: 'system:anonymous',
        groups: ['system:unauthenticated'],
        sourceIPs: [i % 2 ? '10.0.0.245' : '10.0.1.12'],
        userAgent: i % 2 ? 'ELB-HealthChecker/2.0' : 'kube-probe/1.30',
      },
      verb: 'get',
      uri: path,
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason':
          'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"',
      },
    });
  });
  every(out, rnd, min(10), (at) =>
    audit({
      at,
      actor: {
        username: 'system:anonymous',
        groups: ['system:unauthenticated'],
        sourceIPs: ['52.94.133.131'],
        userAgent: 'aws-sdk-go-v2/1.26.1',
      },
      verb: 'get',
      uri: '/openid/v1/jwks',
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason':
          'RBAC: allowed by ClusterRoleBinding "system:service-account-issuer-discovery" of ClusterRole "system:service-account-issuer-discovery" to Group "system:unauthenticated"',
      },
    }),
  );

  // cert-manager: reads and renews its own secrets, creates CertificateRequests, injects caBundles, elects a leader.
  const cm = serviceAccount(
    'cert-manager',
    'cert-manager',
    '10.0.21.31',
    'cert-manager-certificates-issuing/v1.14.5 (linux/amd64) cert-manager/f2a0a7c',
  );
  const cainj = serviceAccount(
    'cert-manager',
    'cert-manager-cainjector',
    '10.0.21.32',
    'cainjector/v1.14.5 (linux/amd64) cert-manager/f2a0a7c',
  );
  const cmWebhook = serviceAccount(
    'cert-manager',
    'cert-manager-webhook',
    '10.0.21.33',
    'webhook/v1.14.5 (linux/amd64) cert-manager/f2a0a7c',
  );
  every(out, rnd, min(2), (at, i) => {
    const [ns, app] = APPS[i % APPS.length]!;
    return [
      audit({ at, actor: cm, verb: 'get', ref: { resource: 'secrets', namespace: ns, name: `${app}-tls` } }),
      audit({
        at: at + 40,
        actor: cm,
        verb: 'update',
        ref: { resource: 'leases', namespace: 'kube-system', name: 'cert-manager-controller' },
      }),
      audit({
        at: at + 60,
        actor: cmWebhook,
        verb: 'get',
        ref: { resource: 'secrets', namespace: 'cert-manager', name: 'cert-manager-webhook-ca' },
      }),
    ];
  });
  every(out, rnd, min(15), (at, i) => {
    const [ns, app] = APPS[i % APPS.length]!;
    return [
      audit({
        at,
        actor: cm,
        verb: 'create',
        ref: { resource: 'certificaterequests', namespace: ns },
        requestObject: {
          kind: 'CertificateRequest',
          apiVersion: 'cert-manager.io/v1',
          metadata: { generateName: `${app}-tls-`, namespace: ns },
          spec: {
            issuerRef: { kind: 'ClusterIssuer', name: 'letsencrypt' },
            request: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K',
            usages: ['digital signature', 'key encipherment'],
          },
        },
      }),
      audit({
        at: at + 3000,
        actor: cm,
        verb: 'update',
        ref: { resource: 'secrets', namespace: ns, name: `${app}-tls` },
      }),
      audit({
        at: at + 3500,
        actor: cainj,
        verb: 'patch',
        ref: { resource: 'validatingwebhookconfigurations', name: 'cert-manager-webhook' },
        query: 'fieldManager=cert-manager-cainjector&force=true',
        requestObject: {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingWebhookConfiguration',
          metadata: { name: 'cert-manager-webhook' },
          webhooks: [{ name: 'webhook.cert-manager.io', clientConfig: { caBundle: 'LS0tLS1CRUdJTi...' } }],
        },
      }),
    ];
  });

  // Argo CD and Flux apply Deployments with pinned images (server-side apply), and their ReplicaSets roll.
  const argo = serviceAccount(
    'argocd',
    'argocd-application-controller',
    '10.0.22.40',
    'argocd-application-controller/v2.11.3 (linux/amd64) kubernetes/',
  );
  const flux = serviceAccount(
    'flux-system',
    'kustomize-controller',
    '10.0.22.41',
    'kustomize-controller/v1.3.0 (linux/amd64) kubernetes/',
  );
  for (const [k, t] of [min(5), min(25), min(45)].entries()) {
    const [ns, app, image] = APPS[k]!;
    const actor = k % 2 ? flux : argo;
    const body = deploymentBody(ns, app, image, 3);
    out.push(
      audit({
        at: T0 + t,
        actor,
        verb: 'patch',
        ref: { resource: 'deployments', namespace: ns, name: app },
        query: `fieldManager=${k % 2 ? 'kustomize-controller' : 'argocd-controller'}&force=true`,
        requestObject: body,
        responseObject: body,
      }),
      audit({
        at: T0 + t + 200,
        actor,
        verb: 'patch',
        ref: { resource: 'services', namespace: ns, name: app },
        query: 'fieldManager=argocd-controller&force=true',
        requestObject: {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: app, namespace: ns },
          spec: {
            type: 'ClusterIP',
            selector: { 'app.kubernetes.io/name': app },
            ports: [{ port: 80, targetPort: 8080 }],
          },
        },
      }),
      audit({
        at: T0 + t + 250,
        actor,
        verb: 'patch',
        ref: { resource: 'rolebindings', namespace: ns, name: `${app}-reader` },
        query: 'fieldManager=argocd-controller&force=true',
        requestObject: {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: `${app}-reader`, namespace: ns },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
          subjects: [{ kind: 'ServiceAccount', name: app, namespace: ns }],
        },
      }),
      audit({
        at: T0 + t + 400,
        actor: KCM('deployment-controller'),
        verb: 'create',
        ref: { resource: 'replicasets', namespace: ns },
        requestObject: {
          kind: 'ReplicaSet',
          apiVersion: 'apps/v1',
          metadata: {
            name: `${app}-5c9f7b8d4`,
            namespace: ns,
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'Deployment',
                name: app,
                controller: true,
                uid: uuid(`dep:${app}`),
              },
            ],
          },
          spec: {
            replicas: 1,
            selector: { matchLabels: { 'app.kubernetes.io/name': app } },
            template: (body.spec as Json).template,
          },
        },
      }),
      ...podsFromController(
        T0 + t + 700,
        'replicaset-controller',
        ns,
        ['ReplicaSet', `${app}-5c9f7b8d4`],
        appPodSpec(image, app),
        3,
        rnd,
      ),
      audit({
        at: T0 + t + 9000,
        actor: KCM('deployment-controller'),
        verb: 'update',
        ref: { resource: 'deployments', namespace: ns, name: app, subresource: 'status' },
        requestObject: {
          kind: 'Deployment',
          apiVersion: 'apps/v1',
          metadata: { name: app, namespace: ns },
          spec: body.spec,
          status: { replicas: 3, readyReplicas: 3 },
        },
      }),
    );
  }
  every(out, rnd, min(3), (at) => [
    audit({
      at,
      actor: argo,
      verb: 'list',
      ref: { resource: 'secrets', namespace: 'argocd' },
      query: 'labelSelector=argocd.argoproj.io%2Fsecret-type%3Dcluster&limit=500&resourceVersion=0',
    }),
    audit({
      at: at + 20,
      actor: argo,
      verb: 'watch',
      ref: { resource: 'deployments' },
      query: 'allowWatchBookmarks=true&resourceVersion=5532&watch=true',
    }),
    audit({
      at: at + 40,
      actor: flux,
      verb: 'get',
      ref: { resource: 'kustomizations', namespace: 'flux-system', name: 'apps' },
    }),
    audit({
      at: at + 60,
      actor: flux,
      verb: 'patch',
      ref: { resource: 'kustomizations', namespace: 'flux-system', name: 'apps', subresource: 'status' },
      requestObject: { status: { lastAppliedRevision: 'main@sha1:3f1a2b' } },
    }),
  ]);

  // CI deploys with Helm and kubectl set image; Helm keeps its release secrets.
  const helm = serviceAccount('ci', 'gitlab-deployer', '10.0.4.17', 'Helm/3.14.4');
  const ciKubectl = serviceAccount(
    'ci',
    'gitlab-deployer',
    '10.0.4.17',
    'kubectl/v1.29.4 (linux/amd64) kubernetes/55e1d8e',
  );
  for (const [k, t] of [min(9), min(22), min(38), min(55)].entries()) {
    const [ns, app, image] = APPS[(k + 2) % 3]!;
    const bumped = image.replace(/:(\d+)\.(\d+)\.(\d+)$/, (_m, a, b, c) => `:${a}.${b}.${Number(c) + 1}`);
    out.push(
      audit({
        at: T0 + t,
        actor: helm,
        verb: 'list',
        ref: { resource: 'secrets', namespace: ns },
        query: `labelSelector=name%3D${app}%2Cowner%3Dhelm%2Cstatus%3Ddeployed`,
      }),
      audit({
        at: T0 + t + 300,
        actor: helm,
        verb: 'create',
        ref: { resource: 'secrets', namespace: ns },
        requestObject: {
          kind: 'Secret',
          apiVersion: 'v1',
          metadata: {
            name: `sh.helm.release.v1.${app}.v${12 + k}`,
            namespace: ns,
            labels: { owner: 'helm', name: app },
          },
          type: 'helm.sh/release.v1',
          data: { release: 'H4sIAAAAAAAC/+y9' },
        },
      }),
      audit({
        at: T0 + t + 500,
        actor: helm,
        verb: 'patch',
        ref: { resource: 'roles', namespace: ns, name: `${app}-leader-election` },
        requestObject: {
          rules: [
            { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
          ],
        },
      }),
      audit({
        at: T0 + t + 700,
        actor: helm,
        verb: 'patch',
        ref: { resource: 'deployments', namespace: ns, name: app },
        requestObject: { spec: { template: { spec: { containers: [{ name: app, image: bumped }] } } } },
      }),
      audit({
        at: T0 + t + 60_000,
        actor: ciKubectl,
        verb: 'patch',
        ref: { resource: 'deployments', namespace: ns, name: app },
        query: 'fieldManager=kubectl-set',
        requestObject: { spec: { template: { spec: { containers: [{ name: app, image: bumped }] } } } },
      }),
      audit({
        at: T0 + t + 61_000,
        actor: ciKubectl,
        verb: 'watch',
        ref: { resource: 'deployments', namespace: ns },
        query: `fieldSelector=metadata.name%3D${app}&watch=true`,
      }),
      audit({
        at: T0 + t + 1200,
        actor: KCM('deployment-controller'),
        verb: 'create',
        ref: { resource: 'replicasets', namespace: ns },
        requestObject: {
          kind: 'ReplicaSet',
          apiVersion: 'apps/v1',
          metadata: { name: `${app}-6b7c8d9e${k}`, namespace: ns },
          spec: { replicas: 1, template: { metadata: { labels: { app } }, spec: appPodSpec(bumped, app) } },
        },
      }),
      ...podsFromController(
        T0 + t + 1500,
        'replicaset-controller',
        ns,
        ['ReplicaSet', `${app}-6b7c8d9e${k}`],
        appPodSpec(bumped, app),
        2,
        rnd,
      ),
    );
  }

  // Developers: get pods, logs, describe, top, rollout restart, can-i, a secret of their own app, a port-forward.
  const devs = [
    user('alice@example.com', '198.51.100.23'),
    user('bob@example.com', '198.51.100.41', 'kubectl/v1.31.0 (darwin/arm64) kubernetes/9edcffc'),
    user('carol@example.com', '198.51.100.77', 'k9s/v0.32.4 (darwin/arm64) kubernetes/'),
  ];
  every(out, rnd, sec(20), (at, i) => {
    const dev = devs[i % devs.length]!;
    const [ns, app] = APPS[i % 3]!;
    const pod = `${app}-7d9f8c6b5-x2x4q`;
    switch (i % 6) {
      case 0:
        return audit({
          at,
          actor: dev,
          verb: 'list',
          ref: { resource: 'pods', namespace: ns },
          query: 'limit=500',
        });
      case 1:
        return audit({
          at,
          actor: dev,
          verb: 'get',
          ref: { resource: 'pods', namespace: ns, name: pod, subresource: 'log' },
          query: 'container=app&follow=true&tailLines=100',
        });
      case 2:
        return [
          audit({ at, actor: dev, verb: 'get', ref: { resource: 'pods', namespace: ns, name: pod } }),
          audit({
            at: at + 30,
            actor: dev,
            verb: 'list',
            ref: { resource: 'events', namespace: ns },
            query: `fieldSelector=involvedObject.name%3D${pod}%2CinvolvedObject.namespace%3D${ns}%2CinvolvedObject.uid%3D${uuid(pod)}&limit=500`,
          }),
        ];
      case 3:
        return audit({
          at,
          actor: dev,
          verb: 'list',
          ref: { resource: 'pods', namespace: ns, apiGroup: 'metrics.k8s.io', apiVersion: 'v1beta1' },
          uri: `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`,
        });
      case 4:
        return audit({
          at,
          actor: dev,
          verb: 'create',
          ref: { resource: 'selfsubjectaccessreviews' },
          requestObject: {
            kind: 'SelfSubjectAccessReview',
            apiVersion: 'authorization.k8s.io/v1',
            spec: {
              resourceAttributes: { namespace: ns, verb: 'create', resource: 'deployments', group: 'apps' },
            },
          },
        });
      default:
        return audit({
          at,
          actor: dev,
          verb: 'list',
          ref: { resource: 'deployments', namespace: ns },
          query: 'limit=500',
        });
    }
  });
  out.push(
    audit({
      at: T0 + min(17),
      actor: devs[0]!,
      verb: 'patch',
      ref: { resource: 'deployments', namespace: 'shop', name: 'web' },
      query: 'fieldManager=kubectl-rollout',
      requestObject: {
        spec: {
          template: {
            metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-06-11T09:17:00Z' } },
          },
        },
      },
    }),
    audit({
      at: T0 + min(33),
      actor: devs[1]!,
      verb: 'get',
      ref: { resource: 'secrets', namespace: 'shop', name: 'cart-db' },
    }),
    audit({
      at: T0 + min(41),
      actor: devs[2]!,
      verb: 'create',
      ref: { resource: 'pods', namespace: 'data', name: 'postgres-0', subresource: 'portforward' },
      code: 101,
      stage: 'ResponseStarted',
      auditID: uuid('dev-pf'),
    }),
    forbidden({
      at: T0 + min(43),
      actor: devs[2]!,
      verb: 'list',
      ref: { resource: 'namespaces' },
      query: 'limit=500',
    }),
    ...[0, 1, 2].map((k) =>
      unauthorized(
        T0 + min(44) + k * 3000,
        '198.51.100.41',
        'kubectl/v1.31.0 (darwin/arm64) kubernetes/9edcffc',
        '/api/v1/namespaces/shop/pods?limit=500',
      ),
    ),
  );

  // EKS: the add-on manager rolls the aws-node and kube-proxy DaemonSets; the DaemonSet controller replaces their pods;
  // the certificate controller approves kubelet serving CSRs; the authenticator reads aws-auth.
  const addon: Actor = {
    username: 'eks:addon-manager',
    groups: ['system:authenticated'],
    sourceIPs: ['172.16.54.199'],
    userAgent: 'eks-addon-manager/v0.0.0 (linux/amd64) kubernetes/$Format',
  };
  const awsNodeDs = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'aws-node', namespace: 'kube-system' },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'aws-node' } },
      template: { metadata: { labels: { 'k8s-app': 'aws-node' } }, spec: awsNodePodSpec() },
    },
  };
  out.push(
    audit({
      at: T0 + min(20),
      actor: addon,
      verb: 'patch',
      ref: { resource: 'daemonsets', namespace: 'kube-system', name: 'aws-node' },
      query: 'fieldManager=eks&force=true',
      requestObject: awsNodeDs,
    }),
    audit({
      at: T0 + min(20) + 500,
      actor: addon,
      verb: 'patch',
      ref: { resource: 'daemonsets', namespace: 'kube-system', name: 'kube-proxy' },
      query: 'fieldManager=eks&force=true',
      requestObject: {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'kube-proxy', namespace: 'kube-system' },
        spec: {
          template: {
            spec: podSpec([container('kube-proxy', EKS_KUBE_PROXY, { privileged: true })], {
              hostNetwork: true,
              volumes: [
                { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock' } },
                { name: 'lib-modules', hostPath: { path: '/lib/modules' } },
                { name: 'varlog', hostPath: { path: '/var/log' } },
              ],
            }),
          },
        },
      },
    }),
    audit({
      at: T0 + min(20) + 800,
      actor: addon,
      verb: 'patch',
      ref: { resource: 'clusterroles', name: 'aws-node' },
      query: 'fieldManager=eks&force=true',
      requestObject: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'aws-node' },
        rules: [
          { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['list', 'watch', 'get'] },
          { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch', 'get', 'update', 'patch'] },
        ],
      },
    }),
    ...NODES.flatMap(([name], k) => [
      audit({
        at: T0 + min(21) + k * 20_000,
        actor: KCM('daemon-set-controller'),
        verb: 'delete',
        ref: { resource: 'pods', namespace: 'kube-system', name: `aws-node-old${k}` },
      }),
      ...podsFromController(
        T0 + min(21) + k * 20_000 + 3000,
        'daemon-set-controller',
        'kube-system',
        ['DaemonSet', `aws-node`],
        { ...awsNodePodSpec(), nodeName: name },
        1,
        rnd,
      ),
    ]),
  );
  const eksCert: Actor = {
    username: 'eks:certificate-controller',
    groups: ['system:authenticated'],
    sourceIPs: ['172.16.54.199'],
    userAgent: 'eks-certificate-controller/v0.0.0 (linux/amd64) kubernetes/$Format',
  };
  for (const [k, [name, ip]] of NODES.slice(0, 3).entries()) {
    const csr = `csr-${uuid(`csr${k}`).slice(0, 5)}`;
    out.push(
      audit({
        at: T0 + min(28) + k * 5000,
        actor: node(name, ip),
        verb: 'create',
        ref: { resource: 'certificatesigningrequests' },
        requestObject: {
          kind: 'CertificateSigningRequest',
          apiVersion: 'certificates.k8s.io/v1',
          metadata: { generateName: 'csr-' },
          spec: {
            request: 'LS0tLS1CRUdJTi...',
            signerName: 'kubernetes.io/kubelet-serving',
            usages: ['digital signature', 'server auth'],
          },
        },
        responseObject: { metadata: { name: csr } },
      }),
      audit({
        at: T0 + min(28) + k * 5000 + 800,
        actor: eksCert,
        verb: 'update',
        ref: { resource: 'certificatesigningrequests', name: csr, subresource: 'approval' },
        requestObject: {
          kind: 'CertificateSigningRequest',
          metadata: { name: csr },
          status: { conditions: [{ type: 'Approved', status: 'True', reason: 'AutoApproved' }] },
        },
      }),
    );
  }
  const eksAuth: Actor = {
    username: 'eks:authenticator',
    groups: ['system:authenticated'],
    sourceIPs: ['172.16.54.199'],
    userAgent: 'aws-iam-authenticator/v0.6.20 (linux/amd64) kubernetes/$Format',
  };
  every(out, rnd, min(1), (at) => [
    audit({
      at,
      actor: eksAuth,
      verb: 'get',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' },
    }),
    audit({
      at: at + 100,
      actor: { ...eksAuth, username: 'eks:k8s-metrics', userAgent: 'eks-k8s-metrics/v0.0.0' },
      verb: 'get',
      uri: '/metrics',
    }),
    audit({
      at: at + 150,
      actor: {
        ...eksAuth,
        username: 'eks:cloud-controller-manager',
        userAgent: 'aws-cloud-controller-manager/v1.30.1 (linux/amd64) kubernetes/',
      },
      verb: 'list',
      ref: { resource: 'services' },
      query: 'limit=500',
    }),
  ]);

  // GKE and AKS managed components (mixed fleets ship their logs to one Klaxon).
  const gkeAddon: Actor = {
    username: 'system:addon-manager',
    groups: ['system:authenticated'],
    sourceIPs: ['172.16.0.2'],
    userAgent: 'kubectl/v1.30.1 (linux/amd64) kubernetes/',
  };
  const gkeRobot: Actor = {
    username: 'service-123456789012@container-engine-robot.iam.gserviceaccount.com',
    groups: ['system:authenticated'],
    sourceIPs: ['35.187.1.12'],
    userAgent: 'google-api-go-client/0.5 GKE/1.30.2-gke.1587003',
  };
  const aks: Actor = {
    username: 'aksService',
    groups: ['system:masters', 'system:authenticated'],
    sourceIPs: ['20.61.1.1'],
    userAgent: 'aks-rp/1.0',
  };
  every(out, rnd, min(5), (at) => [
    audit({
      at,
      actor: gkeAddon,
      verb: 'patch',
      ref: { resource: 'daemonsets', namespace: 'kube-system', name: 'fluentbit-gke' },
      query: 'fieldManager=kubectl-client-side-apply',
      requestObject: {
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: 'fluentbit',
                  image: 'gke.gcr.io/fluent-bit:v1.8.12-gke.25',
                  securityContext: { privileged: true },
                },
              ],
              volumes: [
                { name: 'varlog', hostPath: { path: '/var/log' } },
                { name: 'varlibkubeletpods', hostPath: { path: '/var/lib/kubelet/pods' } },
              ],
            },
          },
        },
      },
    }),
    audit({
      at: at + 100,
      actor: gkeRobot,
      verb: 'get',
      ref: { resource: 'configmaps', namespace: 'kube-system', name: 'gke-common-webhook-heartbeat' },
    }),
    audit({
      at: at + 200,
      actor: { ...gkeAddon, username: 'system:gke-common-webhooks', userAgent: 'gke-common-webhooks/v0.0.0' },
      verb: 'patch',
      ref: {
        resource: 'mutatingwebhookconfigurations',
        name: 'pod-ready.config.common-webhooks.networking.gke.io',
      },
      requestObject: {
        webhooks: [
          { name: 'pod-ready.common-webhooks.networking.gke.io', clientConfig: { caBundle: 'LS0tLS1...' } },
        ],
      },
    }),
    audit({
      at: at + 300,
      actor: aks,
      verb: 'get',
      ref: { resource: 'clusterrolebindings', name: 'aks-service-rolebinding' },
    }),
    audit({
      at: at + 320,
      actor: aks,
      verb: 'update',
      ref: { resource: 'clusterrolebindings', name: 'aks-service-rolebinding' },
      requestObject: {
        kind: 'ClusterRoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name: 'aks-service-rolebinding' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'User', name: 'aksService' }],
      },
    }),
    audit({
      at: at + 400,
      actor: serviceAccount('kube-system', 'konnectivity-agent', '10.224.0.4', 'proxy-agent/v0.1.6'),
      verb: 'update',
      ref: { resource: 'leases', namespace: 'kube-system', name: 'konnectivity-agent' },
    }),
  ]);

  // The cluster autoscaler adds a kubeadm node: kubeadm join reads kube-public/cluster-info anonymously, then the
  // kubelet bootstraps; on GKE node pools the kubelet bootstraps as "kubelet" and the GCP controller approves.
  out.push(
    audit({
      at: T0 + min(26),
      actor: 'anonymous',
      verb: 'get',
      ref: { resource: 'configmaps', namespace: 'kube-public', name: 'cluster-info' },
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason':
          'RBAC: allowed by RoleBinding "kubeadm:bootstrap-signer-clusterinfo/kube-public" of Role "kubeadm:bootstrap-signer-clusterinfo" to User "system:anonymous"',
      },
    }),
    audit({
      at: T0 + min(26) + 2000,
      actor: {
        username: 'system:bootstrap:abcdef',
        groups: [
          'system:bootstrappers',
          'system:bootstrappers:kubeadm:default-node-token',
          'system:authenticated',
        ],
        sourceIPs: ['10.0.31.9'],
        userAgent: 'kubelet/v1.30.1 (linux/amd64) kubernetes/6911225',
      },
      verb: 'create',
      ref: { resource: 'certificatesigningrequests' },
      requestObject: {
        kind: 'CertificateSigningRequest',
        apiVersion: 'certificates.k8s.io/v1',
        metadata: { generateName: 'csr-' },
        spec: {
          request: 'LS0tLS1CRUdJTi...',
          signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
          usages: ['digital signature', 'client auth'],
        },
      },
    }),
    audit({
      at: T0 + min(27),
      actor: {
        username: 'kubelet',
        groups: ['system:authenticated'],
        sourceIPs: ['10.128.0.12'],
        userAgent: 'kubelet/v1.30.2 (linux/amd64) kubernetes/d6d8c54',
      },
      verb: 'create',
      ref: { resource: 'certificatesigningrequests' },
      requestObject: {
        kind: 'CertificateSigningRequest',
        apiVersion: 'certificates.k8s.io/v1',
        metadata: { generateName: 'node-csr-' },
        spec: {
          request: 'LS0tLS1CRUdJTi...',
          signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
          usages: ['digital signature', 'client auth'],
        },
      },
      responseObject: { metadata: { name: 'node-csr-x7k2p' } },
    }),
    audit({
      at: T0 + min(27) + 900,
      actor: {
        username: 'system:gcp-controller-manager',
        groups: ['system:authenticated'],
        sourceIPs: ['172.16.0.2'],
        userAgent: 'gcp-controller-manager/v1.30.2 (linux/amd64) kubernetes/d6d8c54',
      },
      verb: 'update',
      ref: { resource: 'certificatesigningrequests', name: 'node-csr-x7k2p', subresource: 'approval' },
    }),
  );

  // Argo CD syncs an OpenTelemetry collector config that names where its credentials come from.
  out.push(
    audit({
      at: T0 + min(29),
      actor: argo,
      verb: 'patch',
      ref: { resource: 'configmaps', namespace: 'observability', name: 'otel-collector' },
      query: 'fieldManager=argocd-controller&force=true',
      requestObject: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'otel-collector', namespace: 'observability' },
        data: {
          'config.yaml': `exporters:\n  otlphttp:\n    endpoint: https://otlp.eu01.nr-data.net\n    headers: {"api-key": "\${env:NEW_RELIC_LICENSE_KEY}"}\nextensions:\n  basicauth/prom:\n    client_auth: {username: prom, password: \${env:PROM_PASSWORD}}\n`,
        },
      },
    }),
  );

  // The namespace lifecycle of a preview environment: the namespace controller creates its defaults.
  out.push(
    audit({
      at: T0 + min(35),
      actor: ciKubectl,
      verb: 'create',
      ref: { resource: 'namespaces' },
      requestObject: { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'preview-pr-1432' } },
    }),
    audit({
      at: T0 + min(35) + 100,
      actor: KCM('service-account-controller'),
      verb: 'create',
      ref: { resource: 'serviceaccounts', namespace: 'preview-pr-1432' },
      requestObject: {
        kind: 'ServiceAccount',
        apiVersion: 'v1',
        metadata: { name: 'default', namespace: 'preview-pr-1432' },
      },
    }),
    audit({
      at: T0 + min(35) + 120,
      actor: KCM('root-ca-cert-publisher'),
      verb: 'create',
      ref: { resource: 'configmaps', namespace: 'preview-pr-1432' },
      requestObject: {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: { name: 'kube-root-ca.crt', namespace: 'preview-pr-1432' },
        data: {
          'ca.crt':
            '-----BEGIN CERTIFICATE-----\nMIIC5zCCAc+gAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n-----END CERTIFICATE-----\n',
        },
      },
    }),
  );
  out.push(
    ...[0, 1, 2].map((k) =>
      audit({
        at: T0 + min(50) + k * 1000,
        actor: KCM('clusterrole-aggregation-controller'),
        verb: 'update',
        ref: { resource: 'clusterroles', name: ['admin', 'edit', 'view'][k] },
        requestObject: {
          kind: 'ClusterRole',
          apiVersion: 'rbac.authorization.k8s.io/v1',
          metadata: { name: ['admin', 'edit', 'view'][k] },
          aggregationRule: {
            clusterRoleSelectors: [
              { matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' } },
            ],
          },
          rules: [
            {
              apiGroups: ['apps'],
              resources: ['deployments'],
              verbs: ['create', 'delete', 'patch', 'update'],
            },
          ],
        },
      }),
    ),
  );

  out.sort((a, b) => Date.parse(String(a.stageTimestamp)) - Date.parse(String(b.stageTimestamp)));
  return out;
}
