/**
 * Index templates with explicit ECS mappings (DESIGN §3.4). Only the core index-template API
 * is used, so they install on any Elasticsearch 8 distribution. The raw audit event and Falco
 * alert are `flattened`: arbitrary payload keys must never grow the mapping (a mapping
 * explosion is one audit event away otherwise), and `dynamic: false` keeps any other
 * unexpected field in `_source` without indexing it.
 */

const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const date = { type: 'date', ignore_malformed: true } as const;
const ip = { type: 'ip', ignore_malformed: true } as const;
const long = { type: 'long' } as const;
/** Large audit payloads (ConfigMaps, CRDs) hold long strings and deep trees: cap both instead of failing. */
const flattened = { type: 'flattened', ignore_above: 8191, depth_limit: 40 } as const;

/** Fields alerts and normalized events share (ECS). */
const commonProperties = {
  '@timestamp': { type: 'date' },
  message: { type: 'text' },
  tags: keyword,
  user: { properties: { name: keyword, roles: keyword } },
  source: { properties: { ip } },
  related: { properties: { ip, user: keyword } },
  user_agent: { properties: { original: { ...keyword, fields: { text: { type: 'text' } } } } },
  orchestrator: {
    properties: {
      type: keyword,
      cluster: { properties: { name: keyword } },
      namespace: keyword,
      resource: { properties: { type: keyword, name: keyword, parent: { properties: { type: keyword } } } },
    },
  },
  container: { properties: { id: keyword, name: keyword, image: { properties: { name: keyword } } } },
  process: {
    properties: {
      name: keyword,
      executable: keyword,
      args: keyword,
      args_count: long,
      command_line: { ...keyword, fields: { text: { type: 'text' } } },
    },
  },
  host: { properties: { hostname: keyword } },
  kubernetes: { properties: { audit: flattened } },
  falco: flattened,
} as const;

const eventFields = {
  kind: keyword,
  dataset: keyword,
  action: keyword,
  outcome: keyword,
  id: keyword,
  created: date,
  ingested: date,
  severity: long,
} as const;

export const ALERT_MAPPINGS = {
  dynamic: false,
  properties: {
    ...commonProperties,
    event: { properties: eventFields },
    rule: {
      properties: {
        name: keyword,
        id: keyword,
        description: keyword,
        reference: keyword,
        ruleset: keyword,
        category: keyword,
      },
    },
    threat: {
      properties: {
        framework: keyword,
        technique: { properties: { id: keyword, name: keyword } },
        tactic: { properties: { id: keyword, name: keyword } },
      },
    },
    klaxon: {
      properties: {
        severity: keyword,
        alert_id: keyword,
        event_ids: keyword,
        count: long,
        revision: long,
        correlation: { properties: { type: keyword, group: flattened } },
      },
    },
  },
} as const;

export const EVENT_MAPPINGS = {
  dynamic: false,
  properties: {
    ...commonProperties,
    event: { properties: eventFields },
    klaxon: { properties: { redacted: keyword } },
  },
} as const;

/** Index names for a prefix: `<prefix>-alerts-YYYY.MM.DD` and `<prefix>-events-YYYY.MM.DD`. */
export function indexPatterns(prefix: string): { alerts: string; events: string } {
  return { alerts: `${prefix}-alerts`, events: `${prefix}-events` };
}

/** Bumped whenever the mappings change, so an operator can see which version is installed. */
export const TEMPLATE_VERSION = 2;

export function indexTemplate(base: string, mappings: object) {
  return {
    name: base,
    index_patterns: [`${base}-*`],
    priority: 200,
    version: TEMPLATE_VERSION,
    _meta: { managed_by: 'klaxon' },
    template: { settings: { 'index.mapping.total_fields.limit': 2000 }, mappings },
  };
}
