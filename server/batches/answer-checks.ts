// What a run does with answers that break the JSON their request asked for (answer-check.ts
// says which): one more try where the batch allows it (retryBody), and the pilot check, which
// pauses a batch whose first answers break their schema too often (PilotCheck), so that a bad
// rubric or schema shows after minutes, not after a day of answers that are all invalid.
import { answerSchema, checkAnswer, type AnswerCheck } from '../openai/answer-check.js';
import { PILOT_CHECK_PAUSE, type ChatCompletionBody } from '../protocol/openai.js';

/**
 * The check of an answer to a request that asks for JSON (a json_schema or json_object
 * response_format); null for one that asks for text, which no check applies to.
 */
export function checkRequested(body: ChatCompletionBody, content: string): AnswerCheck | null {
  const format = body.response_format?.type;
  if (format !== 'json_schema' && format !== 'json_object') return null;
  return checkAnswer(content, answerSchema(body));
}

/**
 * The temperature a retry samples at where the request asked for 0 (or none: llama.cpp's
 * default is greedy too). Greedy decoding ignores the seed, so a retry at temperature 0 would
 * give the same invalid answer back; 0.7 is a common sampling temperature that keeps close to
 * the model's likeliest answers.
 */
export const RETRY_TEMPERATURE = 0.7;

/** The body of the one retry of an invalid answer: a new sample (the next seed, a temperature above 0). */
export function retryBody(body: ChatCompletionBody): ChatCompletionBody {
  const temperature = body.temperature !== undefined && body.temperature > 0 ? body.temperature : RETRY_TEMPERATURE;
  return { ...body, temperature, ...(body.seed !== undefined && { seed: body.seed + 1 }) };
}

export interface PilotOptions {
  /** Answers (to requests that ask for JSON) the verdict waits for. */
  answers: number;
  /** The share of them that may be invalid; above it the batch pauses. */
  maxInvalidShare: number;
}

export type PilotVerdict =
  | { passed: true; answers: number; invalid: number }
  /** `reason`: the batch's paused_reason, which says what broke and what to do. */
  | { passed: false; answers: number; invalid: number; reason: string };

/** Counts the first answers of a run and gives its verdict once there are enough of them. */
export class PilotCheck {
  private answers = 0;
  private unparseable = 0;
  private readonly reasons = new Map<string, number>();

  constructor(private readonly options: PilotOptions) {}

  /** Counts one checked answer; the verdict with the last answer the check waits for, else null. */
  add(check: AnswerCheck): PilotVerdict | null {
    this.answers++;
    if (!check.valid) {
      if (check.kind === 'unparseable') this.unparseable++;
      else this.reasons.set(check.reason, (this.reasons.get(check.reason) ?? 0) + 1);
    }
    if (this.answers !== this.options.answers) return null;
    const invalid = this.unparseable + [...this.reasons.values()].reduce((sum, count) => sum + count, 0);
    const { answers } = this;
    if (invalid <= answers * this.options.maxInvalidShare) return { passed: true, answers, invalid };
    return { passed: false, answers, invalid, reason: this.reason(invalid) };
  }

  private reason(invalid: number): string {
    const why: string[] = [];
    if (this.unparseable > 0) why.push(`${this.unparseable} not JSON`);
    const [common] = [...this.reasons].sort((a, b) => b[1] - a[1]);
    if (common) why.push(`most often: ${common[0]}`);
    const limit = Math.round(this.options.maxInvalidShare * 100);
    return `${PILOT_CHECK_PAUSE} ${invalid} of ${this.answers} answers break their schema (${why.join('; ')}; at most ${limit}% may): fix the rubric or the schema, then resume or cancel the batch`;
  }
}
