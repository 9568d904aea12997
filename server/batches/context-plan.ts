// A batch's context facts: while validating, each request is measured (our estimate of its
// prompt, its output budget); before the run, the model's calibration is checked (once per
// model, on the batch's longest request). run-planner.ts chooses the batch's num_ctx from them.
import { outputTokensOf, PromptCounter } from '../context/budget.js';
import type { Calibration } from '../context/calibration.js';
import { calibrationProbeNumCtx } from '../context/num-ctx.js';
import type { Engine } from '../engines/engine.js';
import { toChatRequest } from '../engines/translate.js';
import { readLines } from '../jsonl/lines.js';
import type { BatchInputLine, ChatCompletionBody } from '../protocol/openai.js';
import type { MeasuredRequests } from '../store/store.js';

/** Measures every request validation passes on. */
export class RequestMeasure {
  readonly counter = new PromptCounter();
  readonly measured: MeasuredRequests = { longestPrompt: 0, longestLine: 0, longestOutput: 0 };

  readonly onRequest = (body: ChatCompletionBody, line: number): void => {
    const prompt = this.counter.messages(body.messages);
    if (prompt > this.measured.longestPrompt)
      Object.assign(this.measured, { longestPrompt: prompt, longestLine: line });
    this.measured.longestOutput = Math.max(this.measured.longestOutput, outputTokensOf(body));
  };
}

async function requestAt(path: string, lineNumber: number): Promise<BatchInputLine | null> {
  for await (const line of readLines(path)) {
    if (line.number === lineNumber)
      return line.bytes ? (JSON.parse(line.bytes.toString('utf8')) as BatchInputLine) : null;
  }
  return null;
}

/**
 * Teaches an uncalibrated model's calibration its tokenizer: the engine counts the batch's
 * longest prompt (one short answer). A failure leaves the safety margin in place.
 */
export async function calibrateOn(
  engine: Engine,
  /** The name the engine serves the batch's model under. */
  model: string,
  inputPath: string,
  measured: MeasuredRequests,
  calibration: Calibration,
  signal: AbortSignal,
): Promise<string | null> {
  if (calibration.calibrated || measured.longestLine === 0) return null;
  const request = await requestAt(inputPath, measured.longestLine);
  if (!request) return null;
  try {
    // Room for a tokenizer much wordier than ours, so that the count is rarely a cut prompt.
    const counted = await engine.countPromptTokens(
      toChatRequest(request.body, calibrationProbeNumCtx(measured.longestPrompt), model),
      signal,
    );
    calibration.observe(measured.longestPrompt, counted);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}
