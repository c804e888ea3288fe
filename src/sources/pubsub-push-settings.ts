import { z } from 'zod';
import { bytes, MiB } from '../config-values.ts';
import { GkeClusterChoice, refineClusterChoice } from './gke-cluster.ts';

/** Where Google publishes the keys that sign its OIDC tokens (Pub/Sub push tokens among them). */
export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
/** The issuers of Google's OIDC tokens. */
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

/**
 * `type: pubsub-push`: GKE audit entries a Pub/Sub push subscription posts to `path` (default `/v1/pubsub`),
 * each request authenticated by the subscription's OIDC token: signed by a key of the JWKS, from one of the
 * issuers, for `audience`, naming `serviceAccountEmail` (verified).
 */
export const PubSubPushSourceSettings = z
  .object({
    type: z.literal('pubsub-push'),
    /** The route; `/v1/pubsub/<suffix>` gives each push source of one server its own. */
    path: z
      .string()
      .regex(/^\/v1\/pubsub(\/[a-z0-9][a-z0-9_-]{0,62})?$/, 'the path is /v1/pubsub or /v1/pubsub/<suffix>')
      .default('/v1/pubsub'),
    /** The push subscription's audience (`--push-auth-token-audience`; Pub/Sub's default is the endpoint URL). */
    audience: z.string().min(1).max(2_048),
    /** The push subscription's service account (`--push-auth-service-account`): the token's `email`. */
    serviceAccountEmail: z.email(),
    /** Accepted `iss` values. */
    issuers: z.array(z.string().min(1)).min(1).max(8).default(GOOGLE_ISSUERS),
    /** The JWKS to verify signatures with, over HTTPS (default Google's); or `jwksFile`. */
    jwksUrl: z.url({ protocol: /^https$/ }).optional(),
    /** A local JWKS file (air-gapped sites, tests), re-read when a token names a key it does not hold. */
    jwksFile: z.string().min(1).optional(),
    /** Largest request body (a Pub/Sub message is at most 10 MB, 13.4 MB in base64). */
    bodyLimit: bytes
      .refine((n) => n >= 64 * 1024 && n <= 64 * MiB, 'between 64KiB and 64MiB')
      .default(16 * MiB),
    ...GkeClusterChoice,
  })
  .strict()
  .superRefine((settings, ctx) => {
    refineClusterChoice(settings, ctx);
    if (settings.jwksUrl !== undefined && settings.jwksFile !== undefined)
      ctx.addIssue({ code: 'custom', path: ['jwksFile'], message: 'set jwksUrl or jwksFile, not both' });
  });
export type PubSubPushSourceSettings = z.infer<typeof PubSubPushSourceSettings>;
