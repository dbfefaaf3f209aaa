import { useState, type FormEvent } from 'react';
import type { Api } from '../api';
import { beginCognitoSignIn, saveSession, type Session } from '../auth';
import type { Config } from '../config';
import { useNotices } from '../notices';

interface Props {
  api: Api;
  config: Config;
  /** Why the user is here again ("Your session has ended; sign in again."), if they were signed out. */
  note: string | null;
  onSignedIn: (session: Session) => void;
}

export function SignIn({ api, config, note, onSignedIn }: Props) {
  const { report, notify } = useNotices();
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);

  const devSignIn = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const { id_token } = await api.devToken(email.trim());
      onSignedIn(saveSession(id_token));
    } catch (error) {
      report(error, 'Could not sign you in');
      setBusy(false);
    }
  };

  const cognitoSignIn = async () => {
    if (config.auth.type !== 'cognito') return;
    setBusy(true);
    try {
      await beginCognitoSignIn(config.auth);
    } catch (error) {
      notify(`Could not open the sign-in page: ${error instanceof Error ? error.message : String(error)}.`);
      setBusy(false);
    }
  };

  return (
    <main className="center">
      <section className="card signin" aria-labelledby="signin-title">
        <div className="brand brand-large">
          <span className="logo" aria-hidden="true">✓</span> Todo
        </div>
        <h1 id="signin-title">Sign in</h1>
        {note && (
          <p className="note" role="alert">
            {note}
          </p>
        )}
        {config.auth.type === 'cognito' ? (
          <>
            <p className="muted">Your lists, shared with the people you choose.</p>
            <button type="button" className="primary wide" onClick={cognitoSignIn} disabled={busy}>
              Sign in
            </button>
          </>
        ) : (
          <form onSubmit={devSignIn}>
            <label htmlFor="signin-email">Email</label>
            <input
              id="signin-email"
              type="email"
              autoComplete="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              placeholder="you@example.com"
            />
            <button type="submit" className="primary wide" disabled={busy || email.trim() === ''}>
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
            <p className="muted small">
              Development sign-in: the local service issues a token for any email address.
            </p>
          </form>
        )}
      </section>
    </main>
  );
}
