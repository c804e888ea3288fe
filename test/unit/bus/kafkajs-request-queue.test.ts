import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';

// kafkajs's per-connection request queue, as patched by patches/kafkajs+2.2.4.patch (applied by
// patch-package at install). Unpatched, every response re-armed a check of the pending requests with
// `setTimeout(check, throttledUntil - Date.now())`: with no throttle that delay is about minus the epoch,
// which Node 24 reports as a TimeoutNegativeWarning and runs after 1 ms, re-arming itself: a 1 ms polling
// loop per broker connection for the life of the process.

interface QueuedRequest {
  entry: {
    correlationId: number;
    apiKey: number;
    apiName: string;
    apiVersion: number;
    resolve: (v: unknown) => void;
    reject: (e: unknown) => void;
  };
  expectResponse: boolean;
  sendRequest: () => void;
}
interface RequestQueue {
  push(request: QueuedRequest): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
  throttleCheckTimeoutId: unknown;
}
type RequestQueueClass = new (options: Record<string, unknown>) => RequestQueue;

const RequestQueue = createRequire(import.meta.url)(
  'kafkajs/src/network/requestQueue/index.js',
) as RequestQueueClass;

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function queue(): RequestQueue {
  return new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'klaxon-test',
    broker: '127.0.0.1:9092',
    logger: silent,
  });
}

function request(correlationId: number, sent: number[]): QueuedRequest {
  return {
    entry: {
      correlationId,
      apiKey: 0,
      apiName: 'Produce',
      apiVersion: 7,
      resolve: () => {},
      reject: () => {},
    },
    expectResponse: true,
    sendRequest: () => void sent.push(correlationId),
  };
}

const response = (correlationId: number) => ({ correlationId, payload: Buffer.alloc(0), size: 0 });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('kafkajs request queue (patched)', () => {
  it('arms no timer, let alone a negative one, when a response leaves nothing pending', () => {
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const q = queue();
    const sent: number[] = [];
    q.push(request(1, sent));
    q.fulfillRequest(response(1));
    q.push(request(2, sent));
    q.fulfillRequest(response(2));
    expect(sent).toEqual([1, 2]);
    expect(timers.mock.calls.filter(([, ms]) => typeof ms !== 'number' || ms < 0)).toEqual([]);
    expect(timers).not.toHaveBeenCalled();
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });

  it('still sends a request queued behind the in-flight limit once the response comes', () => {
    const q = queue();
    const sent: number[] = [];
    q.push(request(1, sent));
    q.push(request(2, sent));
    expect(sent).toEqual([1]);
    q.fulfillRequest(response(1));
    expect(sent).toEqual([1, 2]);
    q.destroy();
  });

  it('still sends a request held by broker throttling when the throttle ends', async () => {
    const q = queue();
    const sent: number[] = [];
    q.maybeThrottle(30);
    q.push(request(1, sent));
    expect(sent).toEqual([]);
    await vi.waitFor(() => expect(sent).toEqual([1]), { timeout: 2_000, interval: 10 });
    q.fulfillRequest(response(1));
    q.destroy();
  });
});
