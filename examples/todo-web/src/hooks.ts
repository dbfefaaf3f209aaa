import { useCallback, useEffect, useRef, useState } from 'react';

/** Calls `tick` now and then every `ms` while mounted and `enabled`, one call at a time. */
export function usePolling(tick: () => Promise<void>, ms: number, enabled = true): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        await latest.current();
      } finally {
        if (!stopped) timer = setTimeout(run, ms);
      }
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [ms, enabled]);
}

/** The list id of the address's hash route, `#/lists/{id}`, or null. */
export function parseHash(hash: string): string | null {
  const match = /^#\/lists\/([^/?#]+)/.exec(hash);
  if (!match?.[1]) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

export function listHref(id: string): string {
  return `#/lists/${encodeURIComponent(id)}`;
}

export function useHashRoute(): [string | null, (id: string | null) => void] {
  const [id, setId] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setId(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const navigate = useCallback((next: string | null) => {
    if (next === null) {
      window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}`);
      setId(null);
    } else {
      window.location.hash = listHref(next).slice(1);
    }
  }, []);
  return [id, navigate];
}
