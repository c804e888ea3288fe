/**
 * CPU time of processes and of the machine, from Linux's /proc: which process uses the cores during an end-to-end
 * run (ingest, detect, Kafka, Elasticsearch, the load generator), and how busy the whole machine was.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ; 100 on every common Linux). */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

/**
 * Seconds the threads of a process have spent runnable but waiting for a CPU (the run queue), summed over its
 * threads (/proc/<pid>/task/<tid>/schedstat, second field, nanoseconds): a process that wants more CPU than the
 * machine gives it. Undefined once it is gone or where schedstat is not available.
 */
export function processRunQueueSeconds(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1] ?? 0);
      } catch {
        // a thread that ended meanwhile
      }
    }
    return ns / 1e9;
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine so far (all cores; /proc/stat's first line). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: (total - idle) / TICKS, total: total / TICKS };
}

/** Socket inodes listening on a TCP port (IPv4 and IPv6), from /proc/net/tcp*. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (f[1]?.endsWith(`:${hex}`) && f[3] === '0A' && f[9]) inodes.add(f[9]);
    }
  }
  return inodes;
}

/**
 * The process listening on a TCP port of this machine (Kafka on 9092, Elasticsearch on 9200), found by its
 * socket among the open files of every process we may read; undefined when none is visible.
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m?.[1] && inodes.has(m[1])) return Number(entry);
    }
  }
  return undefined;
}

/** CPU use between two readings, in cores (CPU seconds per wall-clock second). */
export class CpuMeter {
  private readonly pids: ReadonlyMap<string, number>;
  private start: {
    at: number;
    procs: Map<string, number | undefined>;
    waits: Map<string, number | undefined>;
    machine: { busy: number; total: number };
  };

  constructor(pids: ReadonlyMap<string, number>) {
    this.pids = pids;
    this.start = this.read();
  }

  private read() {
    const procs = new Map<string, number | undefined>();
    const waits = new Map<string, number | undefined>();
    for (const [name, pid] of this.pids) {
      procs.set(name, processCpuSeconds(pid));
      waits.set(name, processRunQueueSeconds(pid));
    }
    return { at: performance.now(), procs, waits, machine: machineCpuSeconds() };
  }

  /** Restarts the window. */
  reset(): void {
    this.start = this.read();
  }

  /**
   * Cores used by each named process since the last reset, and by the whole machine (`machine`, of `cores`);
   * `<name>_wait`: threads of the process waiting for a CPU, in cores (how much more it would have used).
   */
  cores(): Record<string, number> {
    const now = this.read();
    const seconds = (now.at - this.start.at) / 1000;
    const out: Record<string, number> = {};
    for (const [name, cpu] of now.procs) {
      const before = this.start.procs.get(name);
      if (cpu !== undefined && before !== undefined) out[name] = (cpu - before) / seconds;
      const wait = now.waits.get(name);
      const waitBefore = this.start.waits.get(name);
      if (wait !== undefined && waitBefore !== undefined) out[`${name}_wait`] = (wait - waitBefore) / seconds;
    }
    const total = now.machine.total - this.start.machine.total;
    const cores = total / seconds;
    out.machine = total > 0 ? ((now.machine.busy - this.start.machine.busy) / total) * cores : 0;
    out.cores = cores;
    return out;
  }
}
