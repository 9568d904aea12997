// The AnalysisReport as the results webview shows it: histograms of the numeric answer fields,
// counts of the enum ones (the decisions), and the top and bottom rows.
import { isObject } from '../../server/common/is-object.js';
import { cascadeText, expectedText, leftOutText, partialText, scoreText } from '../../server/display/analysis-text.js';
import type { AnalysisReport, TopRow } from '../../server/protocol/jobs.js';
import type { EnumView, HistogramView, ReportView, RowDetail, TopRowView } from '../webview/messages.js';
import { textOf } from '../../server/common/text-of.js';

const topRow = (row: TopRow): TopRowView => ({ customId: row.custom_id, value: scoreText(row), reason: row.reason });

export function reportView(report: AnalysisReport, title: string): ReportView {
  const histograms: HistogramView[] = [];
  const enums: EnumView[] = [];
  for (const [field, summary] of Object.entries(report.answers.fields)) {
    if (summary.type === 'number') {
      const { stats } = summary;
      histograms.push({
        field,
        bins: stats?.histogram ?? [],
        stats: stats && { mean: stats.mean, p50: stats.p50, p95: stats.p95 },
        leftOut: leftOutText(summary),
      });
    } else if (summary.type === 'enum') {
      enums.push({
        field,
        counts: Object.entries(summary.counts).map(([value, count]) => ({ value, count })),
      });
    }
  }
  return {
    title,
    lines: report.lines,
    succeeded: report.succeeded,
    failed: report.failed,
    failuresByCode: Object.entries(report.failures_by_code)
      .map(([code, count]) => ({ code, count }))
      .sort((a, b) => b.count - a.count),
    valid: {
      label: report.answers.schema ? 'Schema-valid' : 'Parsed (no schema to check)',
      count: report.answers.valid,
      total: report.succeeded + report.failed,
    },
    partial: partialText(report),
    cascade: cascadeText(report),
    invalid: report.answers.invalid.count,
    invalidReasons: Object.entries(report.answers.invalid.reasons).map(([reason, count]) => ({ reason, count })),
    unparseable: report.answers.unparseable.count,
    repaired: report.answers.repaired,
    tokens: report.tokens,
    latency: report.latency_ms && {
      p50: report.latency_ms.p50,
      p95: report.latency_ms.p95,
      p99: report.latency_ms.p99,
    },
    histograms,
    enums,
    sortBy: report.sort_by,
    top: report.top.map(topRow),
    bottom: report.bottom.map(topRow),
    expectedNote: expectedText(report),
    uncertain: report.expected_scores?.most_uncertain.map(topRow) ?? [],
    csvPath: report.csv?.path ?? null,
  };
}

/** A message's content as text: a string, or the text parts of a list. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content.map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : '')).join('');
  return '';
}

/** JSON answers pretty-printed, other text as it is. */
function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * The table's columns in the order shown, as indexes into the scored CSV's: the id column first
 * (frozen), then the columns the join added (the answer's fields, the expected score where
 * there is one, status, error), then the source's own.
 */
export function shownColumns(columns: readonly string[], idColumn: string | null, added: readonly string[]): number[] {
  const first = [idColumn, ...added].filter((name): name is string => name !== null && columns.includes(name));
  const firstIndexes = [...new Set(first.map((name) => columns.indexOf(name)))];
  return [...firstIndexes, ...[...columns.keys()].filter((index) => !firstIndexes.includes(index))];
}

/** A row's request line and result line (output or error), and its row of the scored CSV, as the detail pane shows them. */
export function rowDetail(
  customId: string,
  request: unknown,
  result: unknown,
  row: RowDetail['row'] = null,
): RowDetail {
  const body = isObject(request) && isObject(request.body) ? request.body : null;
  const messages =
    body && Array.isArray(body.messages)
      ? body.messages
          .filter(isObject)
          .map((message) => ({ role: String(message.role), content: contentText(message.content) }))
      : null;
  let answer: string | null = null;
  let error: string | null = null;
  if (isObject(result)) {
    const response = isObject(result.response) ? result.response : null;
    const responseBody = response && isObject(response.body) ? response.body : null;
    const choice =
      responseBody && Array.isArray(responseBody.choices) && isObject(responseBody.choices[0])
        ? responseBody.choices[0]
        : null;
    if (choice && isObject(choice.message)) answer = pretty(contentText(choice.message.content));
    const failure = isObject(result.error)
      ? result.error
      : responseBody && isObject(responseBody.error)
        ? responseBody.error
        : null;
    if (failure) error = `${textOf(failure.code ?? 'error')}: ${textOf(failure.message ?? '')}`;
  }
  return { customId, messages, answer, error, row };
}
