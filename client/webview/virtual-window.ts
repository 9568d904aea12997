// The results table's windowing: which rows are in view for a scroll position, where to draw
// them, and which pages of rows to ask the extension for. Only those rows are in the DOM, so
// 170,000 rows scroll like 50. Browsers cap an element's height (Chromium at about 33.5M px);
// past MAX_SCROLL_HEIGHT the scroll range is scaled so that its end still reaches the last row.

export const MAX_SCROLL_HEIGHT = 8_000_000;

export interface WindowInput {
  scrollTop: number;
  viewportHeight: number;
  rowHeight: number;
  rowCount: number;
  /** Rows drawn beyond each edge of the viewport, so a fast scroll shows no gap. */
  overscan: number;
}

export interface RowWindow {
  /** The first row drawn. */
  first: number;
  /** One past the last row drawn. */
  end: number;
  /** Where, from the top of the scroll content, the first drawn row goes (negative: above it). */
  offset: number;
  /** The scroll content's height. */
  height: number;
}

export function visibleWindow({ scrollTop, viewportHeight, rowHeight, rowCount, overscan }: WindowInput): RowWindow {
  const fullHeight = rowCount * rowHeight;
  const height = Math.min(fullHeight, MAX_SCROLL_HEIGHT);
  // Scroll positions map onto the full height so that both ends line up: 1 below the cap.
  const ratio = height > viewportHeight ? (fullHeight - viewportHeight) / (height - viewportHeight) : 1;
  const scrolled = Math.max(0, Math.min(scrollTop, height - viewportHeight));
  const top = scrolled * ratio;
  const firstVisible = Math.floor(top / rowHeight);
  const first = Math.max(0, firstVisible - overscan);
  const end = Math.min(rowCount, Math.ceil((top + viewportHeight) / rowHeight) + overscan);
  // Each row sits where it would without scaling, relative to the viewport (overscan rows may lie above the top).
  return { first, end, offset: scrolled - (top - first * rowHeight), height };
}

/** The pages (of `pageSize` rows) that hold rows first..end-1. */
export function pagesOf(first: number, end: number, pageSize: number): number[] {
  const pages: number[] = [];
  for (let page = Math.floor(first / pageSize); page * pageSize < end; page++) pages.push(page);
  return pages;
}
