// One row per figure: what it should be, what it was, the baseline of the same run, and the ratio.

export interface Figure {
  figure: string;
  target: string;
  measured: number;
  unit: string;
  baseline: number;
  /** What the baseline is. */
  baselineLabel: string;
  /** measured / baseline (for the growth figure: the figure itself). */
  ratio: number;
  /** Null for a figure printed for scale, with no target. */
  ok: boolean | null;
}

export function figureTable(figures: readonly Figure[]): string {
  const rows = [
    '| figure | target | measured | baseline | ratio | ok |',
    '|---|---|---:|---:|---:|:---:|',
    ...figures.map(
      (figure) =>
        `| ${figure.figure} | ${figure.target} | ${figure.measured} ${figure.unit} | ${figure.baseline} ${figure.unit} (${figure.baselineLabel}) | ` +
        `${figure.ratio} | ${figure.ok === null ? '—' : figure.ok ? 'yes' : 'NO'} |`,
    ),
  ];
  return rows.join('\n');
}
