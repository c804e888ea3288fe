// How the EKS CloudWatch Logs source names what went wrong (the `kind` of klaxon_cloudwatch_errors_total and
// the reason /readyz shows), from errors shaped as the AWS SDK v3 throws them, and how long it waits.
import { describe, expect, it } from 'vitest';
import { RetryLaterError } from '../../../src/ingest/publisher.ts';
import { rejectReasonOf } from '../../../src/sources/cloud-items.ts';
import { backoffMs, classifyError } from '../../../src/sources/cloudwatch-errors.ts';

const group = '/aws/eks/prod-eu/cluster';
/** An SDK service exception: its name is the AWS error code, `$metadata` the HTTP answer. */
const sdk = (name: string, status: number, message = 'x') =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

describe('classifyError', () => {
  it.each([
    [sdk('ResourceNotFoundException', 400, 'The specified log group does not exist.'), 'not_found', false],
    [sdk('ThrottlingException', 400, 'Rate exceeded'), 'throttled', false],
    [sdk('SomethingNew', 429), 'throttled', false],
    [
      sdk('ExpiredTokenException', 400, 'The security token included in the request is expired'),
      'credentials',
      true,
    ],
    [sdk('UnrecognizedClientException', 400), 'credentials', true],
    [
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
      'credentials',
      true,
    ],
    [sdk('AccessDeniedException', 400), 'access_denied', false],
    [sdk('ServiceUnavailableException', 503), 'unavailable', false],
    [sdk('InternalFailure', 500), 'unavailable', false],
    [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5000'), { code: 'ECONNREFUSED' }),
      'unavailable',
      false,
    ],
    [new RetryLaterError('spool full', 5), 'retry_later', false],
    [sdk('InvalidParameterException', 400), 'other', false],
    ['a string', 'other', false],
  ])('%s → %s', (err, kind, renew) => {
    const classified = classifyError(err, group);
    expect(classified.kind).toBe(kind);
    expect(classified.renewClient).toBe(renew);
    expect(classified.reason.length).toBeGreaterThan(10);
  });

  it('says which group is missing and what to check', () => {
    expect(classifyError(sdk('ResourceNotFoundException', 400), group).reason).toBe(
      'log group /aws/eks/prod-eu/cluster does not exist (deleted, another region, or EKS audit logging is off)',
    );
    expect(classifyError(sdk('AccessDeniedException', 400), group).reason).toMatch(/logs:FilterLogEvents/);
  });
});

describe('backoffMs', () => {
  it('doubles from the poll interval up to the ceiling, with jitter between half and all of it', () => {
    expect(backoffMs(1, 5000, 300_000, 0.999)).toBeCloseTo(10_000, -2);
    expect(backoffMs(3, 5000, 300_000, 0)).toBe(20_000);
    expect(backoffMs(30, 5000, 300_000, 0.999)).toBeLessThanOrEqual(300_000);
    expect(backoffMs(30, 5000, 300_000, 0)).toBe(150_000);
    expect(backoffMs(0, 5000, 300_000, 0)).toBe(5000);
  });
});

describe('rejectReasonOf', () => {
  it('maps the converters’ reasons to the fixed rejection reasons', () => {
    expect(rejectReasonOf('message truncated by CloudWatch Logs (event over its size limit)')).toBe(
      'too_large',
    );
    expect(rejectReasonOf('decompressed size over the limit')).toBe('too_large');
    expect(rejectReasonOf('audit event larger than 1500 bytes')).toBe('too_large');
    expect(rejectReasonOf('message: invalid JSON: Unexpected end')).toBe('json');
    expect(rejectReasonOf('data: invalid base64: unexpected character')).toBe('json');
    expect(rejectReasonOf('invalid gzip: incorrect header check')).toBe('json');
    expect(rejectReasonOf('missing message')).toBe('schema');
  });
});
