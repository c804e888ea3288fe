import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { KLAXON_VERSION } from '../version.ts';
import { INGEST_ERRORS } from './errors.ts';
import {
  errorBody,
  errorsByStatus,
  type ResponseDoc,
  type ResponseHeader,
  type RouteDoc,
  type SecurityScheme,
} from './route-doc.ts';

/**
 * The OpenAPI 3.1 description of the ingest server, made from the routes it really has: each route carries its
 * part in `config.openapi` (route-doc.ts) and its schemas are the zod schemas the code parses with, turned into
 * JSON Schema 2020-12 (OpenAPI 3.1's own dialect) by zod's `toJSONSchema`. Served at `GET /openapi.json`
 * without a credential; docs/openapi.json is the description of a server with every route type (a test keeps
 * it in step).
 */

export interface DescribedRoute {
  method: string;
  url: string;
  doc: RouteDoc;
}

type Json = Record<string, unknown>;

const SECURITY_SCHEMES: Record<SecurityScheme, Json> = {
  ingestToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      'A token of the tokens file (`ingest.tokensFile`): it names the cluster every event of the request is filed under.',
  },
  clientCertificate: {
    type: 'mutualTLS',
    description:
      'With `ingest.tls.clientCa`: a client certificate mapped to one cluster, instead of (or agreeing with) a token.',
  },
  firehoseAccessKey: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Amz-Firehose-Access-Key',
    description:
      'The access key of a `firehose` source (`accessKeysFile`): it names the clusters it may speak for.',
  },
  pubsubPushToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      "The OIDC token a Pub/Sub push subscription signs with Google's keys, for the source's `audience` and `serviceAccountEmail`.",
  },
};

const HEADERS: Record<ResponseHeader, Json> = {
  'Retry-After': {
    description: 'Seconds to wait before sending the same request again.',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
  'WWW-Authenticate': {
    description: 'The scheme the route expects (`Bearer realm="klaxon"`).',
    schema: { type: 'string' },
  },
};

/** JSON Schema 2020-12 of a zod schema, as the sender writes it (input side), without the `$schema` line. */
export function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  }) as Json;
  return rest;
}

function response(doc: ResponseDoc): Json {
  const out: Json = { description: doc.description };
  if (doc.headers?.length) out.headers = Object.fromEntries(doc.headers.map((h) => [h, HEADERS[h]]));
  if (doc.schema)
    out.content = { [doc.contentType ?? 'application/json']: { schema: jsonSchema(doc.schema) } };
  else if (doc.contentType) out.content = { [doc.contentType]: { schema: { type: 'string' } } };
  return out;
}

/** The headers an error of the table comes with. */
function errorHeaders(status: number): ResponseHeader[] {
  if (status === 401) return ['WWW-Authenticate'];
  if (status === 429 || status === 503) return ['Retry-After'];
  return [];
}

function operation(route: DescribedRoute, schemas: Record<string, Json>): Json {
  const { doc } = route;
  const responses: Record<string, Json> = {};
  for (const [status, r] of Object.entries(doc.responses)) responses[status] = response(r);
  for (const [status, codes] of errorsByStatus(doc.errors ?? [])) {
    const own = doc.responses[status];
    const list = codes.map((c) => `- \`${c}\`: ${INGEST_ERRORS[c].when}`).join('\n');
    const described = `${own ? `${own.description}\n\n` : ''}\`{"error": code, "reason": text}\` with \`error\` one of:\n${list}`;
    responses[status] = response({
      description: described,
      schema: own?.schema ? z.union([own.schema, errorBody(codes)]) : errorBody(codes),
      headers: [...new Set([...(own?.headers ?? []), ...errorHeaders(status)])],
    });
  }
  const out: Json = {
    operationId: `${route.method.toLowerCase()}${route.url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ?? '').toUpperCase())}`,
    summary: doc.summary,
    description: doc.description,
    tags: [doc.tag],
    security: doc.security.map((s) => ({ [s]: [] })),
    responses,
  };
  if (doc.body) {
    schemas[doc.body.name] ??= jsonSchema(doc.body.schema);
    const schema = { $ref: `#/components/schemas/${doc.body.name}` };
    out.requestBody = {
      required: true,
      description: doc.body.description,
      content: Object.fromEntries(doc.body.contentTypes.map((t) => [t, { schema }])),
    };
  }
  return out;
}

/** The OpenAPI 3.1 document of these routes. */
export function openApiDocument(routes: readonly DescribedRoute[], version: string): Json {
  const paths: Record<string, Json> = {};
  const sorted = [...routes].sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
  const used = new Set<SecurityScheme>();
  const schemas: Record<string, Json> = {};
  for (const route of sorted) {
    const path = paths[route.url] ?? {};
    path[route.method.toLowerCase()] = operation(route, schemas);
    paths[route.url] = path;
    for (const s of route.doc.security) used.add(s);
  }
  const schemes = Object.fromEntries(
    (Object.keys(SECURITY_SCHEMES) as SecurityScheme[])
      .filter((s) => used.has(s))
      .map((s) => [s, SECURITY_SCHEMES[s]]),
  );
  return {
    openapi: '3.1.1',
    info: {
      title: 'Klaxon ingest API',
      version,
      description:
        'Kubernetes audit events, Falco alerts and Cilium Hubble flows in; alerts out (to Kafka, Elasticsearch, Alertmanager and the SIEM sinks). Bodies may be sent with `Content-Encoding: gzip`, `deflate` or `zstd`; body limits apply to the decompressed size. Every error answer is `{"error": code, "reason": text}`.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [
      { name: 'ingest', description: 'Push routes behind the ingest token (or client certificate).' },
      {
        name: 'sources',
        description: 'Routes of push sources (`sources:`), each authenticating its own sender.',
      },
      { name: 'operations', description: 'Health, readiness, metrics and this description: no credential.' },
    ],
    paths,
    components: { schemas, securitySchemes: schemes },
  };
}

/**
 * Gathers the described routes of `app` and of every plugin registered after this call (an `onRoute` hook), and
 * serves their description at `GET /openapi.json`. A route without `config.openapi` is an error at start-up:
 * every route is described. Fastify's automatic HEAD routes are left out.
 */
export function describeRoutes(app: FastifyInstance): void {
  const routes: DescribedRoute[] = [];
  let document: Json | undefined;
  app.addHook('onRoute', (options) => {
    const methods = Array.isArray(options.method) ? options.method : [options.method];
    const doc = options.config?.openapi;
    for (const method of methods) {
      if (method === 'HEAD') continue;
      if (!doc) throw new Error(`route ${method} ${options.url} has no OpenAPI description (config.openapi)`);
      routes.push({ method, url: options.url, doc });
    }
  });
  app.get(
    '/openapi.json',
    {
      config: {
        openapi: {
          summary: 'This description',
          description:
            'The OpenAPI 3.1 description of the routes this server has (its configured push sources included).',
          tag: 'operations',
          security: [],
          responses: {
            200: { description: 'OpenAPI 3.1 document', schema: z.looseObject({ openapi: z.string() }) },
          },
        },
      },
    },
    async () => {
      document ??= openApiDocument(routes, KLAXON_VERSION);
      return document;
    },
  );
}
