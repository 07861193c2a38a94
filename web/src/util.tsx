// Small helpers shared by the pages: loading data, formatting, status labels.
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { Alert, Label } from '@patternfly/react-core';
import CheckCircleIcon from '@patternfly/react-icons/dist/esm/icons/check-circle-icon';
import ExclamationCircleIcon from '@patternfly/react-icons/dist/esm/icons/exclamation-circle-icon';
import PauseCircleIcon from '@patternfly/react-icons/dist/esm/icons/pause-circle-icon';
import InProgressIcon from '@patternfly/react-icons/dist/esm/icons/in-progress-icon';
import { ApiError } from './api';

// Loads data with fn, and again on reload(); keeps the last data while reloading so a live
// refresh does not flash the table empty.
export function useAsync<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const gen = useRef(0);
  const reload = useCallback(() => {
    const mine = ++gen.current;
    const ctl = new AbortController();
    setLoading(true);
    fnRef.current(ctl.signal).then(
      (d) => {
        if (mine !== gen.current) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== gen.current || (e as Error).name === 'AbortError') return;
        setError(errorText(e));
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, []);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => reload(), deps);
  return { data, error, loading, reload, setData };
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function ErrorAlert({ error, title = 'The operation failed' }: { error: string | null; title?: string }) {
  if (!error) return null;
  return (
    <Alert variant="danger" isInline title={title} role="alert">
      {error}
    </Alert>
  );
}

// Times. The engine sends UTC (ISO 8601); the console shows them in the browser's time zone:
// how long ago (or how soon) as the text, the full local date and time with its zone on hover,
// in a <time> element that carries the exact value. <Time> is the one way a time is shown.

// The local date and time, as the browser's locale writes it ("8 Dec 2026, 14:02:05").
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString();
}

// The full local value with its time zone ("Tuesday, 8 December 2026 at 14:02:05 CET"): what a
// time shows on hover, so that no one has to guess the zone.
export function formatTimeFull(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    weekday: 'long', year: 'numeric', month: 'long', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
  });
}

export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  // A time ahead of this browser's clock (a checkpoint set for later, clocks apart).
  if (s < -5) {
    const a = -s;
    if (a < 60) return `in ${a} s`;
    if (a < 3600) return `in ${Math.floor(a / 60)} min`;
    if (a < 86400) return `in ${Math.floor(a / 3600)} h`;
    return `in ${Math.floor(a / 86400)} d`;
  }
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// One clock for every <Time> on the page, ticking every 15 s, so "3 min ago" stays true.
let nowValue = Date.now();
const nowListeners = new Set<() => void>();
let nowTimer: ReturnType<typeof setInterval> | undefined;
function subscribeNow(l: () => void) {
  nowListeners.add(l);
  if (!nowTimer) {
    nowTimer = setInterval(() => {
      nowValue = Date.now();
      for (const x of nowListeners) x();
    }, 15000);
  }
  return () => {
    nowListeners.delete(l);
    if (nowListeners.size === 0 && nowTimer) {
      clearInterval(nowTimer);
      nowTimer = undefined;
    }
  };
}
export function useNow(): number {
  return useSyncExternalStore(subscribeNow, () => nowValue);
}

// A time from the engine. `show`: "ago" (default: "3 min ago"), "local" (the local date and
// time, for lists read by date such as events), or "both" ("3 min ago (8 Dec 2026, 14:02:05)").
// Hovering shows the other form and the full local value with its zone. `empty`: what a
// missing time reads as.
export function Time({ iso, show = 'ago', empty = '\u2014', prefix }: {
  iso: string | null | undefined; show?: 'ago' | 'local' | 'both'; empty?: string; prefix?: string;
}) {
  useNow(); // renders again as the clock ticks
  if (!iso) return <>{empty}</>;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return <>{iso}</>;
  const ago = formatAgo(iso);
  const local = formatTime(iso);
  const full = formatTimeFull(iso);
  const text = show === 'local' ? local : show === 'both' ? `${ago} (${local})` : ago;
  const title = show === 'local' ? `${full} (${ago})` : full;
  return (
    <time dateTime={d.toISOString()} title={title}>
      {prefix}
      {text}
    </time>
  );
}

