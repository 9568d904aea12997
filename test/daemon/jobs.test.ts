// Conversion and analysis through the daemon, as the extension asks for them: the same modules
// as the CLI, with what the daemon learned filled in (the model's pace for the ETA) and a batch's
// own files found by its id.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as protocol from '../../server/protocol/methods.js';
import { tempDir } from '../support/batch-files.js';
import { isFinished, startDaemonProcess, submit, waitForBatch, type DaemonProcess } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

describe('conversion and analysis in the daemon', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess;
  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, parallel: 4, models: ['tiny'] });
    // Every instant answer breaks the schema below on purpose: the pilot check would pause the batch.
    const noPilot = ['--pilot-answers', '0'];
    daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url, '--concurrency', '4', ...noPilot]);
  });
  after(async () => {
    await daemon.stop();
    await emulator.close();
  });

  it('converts a CSV, learns the pace from its batch, estimates the next with an ETA, and analyses by batch id', async () => {
    const dir = tempDir();
    const csv = join(dir, 'people.csv');
    const rows = Array.from(
      { length: 60 },
      (_, index) => `p${index + 1};Person ${index + 1};${index % 2 ? 'Go' : 'Rust'}`,
    );
    writeFileSync(csv, ['id;name;skills', ...rows, 'p9;Duplicate;Go'].join('\n'));
    // The instant answers' score, 50, is outside this schema's range: the analysis must read the schema from the batch input.
    const schema = {
      type: 'object',
      properties: { score: { type: 'integer', minimum: 0, maximum: 40 } },
      required: ['score'],
    };
    const params = {
      input: csv,
      output: join(dir, 'people.jsonl'),
      model: 'tiny',
      template: '{{name}} knows {{skills}}',
      idColumn: 'id',
      numCtx: 4096,
      maxTokens: 32,
      schema,
    };

    await assert.rejects(
      daemon.connection.sendRequest(protocol.CsvConvertRequest.type, params),
      /the id "p9" \(column "id"\) is on line 10 and on line 62/,
      'a duplicate id is refused with both lines',
    );
    writeFileSync(csv, ['id;name;skills', ...rows].join('\n'));
    const first = await daemon.connection.sendRequest(protocol.CsvConvertRequest.type, params);
    assert.equal(first.lines_written, 60);
    assert.equal(first.delimiter, ';');
    assert.equal(first.estimate.eta_seconds, null, 'no pace known for this model yet');

    const created = await submit(daemon.connection, params.output);
    const batch = await waitForBatch(daemon.connection, created.id, isFinished);
    assert.equal(batch.status, 'completed');

    const second = await daemon.connection.sendRequest(protocol.CsvConvertRequest.type, {
      ...params,
      output: join(dir, 'again.jsonl'),
    });
    assert.ok(second.estimate.requests_per_second! > 0, 'the pace of the first batch is known');
    assert.equal(
      second.estimate.eta_seconds,
      Math.round(60 / second.estimate.requests_per_second!),
      'and gives an ETA',
    );
    assert.equal(second.estimate.calibration, 'learned');
    assert.deepEqual([second.estimate.num_ctx, second.estimate.num_ctx_source], [4096, 'setting']);

    // A num_ctx above the model's own limit (the emulator's model: 8192) is not what the run gets: the estimate says so.
    const capped = await daemon.connection.sendRequest(protocol.CsvConvertRequest.type, {
      ...params,
      output: undefined,
      numCtx: 32_768,
    });
    assert.deepEqual([capped.estimate.num_ctx, capped.estimate.num_ctx_source], [8192, 'model limit']);

    const analysis = await daemon.connection.sendRequest(protocol.ResultsAnalyzeRequest.type, {
      batch_id: batch.id,
      source: csv,
      csv: join(dir, 'scored.csv'),
    });
    assert.equal(analysis.succeeded, 60);
    assert.equal(analysis.answers.parsed, 60, 'the instant answers are JSON');
    assert.deepEqual([analysis.answers.schema, analysis.answers.valid], [true, 0]);
    assert.deepEqual(analysis.answers.invalid.reasons, { 'score must be <= 40': 60 });
    // The schema's field is summarised all the same, with no valid number.
    assert.deepEqual(analysis.answers.fields.score, {
      type: 'number',
      stats: null,
      not_number: 0,
      range: { minimum: 0, maximum: 40 },
    });
    assert.equal(analysis.partial, null, 'the batch has ended');
    assert.equal(analysis.csv?.rows, 60);
    assert.equal(readFileSync(join(dir, 'scored.csv'), 'utf8').trim().split('\n').length, 61);
    await assert.rejects(
      daemon.connection.sendRequest(protocol.ResultsAnalyzeRequest.type, {}),
      /name the output file/,
    );
  });
});
