import type { SourceSettings } from './settings.ts';
import type { SourceModule } from './types.ts';

type ModuleOf<T extends SourceSettings['type']> = SourceModule<Extract<SourceSettings, { type: T }>>;

/**
 * The implementation of every source type of `sources:`, loaded when a configured instance needs it (the cloud
 * SDKs are not loaded by a Klaxon that reads no cloud). Adding a type: its settings schema in settings.ts and
 * its module here; the types say which is missing.
 */
export const SOURCE_MODULES: { [T in SourceSettings['type']]: () => Promise<ModuleOf<T>> } = {
  file: async () => (await import('./file-tail.ts')).fileSource,
  pubsub: async () => (await import('./pubsub.ts')).pubsubSource,
  'pubsub-push': async () => (await import('./pubsub-push.ts')).pubsubPushSource,
  cloudwatch: async () => (await import('./cloudwatch.ts')).cloudwatchSource,
  firehose: async () => (await import('./firehose.ts')).firehoseSource,
  eventhubs: async () => (await import('./eventhubs.ts')).eventHubsSource,
};
