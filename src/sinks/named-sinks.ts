import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { AlertmanagerSink } from './alertmanager.ts';
import type { ForwarderSettings } from './delivery-settings.ts';
import { ForwardingSink, type Transport } from './forwarder.ts';
import { OtlpTransport } from './otlp.ts';
import type { SinkSettings } from './settings.ts';
import type { RejectedAlert, Sink } from './sink.ts';
import { SplunkHecTransport } from './splunk-hec.ts';
import { SyslogTransport } from './syslog.ts';

export interface NamedSinkContext {
  logger: Logger;
  /** Parent of the sinks' default buffer directories (`<root>/<name>`). */
  spoolRoot: string;
  /** Where alerts a receiver refused for good go once they left the caller (the dead-letter topic). */
  onRejected?: (rejected: RejectedAlert[]) => Promise<void>;
}

function forwarding(
  name: string,
  settings: ForwarderSettings,
  transport: Transport,
  ctx: NamedSinkContext,
): Sink {
  const { spool, retry } = settings;
  return new ForwardingSink({
    name,
    filter: settings,
    transport,
    retry: { attempts: retry.attempts, baseMs: retry.initialBackoffMs, maxMs: retry.maxBackoffMs },
    batchSize: settings.batchSize,
    delivery:
      spool === false
        ? { mode: 'hold' }
        : { mode: 'spool', dir: spool.dir ?? join(ctx.spoolRoot, name), maxBytes: spool.maxBytes },
    logger: ctx.logger.child({ sink: name }),
    ...(ctx.onRejected ? { onRejected: ctx.onRejected } : {}),
  });
}

/** One sink instance from its settings. Reads the files it names (CA, keys, tokens): throws when one is missing. */
export function createNamedSink(name: string, settings: SinkSettings, ctx: NamedSinkContext): Sink {
  switch (settings.type) {
    case 'syslog':
      return forwarding(name, settings, new SyslogTransport(name, settings), ctx);
    case 'otlp':
      return forwarding(name, settings, new OtlpTransport(name, settings), ctx);
    case 'splunk-hec':
      return forwarding(name, settings, new SplunkHecTransport(settings), ctx);
    case 'alertmanager':
      return new AlertmanagerSink({
        name,
        url: settings.url,
        filter: settings,
        resolveAfterMs: settings.resolveAfterSeconds * 1000,
        ...(settings.runbookBaseUrl ? { runbookBaseUrl: settings.runbookBaseUrl } : {}),
      });
  }
}
