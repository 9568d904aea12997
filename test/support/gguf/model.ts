// A llama-architecture GGUF model with seeded random weights and a small SentencePiece-style
// vocabulary, for tests and benchmarks where no real model can be downloaded. The weights mean
// nothing (the output is noise), but the cost per token depends only on the shape, so a
// Qwen-0.5B- or Llama-1B-shaped file gives realistic timings. Same seed, same bytes.
import { rename, rm } from 'node:fs/promises';
import { GgmlType, tensorBytes, writeGguf, type GgufTensor, type GgufValue } from './writer.js';

export type ModelShape = 'tiny' | '0.5b' | '1b';

interface ShapeSpec {
  name: string;
  embedding: number;
  layers: number;
  heads: number;
  kvHeads: number;
  feedForward: number;
  vocab: number;
  contextLength: number;
  ropeFreqBase: number;
  rmsEpsilon: number;
  weightType: GgmlType;
  /** Real models of this shape share token_embd with the output layer (no output.weight). */
  tiedEmbeddings: boolean;
}

export const SHAPES: Record<ModelShape, ShapeSpec> = {
  tiny: {
    name: 'tiny',
    embedding: 256,
    layers: 4,
    heads: 4,
    kvHeads: 4,
    feedForward: 512,
    vocab: 1200,
    contextLength: 8192,
    ropeFreqBase: 10000,
    rmsEpsilon: 1e-5,
    weightType: GgmlType.F16,
    tiedEmbeddings: false,
  },
  // Qwen2.5-0.5B's shape (without its q/k/v biases, which llama has no slot for).
  '0.5b': {
    name: 'qwen-0.5b-shape',
    embedding: 896,
    layers: 24,
    heads: 14,
    kvHeads: 2,
    feedForward: 4864,
    vocab: 151936,
    contextLength: 32768,
    ropeFreqBase: 1_000_000,
    rmsEpsilon: 1e-6,
    weightType: GgmlType.Q8_0,
    tiedEmbeddings: true,
  },
  // Llama-3.2-1B's shape.
  '1b': {
    name: 'llama-1b-shape',
    embedding: 2048,
    layers: 16,
    heads: 32,
    kvHeads: 8,
    feedForward: 8192,
    vocab: 128256,
    contextLength: 131072,
    ropeFreqBase: 500_000,
    rmsEpsilon: 1e-5,
    weightType: GgmlType.Q8_0,
    tiedEmbeddings: true,
  },
};

/** Uniform weights in [-AMPLITUDE, AMPLITUDE]: standard deviation ~0.02, like a fresh init. */
const AMPLITUDE = 0.035;

// ---------------------------------------------------------------------------------------------
// Seeded randomness: sfc32 seeded through splitmix32 from (seed, tensor name), so each tensor's
// bytes depend only on the seed and its name, not on the order tensors are written in.

