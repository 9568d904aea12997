// The daemon's side of a cascade: when a pass-1 batch completes, pass 2 is created from the full
// requests of its shortlisted rows. Idempotent: pass 2 is found by its `cascade_of` metadata
// before anything is made, and the daemon looks again at every start, so a kill between pass 1's
// end and pass 2's creation creates it at the next start, never twice. Each pass is an ordinary
// batch: it resumes, is cancelled and retried like any other.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { BatchService } from '../batches/service.js';
import { isObject } from '../common/is-object.js';
import { readLines } from '../jsonl/lines.js';
import { answerSchema } from '../openai/answer-check.js';
import { CASCADE_METADATA as KEYS, parseShortlist } from '../protocol/cascade.js';
import type { Batch, ChatCompletionBody } from '../protocol/openai.js';
import { passTwoIn } from './passes.js';
import { selectShortlist } from './shortlist.js';

const NEWLINE = Buffer.from('\n');

// A retry of pass 1 copies its metadata but holds only the lines that failed: it makes no pass 2.
const isCompletedPassOne = (batch: Batch): boolean =>
  batch.status === 'completed' && batch.metadata?.[KEYS.pass] === '1' && batch.metadata.retry_of === undefined;

/** The first request body of a JSONL file, or null. */
async function firstBody(path: string): Promise<ChatCompletionBody | null> {
  for await (const line of readLines(path)) {
    if (!line.bytes || line.bytes.length === 0) continue;
    const parsed: unknown = JSON.parse(line.bytes.toString('utf8'));
    return isObject(parsed) && isObject(parsed.body) ? (parsed.body as ChatCompletionBody) : null;
  }
  return null;
}

export class CascadeLinker {
  /** Pass 1 ids whose pass 2 is being made: 'changed' fires more than once per batch. */
  private readonly linking = new Map<string, Promise<void>>();

  constructor(
    private readonly service: BatchService,
    private readonly log: (level: 'info' | 'warn', message: string) => void,
  ) {}

  /** Links what a previous daemon left unlinked, then every pass 1 as it completes. */
  start(): void {
    this.service.on('changed', (batch) => {
      if (isCompletedPassOne(batch)) void this.link(batch.id);
    });
    for (const batch of this.service.allBatches()) if (isCompletedPassOne(batch)) void this.link(batch.id);
  }

  /** Resolves once every link in progress is made (for a clean stop). */
  async idle(): Promise<void> {
    await Promise.all(this.linking.values());
  }

  /** The pass 2 of a pass 1, if it has been created. */
  passTwoOf(passOneId: string): Batch | undefined {
    return passTwoIn(this.service.allBatches(), passOneId);
  }

  private link(id: string): Promise<void> {
    let linking = this.linking.get(id);
    if (!linking) {
      linking = this.createPassTwo(id)
        .catch((error: unknown) =>
          this.log('warn', `${id}: could not create the cascade's second pass: ${(error as Error).message}`),
        )
        .finally(() => this.linking.delete(id));
      this.linking.set(id, linking);
    }
    return linking;
  }

  private async createPassTwo(id: string): Promise<void> {
    if (this.passTwoOf(id)) return;
    const passOne = this.service.getBatch(id);
    const metadata = passOne.metadata!;
    const rule = parseShortlist(metadata[KEYS.shortlist] ?? '');
    const field = metadata[KEYS.scoreField] ?? 'score';
    const full = this.service.getFile(metadata[KEYS.fullInputFileId] ?? '');
    const scoreSchema = answerSchema((await firstBody(this.service.getFile(passOne.input_file_id).path)) ?? {});
    const shortlist = await selectShortlist({
      output: this.service.getFile(passOne.output_file_id!).path,
      rule,
      field,
      schema: scoreSchema ?? {},
      total: passOne.request_counts.total,
    });
    // The full requests of the shortlisted rows, in the full file's order.
    const file = this.service.newFilePath();
    const out = createWriteStream(file.path, { mode: 0o600 });
    let bytes = 0;
    for await (const line of readLines(full.path)) {
      if (!line.bytes || line.bytes.length === 0) continue;
      const customId = (JSON.parse(line.bytes.toString('utf8')) as { custom_id: string }).custom_id;
      if (!shortlist.has(customId)) continue;
      bytes += line.bytes.length + 1;
      if (!out.write(Buffer.concat([line.bytes, NEWLINE]))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    await this.service.addFile({ ...file, bytes, filename: `${id}_shortlist.jsonl`, purpose: 'batch' });
    // Checked again after the awaits: the one place pass 2 is created.
    if (this.passTwoOf(id)) return;
    const kept = Object.fromEntries(Object.entries(metadata).filter(([key]) => key !== KEYS.fullInputFileId));
    // An empty shortlist still makes a pass 2 (it fails validation as empty_file): the link is recorded either way.
    const passTwo = await this.service.createBatch({
      input_file_id: file.id,
      endpoint: passOne.endpoint,
      completion_window: passOne.completion_window,
      metadata: { ...kept, [KEYS.pass]: '2', [KEYS.of]: id },
    });
    this.log(
      'info',
      `${id}: cascade pass 2 is ${passTwo.id}, ${shortlist.size} rows shortlisted (${metadata[KEYS.shortlist]})`,
    );
  }
}
