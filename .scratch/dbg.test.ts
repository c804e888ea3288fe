import { it } from 'vitest';
import { audit, detector, run } from '../test/unit/detect/helpers.ts';

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
const burst = `title: Auth failure burst
name: auth-failure-burst
id: 22222222-2222-4222-8222-222222222222
correlation:
  type: event_count
  rules: [failed-request]
  group-by: [user.username, sourceIPs]
  timespan: 5m
  condition: {gte: 10}
level: high
`;
it('x', () => {
  const d = detector([failed, burst]);
  const events = Array.from({ length: 12 }, (_, i) =>
    audit(
      {
        verb: 'get',
        user: { username: 'm' },
        sourceIPs: ['1.2.3.4'],
        objectRef: { resource: 'secrets' },
        responseStatus: { code: 403 },
      },
      i * 20,
    ),
  );
  for (const [i, e] of events.entries()) {
    console.log('event', i);
    d.process(e);
  }
  console.log('flush');
  d.flush();
  console.log('done');
});
