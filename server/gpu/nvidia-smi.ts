// One reading of every NVIDIA GPU through nvidia-smi's CSV query. Never throws: a machine
// without the command answers 'not-available' (so the caller can stop asking), and a failing
// call answers 'error' with a message fit to show a user.
import { execFile } from 'node:child_process';
import { DEFAULT_NVIDIA_SMI } from '../config/defaults.js';

const DEFAULT_TIMEOUT_MS = 5_000;

/** The documented query: one CSV line per GPU, memory in MiB, utilization in %. */
export const NVIDIA_SMI_ARGS: readonly string[] = [
  '--query-gpu=index,name,memory.used,memory.total,utilization.gpu',
  '--format=csv,noheader,nounits',
];

export interface GpuReading {
  index: number;
  name: string;
  /** null where nvidia-smi says [N/A] or [Not Supported]. */
  usedMiB: number | null;
  totalMiB: number | null;
  utilizationPercent: number | null;
}

export type NvidiaSmiResult =
  { status: 'ok'; gpus: GpuReading[] } | { status: 'not-available' } | { status: 'error'; error: string };

/** A number field; nvidia-smi writes fields a GPU cannot report as `[N/A]` or `[Not Supported]`. */
function field(text: string, line: string): number | null {
  if (/^\[.*\]$/.test(text) || text === 'N/A') return null;
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) throw new Error(`unexpected nvidia-smi output: "${line}"`);
  return value;
}

/** The CSV nvidia-smi prints for NVIDIA_SMI_ARGS; throws on anything else. */
export function parseNvidiaSmiCsv(text: string): GpuReading[] {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  if (lines.length === 0) throw new Error('nvidia-smi listed no GPUs');
  return lines.map((line) => {
    const parts = line.split(',').map((part) => part.trim());
    if (parts.length < 5) throw new Error(`unexpected nvidia-smi output: "${line}"`);
    // Index first and three numbers last: a GPU name with a comma in it stays whole.
    const index = field(parts[0]!, line);
    if (index === null || !Number.isInteger(index)) throw new Error(`unexpected nvidia-smi output: "${line}"`);
    const [used, total, utilization] = parts.slice(-3).map((part) => field(part, line));
    return {
      index,
      name: parts.slice(1, -3).join(', '),
      usedMiB: used!,
      totalMiB: total!,
      utilizationPercent: utilization!,
    };
  });
}

/** The first line of what a failed nvidia-smi said (it writes driver errors to stdout). */
function firstLine(text: string): string {
  return text.trim().split(/\r?\n/)[0]?.slice(0, 300) ?? '';
}

/** Runs nvidia-smi once; `command` is a path or a name looked up on PATH. */
export function queryNvidiaSmi(command = DEFAULT_NVIDIA_SMI, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<NvidiaSmiResult> {
  return new Promise((resolve) => {
    execFile(command, NVIDIA_SMI_ARGS, { timeout: timeoutMs, windowsHide: true }, (error, stdout, stderr) => {
      if (error) {
        const { code, killed, signal } = error;
        if (code === 'ENOENT') return resolve({ status: 'not-available' });
        if (typeof code === 'string') return resolve({ status: 'error', error: `${command} could not run (${code})` });
        if (killed)
          return resolve({ status: 'error', error: `${command} did not answer within ${timeoutMs / 1000} s` });
        const said = firstLine(String(stderr)) || firstLine(String(stdout));
        const how = typeof code === 'number' ? `exited with code ${code}` : `was ended by ${signal ?? 'a signal'}`;
        return resolve({ status: 'error', error: `${command} ${how}${said ? `: ${said}` : ''}` });
      }
      try {
        resolve({ status: 'ok', gpus: parseNvidiaSmiCsv(String(stdout)) });
      } catch (parseError) {
        resolve({ status: 'error', error: (parseError as Error).message });
      }
    });
  });
}
