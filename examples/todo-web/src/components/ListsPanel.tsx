import { useState, type FormEvent } from 'react';
import type { Api, TodoList } from '../api';
import { listHref } from '../hooks';
import { useNotices } from '../notices';
import { RoleBadge } from './RoleBadge';
import type { ListsState } from './Shell';

interface Props {
  api: Api;
  lists: ListsState;
  openId: string | null;
  onLoadMore: () => void;
  onRefresh: () => void;
  onCreated: (list: TodoList) => void;
}

export function ListsPanel({ api, lists, openId, onLoadMore, onRefresh, onCreated }: Props) {
  const { report } = useNotices();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const list = await api.createList(name);
      setName('');
      onCreated(list);
    } catch (error) {
      report(error, 'Could not create the list');
    } finally {
      setBusy(false);
    }
  };

  return (
    <nav className="sidebar" aria-labelledby="lists-title">
      <div className="section-head">
        <h2 id="lists-title">Your lists</h2>
        <button type="button" className="ghost small" aria-label="Refresh lists" onClick={onRefresh} disabled={lists.loading}>
          Refresh
        </button>
      </div>
      <form className="create-list" onSubmit={create}>
        <label htmlFor="new-list" className="visually-hidden">
          New list name
        </label>
        <input
          id="new-list"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="New list name"
          maxLength={200}
        />
        <button type="submit" className="primary" disabled={busy || name === ''}>
          Create list
        </button>
      </form>
      {lists.items.length === 0 && !lists.loading && <p className="muted small">No lists yet.</p>}
      <ul className="lists" aria-label="Lists">
        {lists.items.map((list) => (
          <li key={list.id}>
            <a href={listHref(list.id)} aria-current={list.id === openId ? 'page' : undefined}>
              <span className="list-name">{list.name}</span>
              <RoleBadge role={list.role} />
            </a>
          </li>
        ))}
      </ul>
      {lists.loading && <p className="muted small">Loading…</p>}
      {lists.nextCursor && !lists.loading && (
        <button type="button" className="ghost wide" onClick={onLoadMore}>
          Load more lists
        </button>
      )}
    </nav>
  );
}
