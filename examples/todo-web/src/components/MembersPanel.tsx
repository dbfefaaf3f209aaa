import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { Api, Member, MemberRole, TodoList } from '../api';
import type { ListErrorHandler } from '../useTodos';
import { useNotices } from '../notices';
import { RoleBadge } from './RoleBadge';

interface Props {
  api: Api;
  list: TodoList;
  onError: ListErrorHandler;
}

const ORDER = { owner: 0, editor: 1, viewer: 2 } as const;

export function MembersPanel({ api, list, onError }: Props) {
  const { notify } = useNotices();
  const [members, setMembers] = useState<Member[] | null>(null);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<MemberRole>('editor');
  const [busy, setBusy] = useState(false);
  const isOwner = list.role === 'owner';

  const load = useCallback(async () => {
    try {
      const { items } = await api.listMembers(list.id);
      setMembers([...items].sort((a, b) => ORDER[a.role] - ORDER[b.role] || a.email.localeCompare(b.email)));
    } catch (error) {
      onError(error, 'Could not load the members');
    }
  }, [api, list.id, onError]);

  useEffect(() => {
    void load();
  }, [load]);

  const act = async (action: () => Promise<unknown>, lead: string) => {
    setBusy(true);
    try {
      await action();
      await load();
      return true;
    } catch (error) {
      // A member someone else removed meanwhile: show the members as they are now.
      onError(error, lead, () => void load());
      return false;
    } finally {
      setBusy(false);
    }
  };

  const share = async (event: FormEvent) => {
    event.preventDefault();
    const who = email.trim();
    const ok = await act(() => api.putMember(list.id, who, role), `Could not share the list with ${who}`);
    if (ok) {
      setEmail('');
      notify(`Shared “${list.name}” with ${who} as ${role}.`, 'info');
    }
  };

  return (
    <section className="panel" aria-labelledby="members-title">
      <h3 id="members-title">Members</h3>
      {members === null ? (
        <p className="muted small">Loading…</p>
      ) : (
        <ul className="members" aria-label="Members">
          {members.map((m) => (
            <li key={m.email}>
              <span className="member-email" title={m.email}>
                {m.email}
              </span>
              {isOwner && m.role !== 'owner' ? (
                <span className="row-actions">
                  <label htmlFor={`role-${m.email}`} className="visually-hidden">
                    Role of {m.email}
                  </label>
                  <select
                    id={`role-${m.email}`}
                    value={m.role}
                    disabled={busy}
                    onChange={(e) =>
                      void act(
                        () => api.putMember(list.id, m.email, e.target.value as MemberRole),
                        `Could not change the role of ${m.email}`,
                      )
                    }
                  >
                    <option value="editor">editor</option>
                    <option value="viewer">viewer</option>
                  </select>
                  <button
                    type="button"
                    className="danger-ghost small"
                    aria-label={`Remove ${m.email}`}
                    disabled={busy}
                    onClick={() => void act(() => api.removeMember(list.id, m.email), `Could not remove ${m.email}`)}
                  >
                    Remove
                  </button>
                </span>
              ) : (
                <RoleBadge role={m.role} />
              )}
            </li>
          ))}
        </ul>
      )}
      {isOwner && (
        <form className="share-form" onSubmit={share}>
          <label htmlFor="share-email">Share by email</label>
          <div className="inline-form">
            <input
              id="share-email"
              type="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              placeholder="name@example.com"
              required
            />
            <label htmlFor="share-role" className="visually-hidden">
              Role
            </label>
            <select id="share-role" value={role} onChange={(e) => setRole(e.target.value as MemberRole)}>
              <option value="editor">editor</option>
              <option value="viewer">viewer</option>
            </select>
            <button type="submit" className="primary" disabled={busy || email.trim() === ''}>
              Share
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
