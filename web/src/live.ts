// Live updates: GET /api/v1/stream, a server-sent event stream read with fetch() so the
// token goes in the Authorization header (EventSource cannot send headers). Reconnects with
// back-off while the page is open.
//
// Event types: "session" (a session with its nodes, whenever it changed), "session_removed"
// ({id}), "destination", "destination_removed" ({id}), "audit" (a new audit event).
import { useEffect, useRef, useState } from 'react';
import { token } from './api';

type Listener = (type: string, data: unknown) => void;
export type LiveState = 'connecting' | 'live' | 'offline';

const listeners = new Set<Listener>();
const stateListeners = new Set<(s: LiveState) => void>();
let state: LiveState = 'connecting';
let controller: AbortController | null = null;
let started = false;

function setState(s: LiveState) {
  state = s;
  for (const l of stateListeners) l(s);
}

function dispatch(type: string, raw: string) {
  let data: unknown = raw;
  try {
    data = JSON.parse(raw);
  } catch {
    /* plain text */
  }
  for (const l of listeners) l(type, data);
}

async function runOnce(signal: AbortSignal) {
  const t = token();
  if (!t) throw new Error('not logged in');
  const res = await fetch('/api/v1/stream', {
    headers: { Authorization: `Bearer ${t}`, Accept: 'text/event-stream' },
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
  setState('live');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let type = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) dispatch(type, data.join('\n'));
    }
  }
}

export function startLive() {
  if (started) return;
  started = true;
  controller = new AbortController();
  const signal = controller.signal;
  (async () => {
    let delay = 1000;
    while (!signal.aborted) {
      try {
        setState('connecting');
        await runOnce(signal);
        delay = 1000;
      } catch {
        if (signal.aborted) break;
      }
      setState('offline');
      // Anything may have changed while the stream was down: tell pages to reload.
      dispatch('resync', '{}');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  })();
}

export function stopLive() {
  controller?.abort();
  controller = null;
  started = false;
  setState('offline');
}

// Calls fn for every live event of the given types (and on "resync").
export function useLiveEvents(types: string[], fn: (type: string, data: unknown) => void) {
  const ref = useRef(fn);
  ref.current = fn;
  const key = types.join(',');
  useEffect(() => {
    const wanted = new Set(key.split(','));
    const l: Listener = (type, data) => {
      if (wanted.has(type) || type === 'resync') ref.current(type, data);
    };
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, [key]);
}

export function useLiveState(): LiveState {
  const [s, set] = useState<LiveState>(state);
  useEffect(() => {
    stateListeners.add(set);
    return () => {
      stateListeners.delete(set);
    };
  }, []);
  return s;
}

// Reloads every `ms` while live updates are down (reconnecting or offline), so a page stays
// current either way.
export function usePollWhileOffline(reload: () => void, ms = 5000) {
  const live = useLiveState();
  useEffect(() => {
    if (live === 'live') return;
    const t = setInterval(reload, ms);
    return () => clearInterval(t);
  }, [live, reload, ms]);
}