function splitmix32(state: number): () => number {
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** sfc32 state, four 32-bit words. */
function seedState(seed: number, name: string): [number, number, number, number] {
  const mix = splitmix32((seed ^ fnv1a(name)) | 0);
  const state: [number, number, number, number] = [mix(), mix(), mix(), mix()];
  // Warm up, as sfc32's authors recommend.
  for (let i = 0; i < 12; i++) sfc32Step(state);
  return state;
}

function sfc32Step(s: [number, number, number, number]): number {
  let [a, b, c, d] = s;
  const t = (((a + b) | 0) + d) | 0;
  d = (d + 1) | 0;
  a = b ^ (b >>> 9);
  b = (c + (c << 3)) | 0;
  c = (c << 21) | (c >>> 11);
  c = (c + t) | 0;
  s[0] = a;
  s[1] = b;
  s[2] = c;
  s[3] = d;
  return t >>> 0;
}

/** IEEE half-precision bits of a float (round to nearest even, subnormals included). */
export function f32ToF16(value: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry into the exponent is correct
  return sign | half;
}

const CHUNK_ELEMENTS = 1 << 20;

/** Random Q8_0 blocks: one fixed scale per tensor, uniform int8 quants. */
function* q8Data(elements: number, seed: number, name: string): Iterable<Uint8Array> {
  const scale = f32ToF16(AMPLITUDE / 128);
  const scaleLo = scale & 0xff;
  const scaleHi = scale >>> 8;
  const s = seedState(seed, name);
  let [a, b, c, d] = s;
  let blocksLeft = elements / 32;
  const chunkBlocks = CHUNK_ELEMENTS / 32;
  const out = new Uint8Array(chunkBlocks * 34);
  while (blocksLeft > 0) {
    const blocks = Math.min(blocksLeft, chunkBlocks);
    let p = 0;
    for (let block = 0; block < blocks; block++) {
      out[p] = scaleLo;
      out[p + 1] = scaleHi;
      p += 2;
      for (let word = 0; word < 8; word++) {
        const t = (((a + b) | 0) + d) | 0;
        d = (d + 1) | 0;
        a = b ^ (b >>> 9);
        b = (c + (c << 3)) | 0;
        c = (c << 21) | (c >>> 11);
        c = (c + t) | 0;
        out[p] = t;
        out[p + 1] = t >>> 8;
        out[p + 2] = t >>> 16;
        out[p + 3] = t >>> 24;
        p += 4;
      }
    }
    blocksLeft -= blocks;
    yield blocks === chunkBlocks ? out : out.subarray(0, p);
  }
}

/** Random F16 values: 256 evenly spaced levels in [-AMPLITUDE, AMPLITUDE]. */
function* f16Data(elements: number, seed: number, name: string): Iterable<Uint8Array> {
  const levels = new Uint16Array(256);
  for (let i = 0; i < 256; i++) levels[i] = f32ToF16(((i - 128) / 128) * AMPLITUDE);
  const s = seedState(seed, name);
  let left = elements;
  const out = new Uint8Array(CHUNK_ELEMENTS * 2);
  while (left > 0) {
    const count = Math.min(left, CHUNK_ELEMENTS);
    for (let i = 0; i < count; i += 4) {
      const t = sfc32Step(s);
      for (let k = 0; k < 4 && i + k < count; k++) {
        const half = levels[(t >>> (8 * k)) & 0xff]!;
        out[2 * (i + k)] = half & 0xff;
        out[2 * (i + k) + 1] = half >>> 8;
      }
    }
    left -= count;
    yield count === CHUNK_ELEMENTS ? out : out.subarray(0, count * 2);
  }
}

/** F32 ones (the RMS norm weights). */
function* onesF32(elements: number): Iterable<Uint8Array> {
  const out = new Uint8Array(elements * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < elements; i++) view.setFloat32(i * 4, 1, true);
  yield out;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer: a SentencePiece ("llama") vocabulary with control tokens, the 256 byte-fallback
// tokens, printable ASCII, ▁ and ▁-prefixed English word pieces (each word with every prefix,
// so the SPM bigram merges can always reach it), then letter n-grams to fill large vocabularies.

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

const COMMON_WORDS = `the of and to in is was for that on as with by at from his her it an are were be this
which or has had have not but one all their they new also first who more after two been its other
when she there time can would into only about over some year years most than these many then may
him so out up no what such used between three do made use during under well known where both through
later while each like he we you your our them us if will how any because same very just should could
being before those against world work part since people state first city high back first long
number school name system data model score scores candidate candidates profile experience skills
skill engineer engineering team teams lead senior junior role roles company project projects product
manager management developer software design python java typescript go rust sql cloud customer
customers build built strong weak good great best better fit match rubric reason reasons decision
advance reject maybe strength strengths concern concerns evidence clear clearly summary result
results answer question please return json object field value values list item items text line
lines file files batch batches request response error errors test tests run running ready review
reviewed hire hiring interview level levels background education degree university years month
months day days week weeks hour hours minute minutes here now today next last every few own small
large big short right left open close start end set get see make take give find think say tell
know want need help show try call keep let put seem feel leave become turn begin write read learn
change follow stop create speak allow add spend grow offer remember consider appear buy wait serve
die send expect stay fall cut reach kill remain suggest raise pass sell require report decide pull
`
  .split(/\s+/)
  .filter(Boolean);

const SUFFIXES = [
  's',
  'es',
  'ed',
  'ing',
  'er',
  'ers',
  'ly',
  'tion',
  'tions',
  'ment',
  'al',
  'ive',
  'ity',
  'ness',
  'able',
];

export interface Vocabulary {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
  bos: number;
  eos: number;
  unk: number;
}

export function buildVocabulary(size: number): Vocabulary {
  const tokens: string[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  const add = (token: string, type: number): void => {
    if (tokens.length >= size || seen.has(token)) return;
    seen.add(token);
    tokens.push(token);
    types.push(type);
  };
  add('<unk>', TOKEN_TYPE.unknown);
  add('<s>', TOKEN_TYPE.control);
  add('</s>', TOKEN_TYPE.control);
  add('<|im_start|>', TOKEN_TYPE.control);
  add('<|im_end|>', TOKEN_TYPE.control);
  for (let byte = 0; byte < 256; byte++)
    add(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`, TOKEN_TYPE.byte);
  add('▁', TOKEN_TYPE.normal);
  for (let code = 0x21; code <= 0x7e; code++) add(String.fromCharCode(code), TOKEN_TYPE.normal);
  if (tokens.length >= size) throw new Error(`vocabulary size ${size} is too small`);
  const addWithPrefixes = (piece: string): void => {
    const chars = [...piece];
    for (let end = 2; end <= chars.length; end++) add(chars.slice(0, end).join(''), TOKEN_TYPE.normal);
  };
  for (const word of COMMON_WORDS) addWithPrefixes(`▁${word}`);
  for (const suffix of SUFFIXES) addWithPrefixes(suffix);
  for (const word of COMMON_WORDS) addWithPrefixes(`▁${word[0]!.toUpperCase()}${word.slice(1)}`);
  // Fill larger vocabularies with letter n-grams (each reachable through its shorter prefix).
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const grams = (length: number): string[] => {
    let out = [''];
    for (let i = 0; i < length; i++) out = out.flatMap((prefix) => [...letters].map((l) => prefix + l));
    return out;
  };
  for (let length = 1; tokens.length < size && length <= 5; length++) {
    for (const gram of grams(length)) {
      if (tokens.length >= size) break;
      add(`▁${gram}`, TOKEN_TYPE.normal);
      if (length > 1) add(gram, TOKEN_TYPE.normal);
    }
  }
  for (let i = 0; tokens.length < size; i++) add(`<extra_${i}>`, TOKEN_TYPE.normal);

  // SentencePiece merges prefer the higher score: earlier (more common) pieces win.
  const scores = new Float32Array(tokens.length);
  for (let id = 0; id < tokens.length; id++) scores[id] = types[id] === TOKEN_TYPE.normal ? -id : 0;
  return { tokens, scores, types: Int32Array.from(types), bos: 1, eos: tokens.indexOf('<|im_end|>'), unk: 0 };
}

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// ---------------------------------------------------------------------------------------------

export interface WriteModelOptions {
  out: string;
  shape?: ModelShape;
  seed?: number;
}

/** Writes a random-weight llama GGUF (to a temporary name, then renamed into place). */
export async function writeModel(options: WriteModelOptions): Promise<{ path: string; bytes: number }> {
  const spec = SHAPES[options.shape ?? 'tiny'];
  if (!spec) throw new Error(`unknown shape ${String(options.shape)}`);
  const seed = (options.seed ?? 1) | 0;
  const headDim = spec.embedding / spec.heads;
  const vocab = buildVocabulary(spec.vocab);
  const fileType = spec.weightType === GgmlType.Q8_0 ? 7 : spec.weightType === GgmlType.F16 ? 1 : 0;

  const metadata: Array<[string, GgufValue]> = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: `${spec.name} (random weights, seed ${seed})` }],
    ['general.alignment', { type: 'u32', value: 32 }],
    ['general.file_type', { type: 'u32', value: fileType }],
    ['general.quantization_version', { type: 'u32', value: 2 }],
    ['llama.context_length', { type: 'u32', value: spec.contextLength }],
    ['llama.embedding_length', { type: 'u32', value: spec.embedding }],
    ['llama.block_count', { type: 'u32', value: spec.layers }],
    ['llama.feed_forward_length', { type: 'u32', value: spec.feedForward }],
    ['llama.attention.head_count', { type: 'u32', value: spec.heads }],
    ['llama.attention.head_count_kv', { type: 'u32', value: spec.kvHeads }],
    ['llama.rope.dimension_count', { type: 'u32', value: headDim }],
    ['llama.rope.freq_base', { type: 'f32', value: spec.ropeFreqBase }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: spec.rmsEpsilon }],
    ['llama.vocab_size', { type: 'u32', value: spec.vocab }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'f32[]', value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: vocab.types }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: vocab.bos }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: vocab.eos }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: vocab.unk }],
    ['tokenizer.ggml.padding_token_id', { type: 'u32', value: vocab.unk }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.chat_template', { type: 'string', value: CHATML_TEMPLATE }],
  ];

  const weight = (name: string, dims: number[]): GgufTensor => {
    const elements = dims.reduce((x, y) => x * y, 1);
    const data =
      spec.weightType === GgmlType.Q8_0 ? () => q8Data(elements, seed, name) : () => f16Data(elements, seed, name);
    return { name, dims, type: spec.weightType, data };
  };
  const norm = (name: string): GgufTensor => ({
    name,
    dims: [spec.embedding],
    type: GgmlType.F32,
    data: () => onesF32(spec.embedding),
  });

  const e = spec.embedding;
  const kv = spec.kvHeads * headDim;
  const tensors: GgufTensor[] = [weight('token_embd.weight', [e, spec.vocab]), norm('output_norm.weight')];
  if (!spec.tiedEmbeddings) tensors.push(weight('output.weight', [e, spec.vocab]));
  for (let layer = 0; layer < spec.layers; layer++) {
    const blk = `blk.${layer}`;
    tensors.push(
      norm(`${blk}.attn_norm.weight`),
      weight(`${blk}.attn_q.weight`, [e, e]),
      weight(`${blk}.attn_k.weight`, [e, kv]),
      weight(`${blk}.attn_v.weight`, [e, kv]),
      weight(`${blk}.attn_output.weight`, [e, e]),
      norm(`${blk}.ffn_norm.weight`),
      weight(`${blk}.ffn_gate.weight`, [e, spec.feedForward]),
      weight(`${blk}.ffn_up.weight`, [e, spec.feedForward]),
      weight(`${blk}.ffn_down.weight`, [spec.feedForward, e]),
    );
  }
  for (const tensor of tensors) tensorBytes(tensor.dims, tensor.type); // shape check before writing

  const temporary = `${options.out}.${process.pid}.${Date.now()}.partial`;
  try {
    const bytes = await writeGguf(temporary, { metadata, tensors, alignment: 32 });
    await rename(temporary, options.out);
    return { path: options.out, bytes };
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
