// The one place errors and notes reach the user: an `role="alert"` region at the top of the page.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError } from './api';

export type NoticeKind = 'error' | 'info';

export interface Notice {
  id: number;
  kind: NoticeKind;
  text: string;
  at: number;
}

interface Notices {
  /** Shows an error in words: `lead` says what failed ("Could not add the todo"), the service's
   * message says why. A 401 is not shown here: the API client has already signed the user out. */
  report: (error: unknown, lead: string) => void;
  notify: (text: string, kind?: NoticeKind) => void;
}

const NoticeContext = createContext<Notices | null>(null);

export function useNotices(): Notices {
  const notices = useContext(NoticeContext);
  if (!notices) throw new Error('useNotices outside NoticeProvider');
  return notices;
}

export function describeError(error: unknown, lead: string): string {
  let reason: string;
  if (error instanceof ApiError) reason = error.message;
  else if (error instanceof Error) reason = error.message;
  else reason = String(error);
  reason = reason.trim().replace(/[.]+$/, '');
  return `${lead}: ${reason}.`;
}

let nextId = 1;
const MAX_NOTICES = 4;
/** Notes (not errors) go away by themselves after this long; errors stay until dismissed. */
const INFO_MS = 8000;

export function NoticeProvider({ children }: { children: ReactNode }) {
  const [notices, setNotices] = useState<Notice[]>([]);

  const notify = useCallback((text: string, kind: NoticeKind = 'error') => {
    setNotices((current) => {
      // A poll that keeps failing must not fill the page with the same line.
      if (current.some((n) => n.text === text)) return current;
      return [...current, { id: nextId++, kind, text, at: Date.now() }].slice(-MAX_NOTICES);
    });
  }, []);

  const report = useCallback(
    (error: unknown, lead: string) => {
      if (error instanceof ApiError && error.status === 401) return;
      if (!(error instanceof ApiError)) console.error(error);
      notify(describeError(error, lead), 'error');
    },
    [notify],
  );

  const dismiss = useCallback((id: number) => setNotices((current) => current.filter((n) => n.id !== id)), []);

  useEffect(() => {
    const timers = notices
      .filter((n) => n.kind === 'info')
      .map((n) => setTimeout(() => dismiss(n.id), Math.max(0, n.at + INFO_MS - Date.now())));
    return () => timers.forEach(clearTimeout);
  }, [notices, dismiss]);
  const value = useMemo(() => ({ report, notify }), [report, notify]);

  return (
    <NoticeContext.Provider value={value}>
      <div className="notices" role="alert" aria-live="assertive">
        {notices.map((notice) => (
          <div key={notice.id} className={`notice notice-${notice.kind}`}>
            <p>{notice.text}</p>
            <button type="button" className="icon" aria-label="Dismiss message" onClick={() => dismiss(notice.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
      {children}
    </NoticeContext.Provider>
  );
}
