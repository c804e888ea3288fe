/**
 * Realistic Hubble traces for the network rules (issue 16), in the shape of scenario a: what the Hubble exporter of
 * an EKS-like cluster writes when the thing a rule is about happens, with the level the rule must reach at least.
 */
import type { RuleCase } from './attacks.ts';
import {
  connection,
  FLOW_T0,
  type Json,
  NODES,
  nanos,
  type Peer,
  policy,
  policyDrop,
  remoteNode,
} from './hubble.ts';
import { IMDS, neighbourScan, pods } from './quiet-flows.ts';

const at = (s: number) => FLOW_T0 + 7_200_000 + s * 1000;

/** A Falco alert of the default rule set's `Launch Suspicious Network Tool in Container`, as http_output sends it. */
function networkToolAlert(ms: number, ns: string, pod: string, cmdline: string): Json {
  const time = nanos(ms, 412_331);
  const name = cmdline.split(' ')[0]!;
  return {
    hostname: NODES[2]!.name,
    output: `${time.slice(11, 29)}: Notice Network reconnaissance tool launched in container (evt_type=execve user=www-data user_uid=33 user_loginuid=-1 process=${name} proc_exepath=/usr/bin/${name} parent=sh command=${cmdline} terminal=0 exe_flags=EXE_WRITABLE container_id=5f2c9a1b7e3d container_image=ghcr.io/acme/web container_image_tag=2.14.1 container_name=web k8s_ns=${ns} k8s_pod_name=${pod})`,
    output_fields: {
      'container.id': '5f2c9a1b7e3d',
      'container.image.repository': 'ghcr.io/acme/web',
      'container.image.tag': '2.14.1',
      'container.name': 'web',
      'evt.time': ms * 1_000_000 + 412_331,
      'evt.type': 'execve',
      'k8s.ns.name': ns,
      'k8s.pod.name': pod,
      'proc.cmdline': cmdline,
      'proc.exepath': `/usr/bin/${name}`,
      'proc.name': name,
      'proc.pname': 'sh',
      'user.name': 'www-data',
      'user.uid': 33,
    },
    priority: 'Notice',
    rule: 'Launch Suspicious Network Tool in Container',
    source: 'syscall',
    tags: ['T1046', 'container', 'maturity_incubating', 'mitre_discovery', 'network', 'process'],
    time,
  };
}

export function hubbleCases(): RuleCase[] {
  const p = pods();
  const cases: RuleCase[] = [];
  const timeOf = (e: Json) => Date.parse(String(e.time));
  const add = (rule: string, level: RuleCase['level'], title: string, events: Json[]) =>
    cases.push({ rule, level, title, events: [...events].sort((a, b) => timeOf(a) - timeOf(b)) });

  add(
    'hubble-metadata-endpoint-access',
    'high',
    'a compromised web pod asks the instance metadata service for the node role’s credentials (allowed)',
    [...connection(at(0), p.web, IMDS, 51234, 80), ...connection(at(1), p.web, IMDS, 51240, 80)],
  );

  add(
    'hubble-kubelet-or-etcd-access',
    'high',
    'the checkout pod tries the kubelet API of two nodes; a CiliumClusterwideNetworkPolicy drops it',
    [0, 1].flatMap((n) =>
      policyDrop(at(n * 3), p.checkout, remoteNode(NODES[n]!), 40100 + n, 10250, 'EGRESS', [
        policy('CiliumClusterwideNetworkPolicy', '', 'deny-pods-to-kubelet', 3),
      ]),
    ),
  );

  // The cart pod, on a release whose new code path talks to Postgres directly; its policy says no: it retries.
  const retries: Json[] = [];
  for (let i = 0; i < 45; i++)
    retries.push(...policyDrop(at(i * 4), p.cart, p.postgres, 44000 + i, 5432, 'INGRESS'));
  add(
    'hubble-policy-drop-burst',
    'medium',
    'the cart workload keeps trying Postgres, which data’s default-deny policy does not allow (45 drops in 3 minutes)',
    retries,
  );

  add(
    'hubble-address-sweep',
    'high',
    'a compromised web pod sweeps its /24 for SSH, web and databases in a default-deny namespace',
    neighbourScan(at(0)),
  );

  const target: Peer = { ip: '10.0.12.45', identity: 22481, labels: ['reserved:world'] };
  const ports = [
    21, 22, 23, 25, 80, 110, 143, 443, 445, 1433, 3306, 3389, 5432, 5900, 6379, 8080, 9200, 27017,
  ];
  add(
    'hubble-port-scan',
    'high',
    'the web pod walks 18 ports of one neighbour in ten seconds',
    ports.flatMap((port, i) => policyDrop(at(i * 0.5), p.web, target, 45000 + i, port, 'EGRESS')),
  );

  add(
    'hubble-sensitive-namespace-drop',
    'medium',
    'the cart pod tries the payments API, which payments’ default-deny NetworkPolicy keeps out',
    [
      ...policyDrop(at(0), p.cart, p.payments, 43312, 8443, 'INGRESS'),
      ...policyDrop(at(1), p.cart, p.payments, 43312, 8443, 'INGRESS'),
    ],
  );

  add(
    'hubble-network-tool-then-drops',
    'critical',
    'Falco sees nmap start in the web pod; twelve seconds later its egress policy drops the probes',
    [
      networkToolAlert(at(0), 'shop', p.web.name, 'nmap -sS -p 22,80,443,5432,6379 10.0.21.0/24'),
      ...policyDrop(
        at(12),
        p.web,
        { ip: '10.0.21.3', identity: 2, labels: ['reserved:world'] },
        41003,
        22,
        'EGRESS',
      ),
      ...policyDrop(
        at(13),
        p.web,
        { ip: '10.0.21.4', identity: 2, labels: ['reserved:world'] },
        41004,
        22,
        'EGRESS',
      ),
    ],
  );

  return cases;
}
