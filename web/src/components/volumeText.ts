// How a volume's bricks and usage read in tables and headers.
import type { Host, Volume } from '../api';
import { formatBytes } from '../util';

export function brickText(v: Volume, hosts: Host[] | undefined): string[] {
  return v.bricks.map((b) => `${hosts?.find((h) => h.id === b.host_id)?.name ?? b.host_id}:${b.path}`);
}

export function usageText(v: Volume): string {
  if (!v.size_bytes) return '—';
  const pct = Math.round((v.used_bytes / v.size_bytes) * 100);
  return `${formatBytes(v.used_bytes)} of ${formatBytes(v.size_bytes)} (${pct}%)`;
}
