// A streaming GGUF v3 writer: the header, metadata and tensor table first, then each tensor's
// bytes as its producer yields them, so a multi-gigabyte model never sits in memory.
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (little-endian throughout).
import { open } from 'node:fs/promises';

/** GGUF metadata value types (the ones this writer uses). */
const GgufType = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;

/** The ggml tensor types this writer can size. */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** Elements per block and bytes per block of each ggml type. */
const TYPE_LAYOUT: Record<GgmlType, { blockElements: number; blockBytes: number }> = {
  [GgmlType.F32]: { blockElements: 1, blockBytes: 4 },
  [GgmlType.F16]: { blockElements: 1, blockBytes: 2 },
  [GgmlType.Q8_0]: { blockElements: 32, blockBytes: 34 },
};

export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'f32[]'; value: readonly number[] | Float32Array }
  | { type: 'i32[]'; value: readonly number[] | Int32Array };

export interface GgufTensor {
  name: string;
  /** ggml order: the fastest-varying (input) dimension first. */
  dims: readonly number[];
  type: GgmlType;
  /** Yields the tensor's bytes in order; the total must equal tensorBytes(dims, type). */
  data: () => Iterable<Uint8Array>;
}

export interface GgufFile {
  metadata: ReadonlyArray<readonly [string, GgufValue]>;
  tensors: readonly GgufTensor[];
  /** general.alignment; 32 unless the metadata says otherwise. */
  alignment?: number;
}

export function tensorBytes(dims: readonly number[], type: GgmlType): number {
  const { blockElements, blockBytes } = TYPE_LAYOUT[type];
  const elements = dims.reduce((a, b) => a * b, 1);
  if (dims[0] === undefined || dims[0] % blockElements !== 0) {
    throw new Error(`first dimension ${dims[0]} is not a multiple of the block size ${blockElements}`);
  }
  return (elements / blockElements) * blockBytes;
}

const alignUp = (n: number, alignment: number): number => Math.ceil(n / alignment) * alignment;

/** Little-endian byte builder for the header part of the file. */
class HeaderBuilder {
  private chunks: Buffer[] = [];
  length = 0;

  private push(buffer: Buffer): void {
    this.chunks.push(buffer);
    this.length += buffer.length;
  }
  u32(value: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(value);
    this.push(b);
  }
  i32(value: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32LE(value);
    this.push(b);
  }
  u64(value: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(BigInt(value));
    this.push(b);
  }
  f32(value: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeFloatLE(value);
    this.push(b);
  }
  bool(value: boolean): void {
    this.push(Buffer.from([value ? 1 : 0]));
  }
  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  pad(alignment: number): void {
    const padding = alignUp(this.length, alignment) - this.length;
    if (padding > 0) this.push(Buffer.alloc(padding));
  }
  value(value: GgufValue): void {
    switch (value.type) {
      case 'u32':
        this.u32(GgufType.UINT32);
        this.u32(value.value);
        return;
      case 'i32':
        this.u32(GgufType.INT32);
        this.i32(value.value);
        return;
      case 'f32':
        this.u32(GgufType.FLOAT32);
        this.f32(value.value);
        return;
      case 'bool':
        this.u32(GgufType.BOOL);
        this.bool(value.value);
        return;
      case 'string':
        this.u32(GgufType.STRING);
        this.string(value.value);
        return;
      case 'string[]':
        this.u32(GgufType.ARRAY);
        this.u32(GgufType.STRING);
        this.u64(value.value.length);
        for (const item of value.value) this.string(item);
        return;
      case 'f32[]': {
        this.u32(GgufType.ARRAY);
        this.u32(GgufType.FLOAT32);
        this.u64(value.value.length);
        const b = Buffer.allocUnsafe(value.value.length * 4);
        for (let i = 0; i < value.value.length; i++) b.writeFloatLE(value.value[i]!, i * 4);
        this.push(b);
        return;
      }
      case 'i32[]': {
        this.u32(GgufType.ARRAY);
        this.u32(GgufType.INT32);
        this.u64(value.value.length);
        const b = Buffer.allocUnsafe(value.value.length * 4);
        for (let i = 0; i < value.value.length; i++) b.writeInt32LE(value.value[i]!, i * 4);
        this.push(b);
        return;
      }
    }
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

const WRITE_BUFFER_BYTES = 4 << 20;

/** Writes a GGUF v3 file; returns its size in bytes. */
export async function writeGguf(path: string, file: GgufFile): Promise<number> {
  const alignment = file.alignment ?? 32;
  const header = new HeaderBuilder();
  header.u32(0x46554747); // "GGUF"
  header.u32(3);
  header.u64(file.tensors.length);
  header.u64(file.metadata.length);
  for (const [key, value] of file.metadata) {
    header.string(key);
    header.value(value);
  }
  let offset = 0;
  const sizes: number[] = [];
  for (const tensor of file.tensors) {
    const size = tensorBytes(tensor.dims, tensor.type);
    sizes.push(size);
    header.string(tensor.name);
    header.u32(tensor.dims.length);
    for (const dim of tensor.dims) header.u64(dim);
    header.u32(tensor.type);
    header.u64(offset);
    offset = alignUp(offset + size, alignment);
  }
  header.pad(alignment);

  const handle = await open(path, 'w');
  try {
    // Small chunks are gathered into one buffer so the disk sees few large writes.
    const pending = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
    let filled = 0;
    let written = 0;
    const flush = async (): Promise<void> => {
      if (filled === 0) return;
      await handle.write(pending, 0, filled);
      written += filled;
      filled = 0;
    };
    const emit = async (bytes: Uint8Array): Promise<void> => {
      if (bytes.length >= WRITE_BUFFER_BYTES / 2) {
        await flush();
        await handle.write(bytes, 0, bytes.length);
        written += bytes.length;
        return;
      }
      if (filled + bytes.length > WRITE_BUFFER_BYTES) await flush();
      pending.set(bytes, filled);
      filled += bytes.length;
    };

    await emit(header.toBuffer());
    for (const [index, tensor] of file.tensors.entries()) {
      let produced = 0;
      for (const chunk of tensor.data()) {
        produced += chunk.length;
        await emit(chunk);
      }
      const expected = sizes[index]!;
      if (produced !== expected)
        throw new Error(`tensor ${tensor.name}: produced ${produced} bytes, expected ${expected}`);
      const padding = alignUp(expected, alignment) - expected;
      if (padding > 0 && index < file.tensors.length - 1) await emit(new Uint8Array(padding));
    }
    await flush();
    return written;
  } finally {
    await handle.close();
  }
}
