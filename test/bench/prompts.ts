// The shared system prompt of the engine benchmark: a fixed scoring rubric (byte-identical in
// every request, so the engine can serve it from the KV cache), with the variable data last.

const CRITERIA = [
  'relevant experience with the tools and the domain named in the role',
  'clear evidence of results that can be measured, not only duties that were held',
  'communication that is short, precise and free of filler words',
  'growth over time: larger scope, harder problems, more trust from others',
  'depth in one area together with enough breadth to work with other teams',
  'signs of care for quality: tests, reviews, documentation and follow-up',
  'ownership of problems from the first report to the final fix',
  'fit with the level of the role: neither far below nor far above it',
];

/** A rubric of roughly `paragraphs` × 75 tokens for the tiny model's tokenizer. */
export function rubric(paragraphs = 8): string {
  const parts = ['You are a careful reviewer. Score the candidate profile from 0 to 100 against the rubric below.'];
  for (let index = 0; index < paragraphs; index++) {
    const criterion = CRITERIA[index % CRITERIA.length]!;
    parts.push(
      `Rule ${index + 1}: look for ${criterion}. Give more points when the profile shows this with a concrete example, ` +
        `fewer points when it is only claimed, and no points when it is missing. Do not guess what is not written.`,
    );
  }
  parts.push('Answer with one short sentence and the score. Be fair, be brief, and never repeat the profile.');
  return parts.join('\n');
}

/** The varying user part of request `index`. */
export function profile(index: number): string {
  return `Profile ${index}: engineer with ${3 + (index % 9)} years of work on data tools, led ${index % 5} projects, writes clear notes.`;
}
