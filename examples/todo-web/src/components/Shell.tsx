import { useCallback, useEffect, useState } from 'react';
import type { Api, TodoList } from '../api';
import type { Session } from '../auth';
import { useHashRoute } from '../hooks';
import { useNotices } from '../notices';
import { ListView } from './ListView';
import { ListsPanel } from './ListsPanel';

interface Props {
  api: Api;
  session: Session;
  onSignOut: () => void;
}

export interface ListsState {
  items: TodoList[];
  nextCursor: string | null;
  loading: boolean;
}

/** The signed-in page: who, the lists, the open list. */
export function Shell({ api, session, onSignOut }: Props) {
  const { report, notify } = useNotices();
  const [email, setEmail] = useState<string | null>(session.email);
  const [lists, setLists] = useState<ListsState>({ items: [], nextCursor: null, loading: true });
  const [openId, navigate] = useHashRoute();

  useEffect(() => {
    api.me().then(
      (me) => setEmail(me.email ?? me.sub),
      (error: unknown) => report(error, 'Could not load your account'),
    );
  }, [api, report]);

  const loadLists = useCallback(
    async (cursor: string | null) => {
      setLists((s) => ({ ...s, loading: true }));
      try {
        const page = await api.listLists(cursor);
        setLists((s) => {
          const items = cursor ? s.items : [];
          const seen = new Set(items.map((l) => l.id));
          return { items: [...items, ...page.items.filter((l) => !seen.has(l.id))], nextCursor: page.next_cursor, loading: false };
        });
      } catch (error) {
        setLists((s) => ({ ...s, loading: false }));
        report(error, 'Could not load your lists');
      }
    },
    [api, report],
  );

  useEffect(() => {
    void loadLists(null);
  }, [loadLists]);

  const upsert = useCallback((list: TodoList) => {
    setLists((s) => {
      const known = s.items.some((l) => l.id === list.id);
      return { ...s, items: known ? s.items.map((l) => (l.id === list.id ? list : l)) : [list, ...s.items] };
    });
  }, []);

  const drop = useCallback((id: string) => {
    setLists((s) => ({ ...s, items: s.items.filter((l) => l.id !== id) }));
  }, []);

  const onGone = useCallback(
    (id: string, name: string | null) => {
      drop(id);
      navigate(null);
      notify(
        `${name ? `“${name}”` : 'That list'} is no longer available: it was deleted, or your access to it was removed.`,
        'info',
      );
    },
    [drop, navigate, notify],
  );

  const open = lists.items.find((l) => l.id === openId) ?? null;

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">✓</span> Todo
        </div>
        <div className="account">
          <span className="muted">Signed in as</span> <strong data-testid="signed-in-as">{email ?? '…'}</strong>
          <button type="button" className="ghost" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <div className="layout">
        <ListsPanel
          api={api}
          lists={lists}
          openId={openId}
          onLoadMore={() => void loadLists(lists.nextCursor)}
          onRefresh={() => void loadLists(null)}
          onCreated={(list) => {
            upsert(list);
            navigate(list.id);
          }}
        />
        <main className="content">
          {openId ? (
            <ListView
              key={openId}
              api={api}
              listId={openId}
              known={open}
              me={email}
              onChanged={upsert}
              onDeleted={(list) => {
                drop(list.id);
                navigate(null);
                notify(`Deleted “${list.name}”.`, 'info');
              }}
              onGone={onGone}
            />
          ) : (
            <div className="empty-state">
              <h2>{lists.items.length ? 'Pick a list' : 'Welcome'}</h2>
              <p className="muted">
                {lists.items.length
                  ? 'Open a list on the left to see its todos, members and activity.'
                  : 'Create your first list on the left; you can share it with others by email.'}
              </p>
            </div>
          )}
        </main>
      </div>
    </div>
  );
}
