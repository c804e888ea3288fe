import { audit, detector, falco, run } from '/work/wt-perf/test/unit/detect/helpers.ts';

const of = (alerts: any[], name: string) => alerts.filter((a) => a.rule.name === name);
const exec = `title: Exec into pod
name: exec-into-pod
id: 55555555-5555-4555-8555-555555555555
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    objectRef.resource: pods
    objectRef.subresource: [exec, attach]
  condition: sel
level: medium
`;
const shell = `title: Falco alert
name: falco-alert
id: 66666666-6666-4666-8666-666666666666
logsource: {product: falco}
detection:
  sel:
    rule|exists: true
  condition: sel
level: medium
`;
const sequence = (type: string, order = '[exec-into-pod, falco-alert]') => `title: Exec then shell
name: exec-then-shell
id: 77777777-7777-4777-8777-777777777777
correlation:
  type: ${type}
  rules: ${order}
  group-by: [pod, namespace]
  timespan: 2m
  aliases:
    pod:
      exec-into-pod: objectRef.name
      falco-alert: output_fields.k8s.pod.name
    namespace:
      exec-into-pod: objectRef.namespace
      falco-alert: output_fields.k8s.ns.name
level: critical
generate: true
`;
const execEv = (at: number, pod = 'web-1', ns = 'shop') =>
  audit(
    {
      verb: 'create',
      stage: 'ResponseStarted',
      user: { username: 'dev' },
      objectRef: { resource: 'pods', subresource: 'exec', name: pod, namespace: ns },
    },
    at,
  );
const shellEv = (at: number, pod = 'web-1', ns = 'shop') =>
  falco(
    {
      rule: 'Terminal shell in container',
      priority: 'Notice',
      output: 'A shell was spawned',
      output_fields: { 'k8s.pod.name': pod, 'k8s.ns.name': ns, 'container.image.repository': 'nginx' },
    },
    at,
  );

console.log('start');
const d = detector([exec, shell, sequence('temporal')]);
console.log('loaded');
const out = run(d, [execEv(0), shellEv(30)]);
console.log(of(out, 'exec-then-shell').length);
