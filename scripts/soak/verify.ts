/**
 * What the soak checks once the load stopped and everything drained: where every marker's alert
 * ended up (Elasticsearch, Alertmanager, notifications), and what the events topic holds.
 */
import type { Admin } from 'kafkajs';

export const MARKER_RULE = 'k8s-cluster-admin-binding';

/** Marker name → the ids of the alert documents about it (one, when nothing is doubled). */
export async function markerDocuments(
  es: string,
  indexPrefix: string,
  markerPrefix: string,
): Promise<Map<string, string[]>> {
  const index = `${indexPrefix}-alerts-*`;
  await fetch(`${es}/${index}/_refresh?allow_no_indices=true`, { method: 'POST' });
  const byMarker = new Map<string, string[]>();
  let after: unknown[] | undefined;
  for (;;) {
    const res = await fetch(`${es}/${index}/_search?allow_no_indices=true&ignore_unavailable=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        size: 5_000,
        _source: ['orchestrator.resource.name', 'klaxon.alert_id'],
        query: {
          bool: {
            filter: [
              { term: { 'rule.name': MARKER_RULE } },
              { prefix: { 'orchestrator.resource.name': markerPrefix } },
            ],
          },
        },
        sort: [{ 'klaxon.alert_id': 'asc' }],
        ...(after ? { search_after: after } : {}),
      }),
    });
    if (!res.ok) throw new Error(`soak: Elasticsearch search answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as {
      hits: {
        hits: Array<{
          sort: unknown[];
          _source: { orchestrator: { resource: { name: string } }; klaxon: { alert_id: string } };
        }>;
      };
    };
    const hits = body.hits.hits;
    for (const h of hits) {
      const name = h._source.orchestrator.resource.name;
      byMarker.set(name, [...(byMarker.get(name) ?? []), h._source.klaxon.alert_id]);
    }
    if (hits.length < 5_000) return byMarker;
    after = hits[hits.length - 1]!.sort;
  }
}

/** Alertmanager's alerts of the marker rule in `cluster`: alert id → its startsAt values. */
export async function pagedAlerts(alertmanager: string, cluster: string): Promise<Map<string, string[]>> {
  const filter = [`alertname="${MARKER_RULE}"`, `cluster="${cluster}"`]
    .map((f) => `filter=${encodeURIComponent(f)}`)
    .join('&');
  const res = await fetch(`${alertmanager}/api/v2/alerts?${filter}`);
  if (!res.ok) throw new Error(`soak: Alertmanager answered ${res.status}`);
  const alerts = (await res.json()) as Array<{ labels: Record<string, string>; startsAt: string }>;
  const out = new Map<string, string[]>();
  for (const a of alerts) {
    const id = a.labels.alert_id ?? '';
    out.set(id, [...(out.get(id) ?? []), a.startsAt]);
  }
  return out;
}

/** Messages a topic holds (every partition's high watermark minus its low one). */
export async function topicMessages(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/** Messages of `topic` not yet committed by `groupId`. */
export async function lag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  let behind = 0;
  for (const end of ends) {
    const c = committed?.partitions.find((p) => p.partition === end.partition);
    const at = c && Number(c.offset) >= 0 ? Number(c.offset) : Number(end.low);
    behind += Number(end.high) - at;
  }
  return behind;
}
