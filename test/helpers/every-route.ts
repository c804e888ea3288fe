// A settings file that gives the ingest server every route type there is: the built-in routes and one push
// source of each push type (firehose, pubsub-push), with the files those need. Used to make the OpenAPI
// description of docs/openapi.json, to check it, and to fuzz a running `klaxon serve` against it.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { stringify } from 'yaml';

export const INGEST_TOKEN = 'openapi-test-token-0123456789abcdefghijklmn';
export const FIREHOSE_KEY = 'openapi-firehose-key-9876543210zyxwvutsrqpon';

export interface EveryRoute {
  dir: string;
  /** KLAXON_CONFIG: the settings file. */
  configFile: string;
  /** The `sources:` section alone, as the settings file has it. */
  sources: Record<string, unknown>;
  /** A token the pubsub-push source takes, as Pub/Sub's push signs it (valid for an hour). */
  pushToken(): Promise<string>;
}

const AUDIENCE = 'https://klaxon.example.com/v1/pubsub';
const PUSHER = 'klaxon-push@acme-prod.iam.gserviceaccount.com';

export function everyRouteSettings(): EveryRoute {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-every-route-'));
  const accessKeysFile = join(dir, 'firehose-keys.yaml');
  writeFileSync(accessKeysFile, stringify({ 'prod-eks': FIREHOSE_KEY }));
  const jwksFile = join(dir, 'jwks.json');
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(
    jwksFile,
    JSON.stringify({
      keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }],
    }),
  );
  const tokensFile = join(dir, 'tokens.yaml');
  writeFileSync(tokensFile, stringify({ prod: INGEST_TOKEN }));
  const sources = {
    eks: { type: 'firehose', accessKeysFile },
    gke: {
      type: 'pubsub-push',
      audience: AUDIENCE,
      serviceAccountEmail: PUSHER,
      jwksFile,
      allowedClusters: ['prod-gke'],
    },
  };
  const configFile = join(dir, 'klaxon.yaml');
  writeFileSync(
    configFile,
    stringify({ ingest: { tokensFile }, sources, state: { dir: join(dir, 'state') } }),
  );
  const pushToken = () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: 'https://accounts.google.com',
      aud: AUDIENCE,
      sub: '117234567890123456789',
      email: PUSHER,
      email_verified: true,
      iat: now,
      exp: now + 3600,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' })
      .sign(privateKey);
  };
  return { dir, configFile, sources, pushToken };
}
