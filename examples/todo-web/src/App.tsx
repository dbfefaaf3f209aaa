import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { createApi } from './api';
import { clearSession, completeCognitoSignIn, isExpired, loadSession, signOut, type Session } from './auth';
import { loadConfig, type Config } from './config';
import { Shell } from './components/Shell';
import { SignIn } from './components/SignIn';
import { NoticeProvider } from './notices';

export const SESSION_ENDED = 'Your session has ended; sign in again.';

interface Boot {
  config: Config;
  session: Session | null;
  note: string | null;
}

// Once per page load (StrictMode runs effects twice; a Hosted UI code is good for one exchange).
let booting: Promise<Boot> | null = null;

function boot(): Promise<Boot> {
  booting ??= (async () => {
    const config = await loadConfig();
    let note: string | null = null;
    let session: Session | null = null;
    if (config.auth.type === 'cognito') {
      try {
        session = await completeCognitoSignIn(config.auth);
      } catch (error) {
        note = `Could not sign you in: ${error instanceof Error ? error.message : String(error)}.`;
      }
    }
    return { config, session: session ?? loadSession(), note };
  })();
  return booting;
}

export function App() {
  const [config, setConfig] = useState<Config | null>(null);
  const [fatal, setFatal] = useState<string | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const sessionRef = useRef<Session | null>(null);
  sessionRef.current = session;

  useEffect(() => {
    boot().then(
      (b) => {
        setConfig(b.config);
        setSession(b.session);
        setNote(b.note);
      },
      (error: unknown) => setFatal(error instanceof Error ? error.message : String(error)),
    );
  }, []);

  const endSession = useCallback((why: string | null) => {
    clearSession();
    sessionRef.current = null;
    setSession(null);
    setNote(why);
  }, []);

  // A token past its `exp` is signed out, whether or not a call notices.
  useEffect(() => {
    if (session?.exp == null) return;
    // (setTimeout's delay is at most 2^31-1 ms: a later expiry is checked again then.)
    const delay = Math.min(2 ** 31 - 1, Math.max(0, session.exp * 1000 - Date.now()));
    const timer = setTimeout(() => (isExpired(session) ? endSession(SESSION_ENDED) : setSession({ ...session })), delay);
    return () => clearTimeout(timer);
  }, [session, endSession]);

  const api = useMemo(
    () =>
      config &&
      createApi({
        baseUrl: config.apiUrl,
        getToken: () => {
          const current = sessionRef.current;
          return current && !isExpired(current) ? current.token : null;
        },
        onUnauthorized: () => {
          if (sessionRef.current) endSession(SESSION_ENDED);
        },
      }),
    [config, endSession],
  );

  if (fatal) {
    return (
      <main className="center">
        <div className="card" role="alert">
          <h1>Todo</h1>
          <p>The app could not start: {fatal}</p>
        </div>
      </main>
    );
  }
  if (!config || !api) {
    return (
      <main className="center" aria-busy="true">
        <p className="muted">Loading…</p>
      </main>
    );
  }
  return (
    <NoticeProvider key={session ? 'in' : 'out'}>
      {session ? (
        <Shell
          api={api}
          session={session}
          onSignOut={() => {
            signOut(config);
            endSession(null);
          }}
        />
      ) : (
        <SignIn
          api={api}
          config={config}
          note={note}
          onSignedIn={(s) => {
            setNote(null);
            setSession(s);
          }}
        />
      )}
    </NoticeProvider>
  );
}
