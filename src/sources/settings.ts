import { z } from 'zod';
import { CloudWatchSourceSettings } from './cloudwatch-settings.ts';
import { EventHubsSourceSettings } from './eventhubs-settings.ts';
import { FileSourceSettings } from './file-tail-settings.ts';
import { FirehoseSourceSettings } from './firehose-settings.ts';
import { PubSubPushSourceSettings } from './pubsub-push-settings.ts';
import { PubSubSourceSettings } from './pubsub-settings.ts';

/**
 * The `sources:` section of the settings file: named, typed pull sources, one schema per type (next to each
 * source), told apart by `type`; unknown types and keys are refused with their path
 * (`sources.apiserver: Invalid input: expected "file"|…`). `klaxon serve` and `klaxon ingest` run every one
 * beside the HTTP routes, through the same accept path.
 */
export const SourceSettings = z.discriminatedUnion('type', [
  FileSourceSettings,
  PubSubSourceSettings,
  PubSubPushSourceSettings,
  CloudWatchSourceSettings,
  FirehoseSourceSettings,
  EventHubsSourceSettings,
]);
export type SourceSettings = z.infer<typeof SourceSettings>;

/** A metrics label, a log field and a checkpoint key: short, lower case, no path characters. */
const SOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const SourcesSettings = z
  .record(z.string(), SourceSettings)
  .superRefine((sources, ctx) => {
    for (const name of Object.keys(sources)) {
      if (!SOURCE_NAME.test(name))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'a source name is lower case letters, digits, "_" and "-", at most 63',
        });
    }
  })
  .default({});
export type SourcesSettings = z.infer<typeof SourcesSettings>;
