// What the kernel knows about a process (Linux /proc): CPU time and resident memory, plus a
// description of the machine for the report.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

let ticksPerSecond: number | undefined;

/** USER_HZ, the unit of utime/stime in /proc/PID/stat (almost always 100). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time the process has used so far, in ms (resolution: one tick). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  return ((utime + stime) * 1000) / clockTicks();
}

/** User and system CPU time of one thread (`tid`, the main thread when it is `pid`), in ms. */
export function threadCpuMs(pid: number, tid = pid): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1000) / clockTicks(), system: (Number(fields[12]) * 1000) / clockTicks() };
}

/** VmRSS (now) and VmHWM (peak so far) in bytes, from /proc/PID/status. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Polls VmRSS every `intervalMs` and keeps the largest value (a cross-check of VmHWM). */
export class RssSampler {
  max = 0;
  /** [ms since start, VmRSS bytes], one sample per interval. */
  readonly series: Array<[number, number]> = [];
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 50,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    try {
      const { rss } = memory(this.pid);
      this.max = Math.max(this.max, rss);
      this.series.push([Math.round(performance.now() - this.started), rss]);
    } catch {
      // the process is gone
    }
  }

  stop(): number {
    this.sample();
    clearInterval(this.timer);
    return this.max;
  }

  /** The series thinned to at most `points` samples (each the largest of its stretch), in MB. */
  outline(points = 40): Array<[number, number]> {
    const step = Math.max(1, Math.ceil(this.series.length / points));
    const outline: Array<[number, number]> = [];
    for (let i = 0; i < this.series.length; i += step) {
      const stretch = this.series.slice(i, i + step);
      const peak = stretch.reduce((a, b) => (b[1] > a[1] ? b : a));
      outline.push([peak[0], Math.round((peak[1] / 2 ** 20) * 10) / 10]);
    }
    return outline;
  }
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  os: string;
  clockTicks: number;
}

export function machine(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    clockTicks: clockTicks(),
  };
}
