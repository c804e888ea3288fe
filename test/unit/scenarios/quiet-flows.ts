/**
 * A deterministic hour of a healthy cluster's Hubble flows, as the exporter writes them with no filter: visitors
 * through ingress-nginx, service-to-service calls, DNS through the DNS proxy, Prometheus and metrics-server scraping
 * the kubelets, the AWS load balancer controller and the EBS CSI controller asking the instance metadata service,
 * kubelet probes, operators talking to the API server, the usual datapath drops that are not policy (stale
 * endpoints, IPv6 router solicitations), and a few stray policy drops from a web feature calling a service its
 * policy does not allow yet. Nothing in it is an attack: every rule must stay at `low` or below on all of it.
 * And one attack for contrast: `neighbourScan`, a compromised pod sweeping its default-deny namespace.
 */
import { mulberry32 } from '../../../scripts/bench/workload.ts';
import {
  connection,
  FLOW_T0,
  flowRecord,
  host,
  type Json,
  kubeApiserver,
  NODES,
  type Peer,
  type Pod,
  podLabels,
  policy,
  policyDrop,
  remoteNode,
  type Side,
  world,
} from './hubble.ts';

const SENSITIVE = { 'klaxon.io/sensitive': 'true' };

let nextId = 100;
function pod(
  namespace: string,
  name: string,
  ip: string,
  identity: number,
  own: Record<string, string>,
  serviceAccount: string,
  workload: [string, string] | undefined,
  node: number,
  namespaceLabels: Record<string, string> = {},
): Pod {
  return {
    namespace,
    name,
    ip,
    identity,
    labels: podLabels(namespace, own, serviceAccount, namespaceLabels),
    ...(workload ? { workload: { name: workload[0], kind: workload[1] } } : {}),
    node: NODES[node]!,
    id: nextId++,
  };
}

