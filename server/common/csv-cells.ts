// A CSV cell as written for a spreadsheet: quoted per RFC 4180, and neutralised against formula
// injection. Shared by the daemon's joined CSVs and the results panel's export of its shown rows.

/** A number written as text, as JSON or a CSV cell holds it. */
export const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** OWASP's rule against formula injection: a cell that a spreadsheet would read as a formula
 *  (starting with = + - @, tab or CR) gets a leading ', except a plain number such as -3. */
export function neutralise(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) && !NUMBER.test(cell) ? `'${cell}` : cell;
}

/** RFC 4180 quoting, with the given delimiter. */
export function quote(cell: string, delimiter: string): string {
  return cell.includes('"') || cell.includes(delimiter) || cell.includes('\n') || cell.includes('\r')
    ? `"${cell.replaceAll('"', '""')}"`
    : cell;
}
