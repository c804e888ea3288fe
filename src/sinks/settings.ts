import { z } from 'zod';
import { AlertmanagerSinkSettings } from './alertmanager-settings.ts';
import { OtlpSinkSettings } from './otlp-settings.ts';
import { SplunkHecSinkSettings } from './splunk-hec-settings.ts';
import { SyslogSinkSettings } from './syslog-settings.ts';

/**
 * The `sinks:` section of the settings file: named, typed instances, one schema per type
 * (next to each sink), told apart by `type`. Unknown keys are refused with their path
 * (`sinks.qradar: Unrecognized key "prot"`). Secrets are named by file (`tokenFile`,
 * `keyFile`, `headersFile`), never given inline.
 */

/** Names of the sinks configured by their own sections: an instance may not take them. */
export const BUILTIN_SINK_NAMES = ['elasticsearch', 'alertmanager', 'kafka', 'jsonl'] as const;

/** A metrics label and a directory name: short, lower case, no path characters. */
export const SinkName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower case letters, digits, "_" and "-", at most 63')
  .refine((n) => !(BUILTIN_SINK_NAMES as readonly string[]).includes(n), {
    message: `${BUILTIN_SINK_NAMES.join(', ')} name the sinks of their own sections`,
  });

export const SinkSettings = z.discriminatedUnion('type', [
  SyslogSinkSettings,
  OtlpSinkSettings,
  SplunkHecSinkSettings,
  AlertmanagerSinkSettings,
]);
export type SinkSettings = z.infer<typeof SinkSettings>;

export const SinksSettings = z.record(SinkName, SinkSettings).default({});
export type SinksSettings = z.infer<typeof SinksSettings>;
