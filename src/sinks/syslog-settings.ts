import { z } from 'zod';
import { bool, bytes, int } from '../config-values.ts';
import { forwarderFields } from './delivery-settings.ts';
import { filterFields } from './filter.ts';
import { FACILITIES, type Facility } from './syslog-format.ts';

const facilities = Object.keys(FACILITIES) as [Facility, ...Facility[]];

export const SyslogSinkSettings = z
  .object({
    type: z.literal('syslog'),
    transport: z.enum(['tcp', 'tls']).default('tcp'),
    host: z.string().min(1),
    /** Default 514 over TCP, 6514 over TLS (RFC 5425). */
    port: int(1, 65_535).optional(),
    format: z.enum(['json', 'cef']).default('json'),
    facility: z.enum(facilities).default('authpriv'),
    /** HOSTNAME of the messages; default: this machine's name. */
    hostname: z.string().min(1).max(255).optional(),
    appName: z.string().min(1).max(48).default('klaxon'),
    /** Start each MSG with a UTF-8 byte order mark (RFC 5424 §6.4); many CEF parsers do not expect one. */
    bom: bool.default(false),
    /** Receivers' message limit (rsyslog's default 8 KiB): a JSON payload over it leaves out the raw event. */
    maxMessageBytes: bytes.default(8192),
    /** TLS: CA bundle (PEM) that signed the receiver's certificate; default: the system's CAs. */
    caFile: z.string().min(1).optional(),
    /** TLS: client certificate and key (PEM files), for receivers that require one. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** TLS: the name to verify in the receiver's certificate; default: `host`. */
    serverName: z.string().min(1).optional(),
    /** How long a connection must stay up after a write before the write counts as delivered. */
    settleMs: int(0, 10_000).default(250),
    ...filterFields('informational'),
    ...forwarderFields,
  })
  .strict()
  .refine((s) => s.transport === 'tls' || (!s.caFile && !s.certFile && !s.keyFile && !s.serverName), {
    message: 'caFile, certFile, keyFile and serverName need transport: tls',
  })
  .refine((s) => Boolean(s.certFile) === Boolean(s.keyFile), { message: 'certFile and keyFile go together' });
export type SyslogSinkSettings = z.infer<typeof SyslogSinkSettings>;
