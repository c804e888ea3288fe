import { z } from 'zod';

/**
 * Amazon CloudWatch Logs, where EKS writes its control-plane logs (log group
 * `/aws/eks/<cluster>/cluster`, audit streams `kube-apiserver-audit-<id>`, one
 * audit Event per log event message):
 * - the subscription filter payload (to Firehose, Lambda, Kinesis; gzip'd):
 *   docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html
 * - what `aws logs filter-log-events` / `get-log-events` print:
 *   docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
 */

export const CloudWatchLogEvent = z.looseObject({
  id: z.string().optional(),
  timestamp: z.number().optional(),
  message: z.string(),
});

export const CloudWatchSubscriptionPayload = z.looseObject({
  messageType: z.string(),
  owner: z.string().optional(),
  logGroup: z.string().optional(),
  logStream: z.string().optional(),
  subscriptionFilters: z.array(z.string()).optional(),
  /** Items are checked one by one, so a broken log event rejects only itself. */
  logEvents: z.array(z.unknown()),
});
export type CloudWatchSubscriptionPayload = z.infer<typeof CloudWatchSubscriptionPayload>;

export const FilterLogEventsOutput = z.looseObject({
  events: z.array(z.unknown()),
  nextToken: z.string().nullish(),
});

/** An event of `filter-log-events` output (`get-log-events` leaves out the stream name). */
export const FilteredLogEvent = z.looseObject({
  logStreamName: z.string().optional(),
  timestamp: z.number().optional(),
  message: z.string(),
  eventId: z.string().optional(),
});
