/**
 * A deterministic workload that looks like a real cluster's audit stream: mostly
 * Metadata-level control-plane noise (kubelet leases, node status, controllers,
 * probes, endpointslices, events, configmap reads), some RequestResponse-level
 * pods, workloads and RBAC objects of realistic size, a few attacks, and a small
 * share of Falco alerts. Same seed, same events, byte for byte.
 */

/** What each draw produces, with its weight (per 10,000 draws). */
export const MIX = {
  lease: 3000,
  'node-status': 800,
  controller: 2000,
  probe: 800,
  endpointslice: 700,
  'event-create': 800,
  'configmap-read': 600,
  pod: 500,
  workload: 400,
  rbac: 200,
  falco: 150,
  'attack-cluster-admin': 10,
  'attack-privileged-pod': 10,
  'attack-secret-curl': 10,
  'attack-exec': 10,
  'attack-failed-auth': 10,
} as const satisfies Record<string, number>;
export type Category = keyof typeof MIX;

/** Events one failed-authentication burst emits (one draw of `attack-failed-auth`). */
export const FAILED_AUTH_BURST = 20;

/** Categories logged at Metadata level (no request or response bodies). */
export const METADATA_CATEGORIES: ReadonlySet<Category> = new Set([
  'lease',
  'node-status',
  'controller',
  'probe',
  'endpointslice',
  'event-create',
  'configmap-read',
  'attack-secret-curl',
  'attack-failed-auth',
]);

export type JsonObject = { [key: string]: unknown };

export interface WorkloadItem {
  category: Category;
  source: 'audit' | 'falco';
  raw: JsonObject;
}

export interface WorkloadOptions {
  seed: number;
  /** Time of the first event (ms since epoch); default 2026-01-01T00:00:00Z. */
  startMs?: number;
  /** Events per second of event time, which spaces the timestamps; default 5,000. */
  rate?: number;
}

const K8S_VERSION = 'v1.30.2';
const GIT = 'kubernetes/39683505';
const NAMESPACES = ['default', 'payments', 'web', 'checkout', 'monitoring', 'ingress-nginx', 'kube-system'];
const APPS = ['api', 'frontend', 'worker', 'cart', 'search', 'billing', 'auth', 'redis', 'postgres'];
const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'endpointslice-controller',
  'namespace-controller',
  'job-controller',
  'daemon-set-controller',
  'statefulset-controller',
  'garbage-collector',
];
const CONTROLLER_RESOURCES: ReadonlyArray<[string, string]> = [
  ['pods', ''],
  ['replicasets', 'apps'],
  ['deployments', 'apps'],
  ['endpointslices', 'discovery.k8s.io'],
  ['nodes', ''],
  ['services', ''],
  ['jobs', 'batch'],
  ['leases', 'coordination.k8s.io'],
];
const CONTROLLER_VERBS = ['get', 'list', 'watch', 'update', 'get', 'watch'];
const PROBE_PATHS = ['/healthz', '/livez', '/readyz', '/readyz?verbose', '/version'];
const FALCO_RULES: ReadonlyArray<[string, string, string]> = [
  ['Terminal shell in container', 'Notice', 'A shell was spawned in a container with an attached terminal'],
  ['Read sensitive file untrusted', 'Warning', 'Sensitive file opened for reading by non-trusted program'],
  [
    'Contact K8S API Server From Container',
    'Notice',
    'Unexpected connection to K8s API Server from container',
  ],
  ['Drop and execute new binary in container', 'Critical', 'Executing binary not part of base image'],
  ['Redirect STDOUT/STDIN to Network Connection in Container', 'Notice', 'Redirect stdout/stdin to network'],
];

/** Mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generates workload items one at a time; see `generate` for a batch. */
export class Workload {
  readonly #rand: () => number;
  readonly #startMs: number;
  readonly #stepMs: number;
  readonly #categories: Category[];
  readonly #cumulative: number[];
  readonly #total: number;
  readonly #pending: WorkloadItem[] = [];
  #index = 0;