// Nanoseconds since the epoch (as the verify report writes a modification time) as an ISO time
// and its sub-second digits: JavaScript's Date keeps milliseconds only.
function nanosToParts(ns: string): { iso: string; fraction: string } | null {
  if (!/^\d{1,20}$/.test(ns)) return null;
  const n = BigInt(ns);
  const ms = Number(n / 1000000n);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return null;
  return { iso: d.toISOString(), fraction: (n % 1000000000n).toString().padStart(9, '0') };
}

const TIME_IN_TEXT = /(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))|\b(\d{16,20}) ns\b/g;

// A message written by the engine, with the times in it shown in local time: an ISO 8601 time
// ("...at 2026-12-08T00:55:46.920Z") as a <time> in the browser's zone, and a time in
// nanoseconds since the epoch ("modified at 1796550263384010813 ns") as a local date and time
// with its nanoseconds. The exact value stays on hover.
export function TimeText({ text }: { text: string | null | undefined }) {
  if (!text) return null;
  const out: React.ReactNode[] = [];
  let last = 0;
  for (const m of text.matchAll(TIME_IN_TEXT)) {
    const at = m.index ?? 0;
    if (at > last) out.push(text.slice(last, at));
    if (m[1]) {
      const d = new Date(m[1]);
      out.push(Number.isNaN(d.getTime()) ? m[0] : (
        <time key={at} dateTime={d.toISOString()} title={`${formatTimeFull(m[1])} (${m[1]} UTC)`}>{formatTime(m[1])}</time>
      ));
    } else {
      const p = nanosToParts(m[2]);
      if (!p) out.push(m[0]);
      else {
        const local = formatTime(p.iso);
        out.push(
          <time key={at} dateTime={p.iso} title={`${formatTimeFull(p.iso)}; ${m[2]} ns since the epoch`}>
            {local} (+0.{p.fraction} s)
          </time>,
        );
      }
    }
    last = at + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return <>{out}</>;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

// A "last synced" time: how long ago, or a dash where it is not known (null) -- the same in a
// session's header and its node rows.
export function formatSynced(iso: string | null | undefined, now = Date.now()): string {
  return iso ? formatAgo(iso, now) : '\u2014';
}

// Bytes applied per second; a dash where it is not known (null), never a made-up 0.
export function formatRate(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined) return '\u2014';
  return `${formatBytes(bytesPerSecond)}/s`;
}

export function formatLag(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${Math.round(seconds / 60)} min`;
}

const STATUS_COLOR: Record<string, 'green' | 'red' | 'orange' | 'blue' | 'grey' | 'gold' | 'cyan'> = {
  Active: 'green', Connected: 'green', Up: 'green', Started: 'green', Passive: 'cyan',
  Faulty: 'red', Broken: 'red', Down: 'red', Unreachable: 'red',
  Initializing: 'blue', Created: 'grey', Stopped: 'grey', Paused: 'gold', Unknown: 'grey',
};

// A status as a PatternFly label; the status word itself is always shown (never colour alone).
export function StatusLabel({ status, title }: { status: string; title?: string }) {
  const word = status ? status.charAt(0).toUpperCase() + status.slice(1) : 'Unknown';
  const color = STATUS_COLOR[word] ?? 'grey';
  const icon =
    color === 'green' ? <CheckCircleIcon /> : color === 'red' ? <ExclamationCircleIcon /> :
    color === 'gold' ? <PauseCircleIcon /> : color === 'blue' ? <InProgressIcon /> : undefined;
  return (
    <Label color={color} icon={icon} title={title}>
      {word}
    </Label>
  );
}
