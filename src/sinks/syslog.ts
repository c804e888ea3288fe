import { readFileSync } from 'node:fs';
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { sinkWrites } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import { KLAXON_VERSION } from '../version.ts';
import { formatCef } from './cef.ts';
import type { Transport } from './forwarder.ts';
import { formatSyslog, frameOctetCounted, jsonPayload, type SyslogHeader } from './syslog-format.ts';
import type { SyslogSinkSettings } from './syslog-settings.ts';

/**
 * Syslog: RFC 5424 messages in RFC 6587 octet-counting frames, over TCP or over TLS
 * (RFC 5425: the server's certificate is verified, a client certificate is optional). The
 * payload is the alert as JSON, or as CEF for QRadar, ArcSight and the like.
 *
 * Syslog has no acknowledgement. A batch counts as delivered once its bytes are flushed to
 * the socket AND the connection stays up for `settleMs` afterwards: a receiver that stops or
 * restarts closes or resets the connection, and what was written within that time is sent
 * again on a new connection (`klaxon_sink_writes_total{outcome="unconfirmed"}` counts it;
 * those alerts may arrive twice).
 */

interface Credentials {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export class SyslogTransport implements Transport {
  private readonly sink: string;
  private readonly settings: SyslogSinkSettings;
  private readonly header: SyslogHeader;
  private readonly port: number;
  private readonly credentials: Credentials;
  private socket: Socket | undefined;

  constructor(sink: string, settings: SyslogSinkSettings) {
    this.sink = sink;
    this.settings = settings;
    this.port = settings.port ?? (settings.transport === 'tls' ? 6514 : 514);
    this.header = {
      facility: settings.facility,
      hostname: settings.hostname ?? osHostname(),
      appName: settings.appName,
      procId: String(process.pid),
      version: KLAXON_VERSION,
      bom: settings.bom,
    };
    // Read once at start: a missing file is a configuration error, reported before any alert.
    this.credentials = {
      ...(settings.caFile ? { ca: readFileSync(settings.caFile) } : {}),
      ...(settings.certFile ? { cert: readFileSync(settings.certFile) } : {}),
      ...(settings.keyFile ? { key: readFileSync(settings.keyFile) } : {}),
    };
  }

  /** The bytes of one alert on the wire: an octet-counted RFC 5424 message. */
  private frame(alert: Alert): Buffer {
    const empty = formatSyslog(alert, '', this.header);
    const payload =
      this.settings.format === 'cef'
        ? formatCef(alert, { version: KLAXON_VERSION, hostname: this.header.hostname })
        : jsonPayload(alert, this.settings.maxMessageBytes - Buffer.byteLength(empty, 'utf8'));
    return frameOctetCounted(formatSyslog(alert, payload, this.header));
  }

  async send(alerts: readonly Alert[]): Promise<Array<{ alert: Alert; reason: string }>> {
    const data = Buffer.concat(alerts.map((a) => this.frame(a)));
    const socket = await this.connection();
    let written = false;
    try {
      await this.write(socket, data);
      written = true;
      await this.settle(socket);
    } catch (error) {
      socket.destroy();
      if (this.socket === socket) this.socket = undefined;
      if (written) sinkWrites.inc({ sink: this.sink, outcome: 'unconfirmed' }, alerts.length);
      throw error;
    }
    return [];
  }

  private connection(): Promise<Socket> {
    const current = this.socket;
    if (current && !current.destroyed && current.writable) return Promise.resolve(current);
    return new Promise((resolve, reject) => {
      const { host, transport } = this.settings;
      const timeoutMs = this.settings.timeoutSeconds * 1000;
      const socket =
        transport === 'tls'
          ? tlsConnect({
              host,
              port: this.port,
              servername: this.settings.serverName ?? (isIP(host) ? undefined : host),
              ...this.credentials,
              rejectUnauthorized: true,
              minVersion: 'TLSv1.2',
            })
          : tcpConnect({ host, port: this.port });
      const ready = transport === 'tls' ? 'secureConnect' : 'connect';
      const timer = setTimeout(
        () => fail(new Error(`no connection to ${host}:${this.port} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      socket.once('error', fail);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.setKeepAlive(true, 30_000);
        socket.setNoDelay(true);
        // Receivers never speak on a syslog connection; whatever they send is dropped, and a
        // close or reset ends this connection (the next send opens another).
        socket.on('data', () => {});
        socket.on('error', () => socket.destroy());
        this.socket = socket;
        resolve(socket);
      });
    });
  }

  /** Resolves once the bytes are flushed to the socket; a full send buffer that never drains times out. */
  private write(socket: Socket, data: Buffer): Promise<void> {
    const timeoutMs = this.settings.timeoutSeconds * 1000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`write not flushed within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.write(data, (error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      });
    });
  }

  /** The connection must survive `settleMs` after the write: a stopping receiver closes or resets it. */
  private settle(socket: Socket): Promise<void> {
    return new Promise((resolve, reject) => {
      if (socket.destroyed) {
        reject(new Error('connection closed right after the write'));
        return;
      }
      const closed = () => {
        clearTimeout(timer);
        reject(new Error('connection closed by the receiver; resending what it may not have read'));
      };
      const timer = setTimeout(() => {
        socket.off('close', closed);
        resolve();
      }, this.settings.settleMs);
      socket.once('close', closed);
    });
  }

  async ready(): Promise<boolean> {
    try {
      await this.connection();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.end(() => resolve());
      setTimeout(resolve, 1000).unref();
    });
    socket.destroy();
  }
}