  constructor(options: WorkloadOptions) {
    this.#rand = mulberry32(options.seed);
    this.#startMs = options.startMs ?? Date.UTC(2026, 0, 1);
    this.#stepMs = 1000 / (options.rate ?? 5000);
    this.#categories = Object.keys(MIX) as Category[];
    let sum = 0;
    this.#cumulative = this.#categories.map((c) => {
      sum += MIX[c];
      return sum;
    });
    this.#total = sum;
  }

  next(): WorkloadItem {
    const queued = this.#pending.shift();
    if (queued) return queued;
    const r = this.#rand() * this.#total;
    let i = 0;
    while ((this.#cumulative[i] ?? Number.POSITIVE_INFINITY) <= r) i++;
    return this.make(this.#categories[i] ?? 'lease');
  }

  /** One item of the given category (a failed-auth burst queues the rest of its events). */
  make(category: Category): WorkloadItem {
    switch (category) {
      case 'lease':
        return this.#audit(category, this.#lease());
      case 'node-status':
        return this.#audit(category, this.#nodeStatus());
      case 'controller':
        return this.#audit(category, this.#controller());
      case 'probe':
        return this.#audit(category, this.#probe());
      case 'endpointslice':
        return this.#audit(category, this.#endpointSlice());
      case 'event-create':
        return this.#audit(category, this.#eventCreate());
      case 'configmap-read':
        return this.#audit(category, this.#configMapRead());
      case 'pod':
        return this.#audit(category, this.#podChange());
      case 'workload':
        return this.#audit(category, this.#workloadChange());
      case 'rbac':
        return this.#audit(category, this.#rbacChange());
      case 'falco':
        return { category, source: 'falco', raw: this.#falco() };
      case 'attack-cluster-admin':
        return this.#audit(category, this.#clusterAdminBinding());
      case 'attack-privileged-pod':
        return this.#audit(category, this.#privilegedPod());
      case 'attack-secret-curl':
        return this.#audit(category, this.#secretCurl());
      case 'attack-exec':
        return this.#audit(category, this.#exec());
      case 'attack-failed-auth': {
        const ip = `203.0.113.${this.#int(250) + 1}`;
        for (let k = 1; k < FAILED_AUTH_BURST; k++) {
          this.#pending.push({ category, source: 'audit', raw: this.#stamp(this.#failedAuth(ip)) });
        }
        return this.#audit(category, this.#failedAuth(ip));
      }
    }
  }

  // ---- randomness helpers

  #int(n: number): number {
    return Math.floor(this.#rand() * n);
  }
  #pick<T>(items: readonly T[]): T {
    return items[this.#int(items.length)] as T;
  }
  #hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.#int(16)];
    return s;
  }
  #uuid(): string {
    return `${this.#hex(8)}-${this.#hex(4)}-4${this.#hex(3)}-a${this.#hex(3)}-${this.#hex(12)}`;
  }
  #suffix(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += 'bcdfghjklmnpqrstvwxz2456789'[this.#int(27)];
    return s;
  }
  #node(): { name: string; ip: string } {
    const n = this.#int(40) + 1;
    return { name: `ip-10-0-${Math.floor(n / 10)}-${n}.ec2.internal`, ip: `10.0.${Math.floor(n / 10)}.${n}` };
  }
  #podName(): { app: string; ns: string; name: string; rs: string } {
    const app = this.#pick(APPS);
    const rs = `${app}-${this.#hex(9).replace(/^[0-9]/, 'c')}`;
    return { app, ns: this.#pick(NAMESPACES.slice(0, 6)), name: `${rs}-${this.#suffix(5)}`, rs };
  }

  // ---- envelope

  #audit(category: Category, raw: JsonObject): WorkloadItem {
    return { category, source: 'audit', raw: this.#stamp(raw) };
  }

  /** Fills the envelope every audit event carries and advances event time. */
  #stamp(raw: JsonObject): JsonObject {
    const received = this.#startMs + this.#index * this.#stepMs;
    this.#index++;
    const micros = (ms: number) => {
      const iso = new Date(Math.floor(ms)).toISOString();
      return `${iso.slice(0, 23)}${String(this.#int(1000)).padStart(3, '0')}Z`;
    };
    const latency = 1 + this.#int(30);
    return {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: raw.level ?? 'Metadata',
      auditID: this.#uuid(),
      stage: 'ResponseComplete',
      ...raw,
      requestReceivedTimestamp: micros(received),
      stageTimestamp: micros(received + latency),
      annotations: (raw.annotations as JsonObject | undefined) ?? {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason': '',
      },
    };
  }

  #ref(
    resource: string,
    apiGroup: string,
    namespace: string | undefined,
    name: string | undefined,
  ): JsonObject {
    const ref: JsonObject = { resource };
    if (namespace) ref.namespace = namespace;
    if (name) ref.name = name;
    if (apiGroup) ref.apiGroup = apiGroup;
    ref.apiVersion = 'v1';
    return ref;
  }

  #uri(resource: string, apiGroup: string, namespace: string | undefined, name: string | undefined): string {
    const base = apiGroup ? `/apis/${apiGroup}/v1` : '/api/v1';
    const ns = namespace ? `/namespaces/${namespace}` : '';
    return `${base}${ns}/${resource}${name ? `/${name}` : ''}`;
  }

  // ---- noise (Metadata level)

  #lease(): JsonObject {
    const node = this.#node();
    return {
      requestURI: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node.name}?timeout=10s`,
      verb: 'update',
      user: { username: `system:node:${node.name}`, groups: ['system:nodes', 'system:authenticated'] },
      sourceIPs: [node.ip],
      userAgent: `kubelet/${K8S_VERSION} (linux/amd64) ${GIT}`,
      objectRef: this.#ref('leases', 'coordination.k8s.io', 'kube-node-lease', node.name),
      responseStatus: { metadata: {}, code: 200 },
    };
  }

  #nodeStatus(): JsonObject {
    const node = this.#node();
    return {
      requestURI: `/api/v1/nodes/${node.name}/status?timeout=10s`,
      verb: 'patch',
      user: { username: `system:node:${node.name}`, groups: ['system:nodes', 'system:authenticated'] },
      sourceIPs: [node.ip],
      userAgent: `kubelet/${K8S_VERSION} (linux/amd64) ${GIT}`,
      objectRef: { resource: 'nodes', name: node.name, apiVersion: 'v1', subresource: 'status' },
      responseStatus: { metadata: {}, code: 200 },
    };
  }

  #controller(): JsonObject {
    const scheduler = this.#int(5) === 0;
    const [resource, apiGroup] = scheduler ? (['pods', ''] as const) : this.#pick(CONTROLLER_RESOURCES);
    const verb = this.#pick(CONTROLLER_VERBS);
    const collection = verb === 'list' || verb === 'watch';
    const ns = resource === 'nodes' ? undefined : this.#pick(NAMESPACES);
    const name = collection ? undefined : `${this.#pick(APPS)}-${this.#suffix(5)}`;
    const username = scheduler
      ? 'system:kube-scheduler'
      : `system:serviceaccount:kube-system:${this.#pick(CONTROLLERS)}`;
    const agent = scheduler ? 'kube-scheduler' : 'kube-controller-manager';
    return {
      requestURI: `${this.#uri(resource, apiGroup, ns, name)}${verb === 'watch' ? '?allowWatchBookmarks=true&watch=true' : ''}`,
      verb,
      user: {
        username,
        groups: scheduler ? ['system:authenticated'] : ['system:serviceaccounts', 'system:authenticated'],
      },
      sourceIPs: ['10.0.0.10'],
      userAgent: `${agent}/${K8S_VERSION} (linux/amd64) ${GIT}/${scheduler ? 'scheduler' : 'shared-informers'}`,
      objectRef: this.#ref(resource, apiGroup, ns, name),
      responseStatus: { metadata: {}, code: 200 },
    };
  }

  #probe(): JsonObject {
    const path = this.#pick(PROBE_PATHS);
    return {
      requestURI: path,
      verb: 'get',
      user: { username: 'system:anonymous', groups: ['system:unauthenticated'] },
      sourceIPs: [`10.0.0.${this.#int(3) + 2}`],
      userAgent: 'kube-probe/1.30',
      responseStatus: { metadata: {}, code: 200 },
    };
  }

  #endpointSlice(): JsonObject {
    const app = this.#pick(APPS);
    const ns = this.#pick(NAMESPACES);
    const name = `${app}-${this.#suffix(5)}`;
    return {
      requestURI: this.#uri('endpointslices', 'discovery.k8s.io', ns, name),
      verb: 'update',
      user: {
        username: 'system:serviceaccount:kube-system:endpointslice-controller',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      sourceIPs: ['10.0.0.10'],
      userAgent: `kube-controller-manager/${K8S_VERSION} (linux/amd64) ${GIT}/system:serviceaccount:kube-system:endpointslice-controller`,
      objectRef: this.#ref('endpointslices', 'discovery.k8s.io', ns, name),
      responseStatus: { metadata: {}, code: 200 },
    };
  }

  #eventCreate(): JsonObject {
    const node = this.#node();
    const ns = this.#pick(NAMESPACES);
    return {
      requestURI: `/api/v1/namespaces/${ns}/events`,
      verb: 'create',
      user: { username: `system:node:${node.name}`, groups: ['system:nodes', 'system:authenticated'] },
      sourceIPs: [node.ip],
      userAgent: `kubelet/${K8S_VERSION} (linux/amd64) ${GIT}`,
      objectRef: this.#ref('events', '', ns, `${this.#pick(APPS)}-${this.#suffix(5)}.${this.#hex(16)}`),
      responseStatus: { metadata: {}, code: 201 },
    };
  }

  #configMapRead(): JsonObject {
    const ns = this.#pick(NAMESPACES);
    const name = this.#pick(['kube-root-ca.crt', 'coredns', 'app-config', 'feature-flags', 'nginx-config']);
    const sa = this.#pick(APPS);
    return {
      requestURI: this.#uri('configmaps', '', ns, name),
      verb: 'get',
      user: {
        username: `system:serviceaccount:${ns}:${sa}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
      },
      sourceIPs: [`10.2.${this.#int(200)}.${this.#int(250)}`],
      userAgent: `${sa}/1.0 (linux/amd64) kubernetes/client-go`,
      objectRef: this.#ref('configmaps', '', ns, name),
      responseStatus: { metadata: {}, code: 200 },
    };
  }

  // ---- object changes (RequestResponse level, bodies of a few KiB)

  #managedFields(manager: string): JsonObject[] {
    return [
      {
        manager,
        operation: 'Update',
        apiVersion: 'v1',
        time: '2026-01-01T00:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {} } },
          'f:spec': {
            'f:containers': {
              'k:{"name":"app"}': {
                '.': {},
                'f:env': { '.': {}, 'k:{"name":"LOG_LEVEL"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
                'f:image': {},
                'f:imagePullPolicy': {},
                'f:name': {},
                'f:ports': { '.': {}, 'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {} } },
                'f:resources': { '.': {}, 'f:limits': {}, 'f:requests': {} },
              },
            },
            'f:dnsPolicy': {},
            'f:restartPolicy': {},
            'f:securityContext': {},
          },
        },
      },
    ];
  }

  #container(app: string, privileged: boolean): JsonObject {
    return {
      name: 'app',
      image: `registry.example.com/shop/${app}:1.${this.#int(40)}.${this.#int(10)}`,
      ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
      env: [
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.monitoring:4317' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: `${app}-db`, key: 'password' } } },
      ],
      resources: { limits: { cpu: '1', memory: '512Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
      volumeMounts: [
        { name: 'config', mountPath: '/etc/app' },
        {
          name: 'kube-api-access',
          readOnly: true,
          mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        },
      ],
      livenessProbe: { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, periodSeconds: 10 },
      readinessProbe: { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, periodSeconds: 5 },
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      imagePullPolicy: 'IfNotPresent',
      securityContext: privileged
        ? { privileged: true }
        : { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
    };
  }

  #podObject(p: { app: string; ns: string; name: string; rs: string }, privileged: boolean): JsonObject {
    return {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name: p.name,
        generateName: `${p.rs}-`,
        namespace: p.ns,
        uid: this.#uuid(),
        resourceVersion: String(1_000_000 + this.#int(9_000_000)),
        creationTimestamp: '2026-01-01T00:00:00Z',
        labels: { app: p.app, 'pod-template-hash': p.rs.slice(p.app.length + 1) },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: p.rs, uid: this.#uuid(), controller: true },
        ],
        managedFields: this.#managedFields('kube-controller-manager'),
      },
      spec: {
        volumes: [
          { name: 'config', configMap: { name: `${p.app}-config`, defaultMode: 420 } },
          {
            name: 'kube-api-access',
            projected: {
              sources: [
                { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
                { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              ],
              defaultMode: 420,
            },
          },
        ],
        containers: [this.#container(p.app, privileged)],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        serviceAccountName: p.app,
        securityContext: privileged ? {} : { runAsUser: 10001, fsGroup: 10001 },
        schedulerName: 'default-scheduler',
        tolerations: [
          {
            key: 'node.kubernetes.io/not-ready',
            operator: 'Exists',
            effect: 'NoExecute',
            tolerationSeconds: 300,
          },
          {
            key: 'node.kubernetes.io/unreachable',
            operator: 'Exists',
            effect: 'NoExecute',
            tolerationSeconds: 300,
          },
        ],
        priority: 0,
      },
      status: { phase: 'Pending', qosClass: 'Burstable' },
    };
  }

  #podChange(): JsonObject {
    const p = this.#podName();
    const verb = this.#pick(['create', 'create', 'delete', 'patch']);
    const object = this.#podObject(p, false);
    const manager = 'system:serviceaccount:kube-system:replicaset-controller';
    return {
      level: 'RequestResponse',
      requestURI: this.#uri('pods', '', p.ns, verb === 'create' ? undefined : p.name),
      verb,
      user: {
        username: manager,
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      sourceIPs: ['10.0.0.10'],
      userAgent: `kube-controller-manager/${K8S_VERSION} (linux/amd64) ${GIT}/system:serviceaccount:kube-system:replicaset-controller`,
      objectRef: this.#ref('pods', '', p.ns, verb === 'create' ? undefined : p.name),
      responseStatus: { metadata: {}, code: verb === 'create' ? 201 : 200 },
      requestObject:
        verb === 'patch'
          ? { metadata: { labels: { 'pod-template-hash': this.#hex(10) } } }
          : verb === 'delete'
            ? { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }
            : object,
      responseObject: object,
    };
  }

  #workloadChange(): JsonObject {
    const p = this.#podName();
    const resource = this.#pick(['deployments', 'replicasets', 'replicasets']);
    const kind = resource === 'deployments' ? 'Deployment' : 'ReplicaSet';
    const name = resource === 'deployments' ? p.app : p.rs;
    const template = this.#podObject(p, false);
    const object: JsonObject = {
      kind,
      apiVersion: 'apps/v1',
      metadata: {
        name,
        namespace: p.ns,
        uid: this.#uuid(),
        generation: 1 + this.#int(50),
        labels: { app: p.app },
        annotations: { 'deployment.kubernetes.io/revision': String(1 + this.#int(30)) },
        managedFields: this.#managedFields('kubectl-client-side-apply'),
      },
      spec: {
        replicas: 2 + this.#int(4),
        selector: { matchLabels: { app: p.app } },
        template: { metadata: { labels: { app: p.app } }, spec: template.spec },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      },
      status: { observedGeneration: 1, replicas: 3, readyReplicas: 3, availableReplicas: 3 },
    };
    const human = resource === 'deployments' && this.#int(3) === 0;
    return {
      level: 'RequestResponse',
      requestURI: this.#uri(resource, 'apps', p.ns, name),
      verb: this.#pick(['update', 'patch', 'update']),
      user: human
        ? { username: 'ci-deployer', groups: ['deployers', 'system:authenticated'] }
        : {
            username: `system:serviceaccount:kube-system:${resource === 'deployments' ? 'deployment' : 'replicaset'}-controller`,
            groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
          },
      sourceIPs: [human ? '10.1.4.20' : '10.0.0.10'],
      userAgent: human ? 'argocd-application-controller/v2.11.3' : `kube-controller-manager/${K8S_VERSION}`,
      objectRef: this.#ref(resource, 'apps', p.ns, name),
      responseStatus: { metadata: {}, code: 200 },
      requestObject: object,
      responseObject: object,
    };
  }

  #rbacChange(): JsonObject {
    const ns = this.#pick(NAMESPACES);
    const app = this.#pick(APPS);
    const binding = this.#int(2) === 0;
    const resource = binding ? 'rolebindings' : 'roles';
    const name = `${app}-${binding ? 'reader-binding' : 'reader'}`;
    const object: JsonObject = binding
      ? {
          kind: 'RoleBinding',
          apiVersion: 'rbac.authorization.k8s.io/v1',
          metadata: { name, namespace: ns, uid: this.#uuid(), managedFields: this.#managedFields('helm') },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${app}-reader` },
          subjects: [{ kind: 'ServiceAccount', name: app, namespace: ns }],
        }
      : {
          kind: 'Role',
          apiVersion: 'rbac.authorization.k8s.io/v1',
          metadata: { name, namespace: ns, uid: this.#uuid(), managedFields: this.#managedFields('helm') },
          rules: [
            { apiGroups: [''], resources: ['configmaps', 'services'], verbs: ['get', 'list', 'watch'] },
            { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list'] },
          ],
        };
    const verb = this.#pick(['get', 'update', 'create', 'get']);
    return {
      level: 'RequestResponse',
      requestURI: this.#uri(resource, 'rbac.authorization.k8s.io', ns, verb === 'create' ? undefined : name),
      verb,
      user: {
        username: 'system:serviceaccount:flux-system:helm-controller',
        groups: ['system:authenticated'],
      },
      sourceIPs: ['10.1.7.3'],
      userAgent: 'helm-controller/v1.0.1',
      objectRef: this.#ref(resource, 'rbac.authorization.k8s.io', ns, name),
      responseStatus: { metadata: {}, code: verb === 'create' ? 201 : 200 },
      ...(verb === 'get' ? {} : { requestObject: object }),
      responseObject: object,
    };
  }

  // ---- attacks

  #clusterAdminBinding(): JsonObject {
    const name = `debug-${this.#suffix(5)}`;
    const object = {
      kind: 'ClusterRoleBinding',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'web' }],
    };
    return {
      level: 'RequestResponse',
      requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      verb: 'create',
      user: { username: 'dev-mallory', groups: ['developers', 'system:authenticated'] },
      sourceIPs: ['198.51.100.23'],
      userAgent: `kubectl/${K8S_VERSION} (linux/amd64) ${GIT}`,
      objectRef: this.#ref('clusterrolebindings', 'rbac.authorization.k8s.io', undefined, name),
      responseStatus: { metadata: {}, code: 201 },
      requestObject: object,
      responseObject: object,
    };
  }

  #privilegedPod(): JsonObject {
    const p = { app: 'toolbox', ns: 'default', name: `toolbox-${this.#suffix(5)}`, rs: 'toolbox-7c9d8f6b5d' };
    const object = this.#podObject(p, true);
    (object.spec as JsonObject).hostPID = true;
    return {
      level: 'RequestResponse',
      requestURI: '/api/v1/namespaces/default/pods',
      verb: 'create',
      user: { username: 'dev-mallory', groups: ['developers', 'system:authenticated'] },
      sourceIPs: ['198.51.100.23'],
      userAgent: `kubectl/${K8S_VERSION} (linux/amd64) ${GIT}`,
      objectRef: this.#ref('pods', '', 'default', undefined),
      responseStatus: { metadata: {}, code: 201 },
      requestObject: object,
      responseObject: object,
    };
  }

  #secretCurl(): JsonObject {
    const ns = this.#pick(['kube-system', 'payments', 'default']);
    const list = this.#int(2) === 0;
    const name = list
      ? undefined
      : this.#pick(['db-credentials', 'stripe-api-key', 'bootstrap-token-abcdef']);
    return {
      requestURI: this.#uri('secrets', '', ns, name),
      verb: list ? 'list' : 'get',
      user: {
        username: 'system:serviceaccount:web:default',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:web', 'system:authenticated'],
      },
      sourceIPs: [`10.2.${this.#int(200)}.${this.#int(250)}`],
      userAgent: 'curl/8.5.0',
      objectRef: this.#ref('secrets', '', ns, name),
      responseStatus: { metadata: {}, code: 200 },
    };
  }

  #exec(): JsonObject {
    const p = this.#podName();
    return {
      level: 'Request',
      stage: 'ResponseStarted',
      requestURI: `/api/v1/namespaces/${p.ns}/pods/${p.name}/exec?command=sh&container=app&stdin=true&stdout=true&tty=true`,
      verb: 'create',
      user: { username: 'dev-mallory', groups: ['developers', 'system:authenticated'] },
      sourceIPs: ['198.51.100.23'],
      userAgent: `kubectl/${K8S_VERSION} (linux/amd64) ${GIT}`,
      objectRef: { resource: 'pods', namespace: p.ns, name: p.name, apiVersion: 'v1', subresource: 'exec' },
      responseStatus: { metadata: {}, code: 101 },
      requestObject: {
        kind: 'PodExecOptions',
        apiVersion: 'v1',
        stdin: true,
        stdout: true,
        tty: true,
        container: 'app',
        command: ['sh'],
      },
    };
  }

  /** The API server audits a failed authentication at ResponseStarted only, with an empty user. */
  #failedAuth(ip: string): JsonObject {
    return {
      stage: 'ResponseStarted',
      requestURI: '/api/v1/namespaces/kube-system/secrets',
      verb: 'list',
      user: {},
      sourceIPs: [ip],
      userAgent: 'python-requests/2.31.0',
      responseStatus: {
        metadata: {},
        status: 'Failure',
        message: 'Authentication failed, attempted: basic, bearer',
        reason: 'Unauthorized',
        code: 401,
      },
      annotations: {},
    };
  }

  // ---- Falco

  #falco(): JsonObject {
    const [rule, priority, what] = this.#pick(FALCO_RULES);
    const p = this.#podName();
    const ms = this.#startMs + this.#index * this.#stepMs;
    this.#index++;
    const iso = new Date(Math.floor(ms)).toISOString();
    const time = `${iso.slice(0, 23)}${String(this.#int(1_000_000)).padStart(6, '0')}Z`;
    const cmd = this.#pick([
      'sh -i',
      'bash',
      'cat /etc/shadow',
      'curl -k https://10.96.0.1/api',
      'nc -e /bin/sh',
    ]);
    const container = this.#hex(12);
    return {
      uuid: this.#uuid(),
      time,
      rule,
      priority,
      source: 'syscall',
      hostname: this.#node().name,
      output: `${time.slice(11, 29)}: ${priority} ${what} (user=root user_loginuid=-1 command=${cmd} container_id=${container} image=registry.example.com/shop/${p.app} k8s.ns=${p.ns} k8s.pod=${p.name})`,
      output_fields: {
        'container.id': container,
        'container.image.repository': `registry.example.com/shop/${p.app}`,
        'container.image.tag': '1.4.2',
        'evt.time': ms * 1_000_000,
        'k8s.ns.name': p.ns,
        'k8s.pod.name': p.name,
        'proc.cmdline': cmd,
        'proc.name': cmd.split(' ')[0] ?? cmd,
        'proc.pname': 'containerd-shim',
        'user.loginuid': -1,
        'user.name': 'root',
      },
      tags: ['container', 'mitre_execution', 'shell'],
    };
  }
}

/** `count` workload items from a fresh generator. */
export function generate(count: number, options: WorkloadOptions): WorkloadItem[] {
  const workload = new Workload(options);
  const items: WorkloadItem[] = [];
  for (let i = 0; i < count; i++) items.push(workload.next());
  return items;
}

/** Audit events grouped as the API server's batch webhook sends them (`EventList`s of `size`). */
export function toEventLists(items: readonly WorkloadItem[], size = 400): JsonObject[] {
  const audit = items.filter((item) => item.source === 'audit').map((item) => item.raw);
  const lists: JsonObject[] = [];
  for (let i = 0; i < audit.length; i += size) {
    lists.push({
      kind: 'EventList',
      apiVersion: 'audit.k8s.io/v1',
      metadata: {},
      items: audit.slice(i, i + size),
    });
  }
  return lists;
}
