// Small helpers shared by the pages: loading data, formatting, status labels.
import { useCallback, useEffect, useRef, useState } from 'react';
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

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString();
}

export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
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
