// Numbers as people read them, for the extension and its webviews alike (so this module imports nothing).

/** en-US grouping everywhere, as the CLI prints: "170,000". */
export const formatCount = (value: number): string => value.toLocaleString('en-US');

/** A span as people say it: "45s", "12m", "3h 20m", "11h", "2d 5h". */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total}s`;
  const minutes = Math.round(total / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 10) return minutes % 60 === 0 ? `${hours}h` : `${hours}h ${minutes % 60}m`;
  if (hours < 48) return `${Math.round(minutes / 60)}h`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days}d` : `${days}d ${hours % 24}h`;
}

/** Two significant digits below 10, then whole numbers: "0.25", "3.9", "42". */
export function formatRate(perSecond: number): string {
  if (perSecond < 1) return perSecond.toFixed(2);
  if (perSecond < 10) return perSecond.toFixed(1);
  return String(Math.round(perSecond));
}

/** A share as a percentage: "37%", "<1%". */
export function formatShare(share: number): string {
  const percent = Math.round(share * 100);
  return percent === 0 && share > 0 ? '<1%' : `${percent}%`;
}