export function pods() {
  nextId = 100;
  const app = (name: string, part = 'shop') => ({
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': part,
  });
  return {
    ingress: pod(
      'ingress-nginx',
      'ingress-nginx-controller-7b9f6c8d4-8xk2p',
      '10.0.11.47',
      20131,
      { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' },
      'ingress-nginx',
      ['ingress-nginx-controller', 'Deployment'],
      0,
    ),
    web: pod('shop', 'web-6c9f7d8b5-p4mzt', '10.0.21.77', 40122, app('web'), 'web', ['web', 'Deployment'], 2),
    cart: pod(
      'shop',
      'cart-7d9c6b5f4-x2x8q',
      '10.0.12.87',
      48213,
      app('cart'),
      'cart',
      ['cart', 'Deployment'],
      1,
    ),
    checkout: pod(
      'shop',
      'checkout-5f8d9c7b6-lm3vw',
      '10.0.21.131',
      47730,
      app('checkout'),
      'checkout',
      ['checkout', 'Deployment'],
      2,
    ),
    payments: pod(
      'payments',
      'payments-api-5c8f9d7b86-kq4tz',
      '10.0.21.144',
      30719,
      { 'app.kubernetes.io/name': 'payments-api' },
      'payments-api',
      ['payments-api', 'Deployment'],
      2,
      SENSITIVE,
    ),
    postgres: pod(
      'data',
      'postgres-0',
      '10.0.12.45',
      22481,
      { 'app.kubernetes.io/name': 'postgresql', 'app.kubernetes.io/instance': 'postgres' },
      'postgres',
      ['postgres', 'StatefulSet'],
      1,
      SENSITIVE,
    ),
    redis: pod(
      'cache',
      'redis-master-0',
      '10.0.11.92',
      28841,
      { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/component': 'master' },
      'redis',
      ['redis-master', 'StatefulSet'],
      0,
    ),
    search: pod(
      'search',
      'opensearch-0',
      '10.0.12.160',
      36675,
      { 'app.kubernetes.io/name': 'opensearch' },
      'opensearch',
      ['opensearch', 'StatefulSet'],
      1,
    ),
    coredns: pod(
      'kube-system',
      'coredns-5b9d8c7f6-r8k2v',
      '10.0.11.10',
      102,
      { 'k8s-app': 'kube-dns' },
      'coredns',
      ['coredns', 'Deployment'],
      0,
    ),
    prometheus: pod(
      'monitoring',
      'prometheus-kube-prometheus-stack-prometheus-0',
      '10.0.12.201',
      41987,
      {
        'app.kubernetes.io/name': 'prometheus',
        'app.kubernetes.io/instance': 'kube-prometheus-stack-prometheus',
      },
      'kube-prometheus-stack-prometheus',
      ['prometheus-kube-prometheus-stack-prometheus', 'StatefulSet'],
      1,
    ),
    metricsServer: pod(
      'kube-system',
      'metrics-server-7f7c9f4d8b-2hj6x',
      '10.0.11.88',
      35220,
      { 'k8s-app': 'metrics-server' },
      'metrics-server',
      ['metrics-server', 'Deployment'],
      0,
    ),
    albc: pod(
      'kube-system',
      'aws-load-balancer-controller-6d8c7b9f5-tq2nx',
      '10.0.11.140',
      39904,
      {
        'app.kubernetes.io/name': 'aws-load-balancer-controller',
        'app.kubernetes.io/instance': 'aws-load-balancer-controller',
      },
      'aws-load-balancer-controller',
      ['aws-load-balancer-controller', 'Deployment'],
      0,
    ),
    ebsCsi: pod(
      'kube-system',
      'ebs-csi-controller-6b8f7c9d5-j7w4r',
      '10.0.21.36',
      24410,
      { app: 'ebs-csi-controller', 'app.kubernetes.io/name': 'aws-ebs-csi-driver' },
      'ebs-csi-controller-sa',
      ['ebs-csi-controller', 'Deployment'],
      2,
    ),
    certManager: pod(
      'cert-manager',
      'cert-manager-5d7f8c6b9-vx9kd',
      '10.0.21.12',
      29903,
      { 'app.kubernetes.io/name': 'cert-manager' },
      'cert-manager',
      ['cert-manager', 'Deployment'],
      2,
    ),
    argocd: pod(
      'argocd',
      'argocd-application-controller-0',
      '10.0.12.19',
      31448,
      { 'app.kubernetes.io/name': 'argocd-application-controller' },
      'argocd-application-controller',
      ['argocd-application-controller', 'StatefulSet'],
      1,
    ),
  };
}

export const IMDS: Peer = { ip: '169.254.169.254', identity: 2, labels: ['reserved:world'] };
const APISERVER = kubeApiserver('10.0.5.10');
const APISERVER_SERVICE = { name: 'kubernetes', namespace: 'default' };

/** Lookups an app makes, with the answer the DNS proxy gives. */
const LOOKUPS: Record<string, [string, string][]> = {
  web: [
    ['cart.shop.svc.cluster.local.', '172.20.88.14'],
    ['checkout.shop.svc.cluster.local.', '172.20.61.203'],
  ],
  cart: [['redis-master.cache.svc.cluster.local.', '172.20.12.77']],
  checkout: [
    ['payments-api.payments.svc.cluster.local.', '172.20.143.9'],
    ['api.stripe.com.', '54.187.174.169'],
  ],
  payments: [['postgres.data.svc.cluster.local.', '172.20.30.4']],
};

function dnsExchange(
  at: number,
  client: Pod,
  dns: Pod,
  query: string,
  answer: string,
  sport: number,
): Json[] {
  const base = {
    src: client,
    dst: dns,
    sport,
    dport: 53,
    transport: 'UDP',
    eventType: 129,
    direction: 'EGRESS',
  } as const;
  return [
    flowRecord({
      ...base,
      at,
      nanos: 400,
      verdict: 'FORWARDED',
      node: client.node,
      l7: { type: 'REQUEST', dns: { query, observation_source: 'proxy', qtypes: ['A'] } },
    }),
    flowRecord({
      ...base,
      at: at + 1,
      nanos: 700_000,
      src: dns,
      dst: client,
      sport: 53,
      dport: sport,
      verdict: 'FORWARDED',
      reply: true,
      node: client.node,
      l7: {
        type: 'RESPONSE',
        latency_ns: String(900_000 + (sport % 1000) * 1000),
        dns: { query, ips: [answer], ttl: 30, observation_source: 'proxy', qtypes: ['A'], rrtypes: ['A'] },
      },
    }),
  ];
}

/** Calls `make` every `periodMs` (with jitter) through the hour. */
function every(rnd: () => number, periodMs: number, make: (at: number, i: number) => void): void {
  let i = 0;
  for (let t = FLOW_T0 + Math.floor(rnd() * periodMs); t < FLOW_T0 + 3_600_000; t += periodMs) {
    make(t + Math.floor(rnd() * Math.min(2000, periodMs / 4)), i++);
  }
}

/** One hour of a healthy cluster's flows, sorted by time; the same hour on every run. */
export function quietFlowsHour(seed = 20261130): Json[] {
  const rnd = mulberry32(seed);
  const p = pods();
  const out: Json[] = [];
  const port = () => 32768 + Math.floor(rnd() * 28000);
  const add = (records: Json[]) => out.push(...records);
  const allow = (ns: string, name: string) => [policy('CiliumNetworkPolicy', ns, name, 7)];

  // Visitors through the load balancer to ingress-nginx, and ingress-nginx to web.
  every(rnd, 4000, (at) => {
    const visitor = world(
      `${[198, 203][Math.floor(rnd() * 2)]}.${rnd() < 0.5 ? '51.100' : '0.113'}.${1 + Math.floor(rnd() * 250)}`,
    );
    add(connection(at, visitor, p.ingress, port(), 443, allow('ingress-nginx', 'allow-https-from-world')));
    add(connection(at + 3, p.ingress, p.web, port(), 8080, allow('shop', 'web-from-ingress')));
  });
  // Service to service.
  every(rnd, 10_000, (at) =>
    add(connection(at, p.web, p.cart, port(), 8080, allow('shop', 'cart-from-web'))),
  );
  every(rnd, 10_000, (at) =>
    add(connection(at, p.web, p.checkout, port(), 8080, allow('shop', 'checkout-from-web'))),
  );
  every(rnd, 20_000, (at) =>
    add(
      connection(at, p.checkout, p.payments, port(), 8443, allow('payments', 'payments-api-from-checkout')),
    ),
  );
  every(rnd, 60_000, (at) =>
    add(connection(at, p.cart, p.redis, port(), 6379, allow('cache', 'redis-clients'))),
  );
  every(rnd, 60_000, (at) =>
    add(connection(at, p.payments, p.postgres, port(), 5432, allow('data', 'postgres-from-payments'))),
  );
  every(rnd, 120_000, (at) =>
    add(connection(at, p.checkout, world('54.187.174.169', ['api.stripe.com']), port(), 443)),
  );
  // DNS through the DNS proxy, every 30 s per app.
  for (const [name, lookups] of Object.entries(LOOKUPS)) {
    const client = p[name as keyof typeof p];
    every(rnd, 30_000, (at, i) => {
      const [query, answer] = lookups[i % lookups.length]!;
      add(dnsExchange(at, client, p.coredns, query, answer, port()));
    });
  }
  // Prometheus: new scrape connections to the apps every 5 minutes (keep-alive in between), to the kubelets too.
  for (const target of [p.web, p.cart, p.checkout, p.payments, p.redis, p.postgres, p.search, p.ingress])
    every(rnd, 300_000, (at) =>
      add(
        connection(
          at,
          p.prometheus,
          target,
          port(),
          target === p.ingress ? 10254 : 9102,
          allow(target.namespace, 'allow-prometheus-scrape'),
        ),
      ),
    );
  for (const node of NODES) {
    every(rnd, 300_000, (at) => add(connection(at, p.prometheus, remoteNode(node), port(), 10250)));
    // metrics-server reconnects to each kubelet every minute.
    every(rnd, 60_000, (at) => add(connection(at, p.metricsServer, remoteNode(node), port(), 10250)));
    // Kubelet probes of the pods on its node, every 10 s.
    for (const target of Object.values(p).filter((x) => x.node === node && x.namespace !== 'kube-system'))
      every(rnd, 10_000, (at) =>
        add(
          connection(
            at,
            host(node),
            target,
            port(),
            target === p.postgres ? 5432 : target === p.redis ? 6379 : 8080,
          ),
        ),
      );
  }
  // Controllers that read the instance metadata service (region, VPC, instance identity).
  every(rnd, 300_000, (at) => add(connection(at, p.albc, IMDS, port(), 80)));
  every(rnd, 600_000, (at) => add(connection(at, p.ebsCsi, IMDS, port(), 80)));
  // Operators re-opening their watches on the API server.
  for (const operator of [p.certManager, p.argocd, p.albc])
    every(rnd, 600_000, (at) =>
      add(
        connection(at, operator, APISERVER, port(), 443).map((r) => {
          const flow = r.flow as Json;
          if ((flow.IP as Json).destination === APISERVER.ip) flow.destination_service = APISERVER_SERVICE;
          return r;
        }),
      ),
    );
  // Datapath drops that are not policy: a client still talking to a deleted pod's address, IPv6 router solicitations.
  every(rnd, 900_000, (at) =>
    add([
      flowRecord({
        at,
        src: p.web,
        dst: { ip: '10.0.21.201', identity: 2, labels: ['reserved:world'] },
        sport: port(),
        dport: 8080,
        verdict: 'DROPPED',
        eventType: 1,
        direction: 'EGRESS',
        flags: { SYN: true },
        dropReason: [151, 'STALE_OR_UNROUTABLE_IP'],
      }),
    ]),
  );
  // A feature flag in web calls the search service, which no policy allows yet: a few stray drops.
  for (const at of [FLOW_T0 + 1_234_000, FLOW_T0 + 1_236_500, FLOW_T0 + 2_950_000])
    add(policyDrop(at, p.web, p.search, port(), 9200, 'INGRESS'));

  return out.sort((a, b) => String(a.time).localeCompare(String(b.time)));
}

/** What a database-hunting scan tries: SSH, web, and the usual data stores. */
export const SCAN_PORTS = [22, 80, 443, 3306, 5432, 6379, 8080, 9200, 11211, 27017];

/**
 * The attack: a pod in the default-deny `shop` namespace (its `web` pod, compromised) sweeps its /24 with two SYN
 * probes a port, in about 40 seconds. A Kubernetes-aware scanner adds 10250 and 2379 to `ports`.
 */
export function neighbourScan(start = FLOW_T0 + 1_800_000, ports: readonly number[] = SCAN_PORTS): Json[] {
  const p = pods();
  const out: Json[] = [];
  let t = start;
  for (let host = 2; host < 40; host++) {
    const target: Side = { ip: `10.0.21.${host}`, identity: 2, labels: ['reserved:world'] };
    for (const dport of ports) {
      for (let probe = 0; probe < 2; probe++) {
        out.push(...policyDrop(t, p.web, target, 41000 + host, dport, 'EGRESS'));
        t += 50;
      }
    }
  }
  return out;
}
