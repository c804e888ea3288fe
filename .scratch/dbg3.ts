import { audit, detector, falco, run } from '/work/wt-perf/test/unit/detect/helpers.ts';

const failed = `title: Failed request
name: failed-request
id: 11111111-1111-4111-8111-111111111111
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    responseStatus.code: [401, 403]
  condition: sel
level: low
`;
const burst = (extra = '', condition = 'gte: 10') => `title: Auth failure burst
name: auth-failure-burst
id: 22222222-2222-4222-8222-222222222222
correlation:
  type: event_count
  rules: [failed-request]
  group-by: [user.username, sourceIPs]
  timespan: 5m
  condition: {${condition}}
level: high
${extra}
`;
const fail = (at: number, user = 'mallory', ip = '203.0.113.9') =>
  audit(
    {
      verb: 'get',
      user: { username: user },
      sourceIPs: [ip],
      objectRef: { resource: 'secrets' },
      responseStatus: { code: 403 },
    },
    at,
  );

console.log('start');
const d = detector([failed, burst()], { maxKeys: 2 });
console.log(run(d, [fail(0, 'a'), fail(1, 'b'), fail(2, 'c')]).length);
