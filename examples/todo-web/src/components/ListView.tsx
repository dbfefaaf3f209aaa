import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, type Api, type TodoList } from '../api';
import { useNotices } from '../notices';
import { useTodos, type ListErrorHandler } from '../useTodos';
import { ActivityFeed } from './ActivityFeed';
import { MembersPanel } from './MembersPanel';
import { RoleBadge } from './RoleBadge';
import { TodoSection } from './TodoSection';
import { UsagePanel } from './UsagePanel';

interface Props {
  api: Api;
  listId: string;
  /** The list as the lists panel knows it, shown until the list's own answer arrives. */
  known: TodoList | null;
  me: string | null;
  onChanged: (list: TodoList) => void;
  onDeleted: (list: TodoList) => void;
  onGone: (id: string, name: string | null) => void;
}

const ROLE_LINE = {
  owner: 'You own this list.',
  editor: 'Shared with you: you can add and change todos.',
  viewer: 'Shared with you to read only.',
} as const;

export function ListView({ api, listId, known, me, onChanged, onDeleted, onGone }: Props) {
  const { report } = useNotices();
  const [list, setList] = useState<TodoList | null>(known);
  const name = useRef<string | null>(known?.name ?? null);
  name.current = list?.name ?? name.current;
  const gone = useRef(false);

  const close = useCallback(() => {
    if (gone.current) return;
    gone.current = true;
    onGone(listId, name.current);
  }, [listId, onGone]);

  /** Every error of this list's calls. A 404 is the list (deleted, or access revoked) or only a
   * todo or member in it: the list's own read tells which. */
  const onError: ListErrorHandler = useCallback(
    (error, lead, onlyItemMissing) => {
      if (gone.current) return;
      if (!(error instanceof ApiError && error.status === 404)) {
        report(error, lead);
        return;
      }
      api.getList(listId).then(
        () => (onlyItemMissing ? onlyItemMissing() : report(error, lead)),
        (probe: unknown) => (probe instanceof ApiError && probe.status === 404 ? close() : report(error, lead)),
      );
    },
    [api, listId, report, close],
  );

  useEffect(() => {
    api.getList(listId).then(
      (fresh) => {
        setList(fresh);
        onChanged(fresh);
      },
      (error: unknown) => (error instanceof ApiError && error.status === 404 ? close() : report(error, 'Could not open the list')),
    );
  }, [api, listId, onChanged, close, report]);

  const todos = useTodos(api, listId, onError, true);

  if (!list) {
    return (
      <p className="muted" aria-busy="true">
        Opening the list…
      </p>
    );
  }
  const isOwner = list.role === 'owner';
  const canEdit = list.role !== 'viewer';

  return (
    <article className="list-view" aria-labelledby="list-title">
      <ListHeader
        api={api}
        list={list}
        onRenamed={(renamed) => {
          setList(renamed);
          onChanged(renamed);
        }}
        onDeleted={() => {
          gone.current = true;
          onDeleted(list);
        }}
        onError={onError}
      />
      <div className="list-grid">
        <TodoSection todos={todos} canEdit={canEdit} me={me} />
        <aside className="side" aria-label="About this list">
          <MembersPanel api={api} list={list} onError={onError} />
          {isOwner && <UsagePanel api={api} listId={list.id} onError={onError} />}
          <ActivityFeed api={api} listId={list.id} me={me} titles={todos.titles} onError={onError} onOthersChanged={todos.refresh} />
        </aside>
      </div>
    </article>
  );
}

interface HeaderProps {
  api: Api;
  list: TodoList;
  onRenamed: (list: TodoList) => void;
  onDeleted: () => void;
  onError: ListErrorHandler;
}

function ListHeader({ api, list, onRenamed, onDeleted, onError }: HeaderProps) {
  const [mode, setMode] = useState<'view' | 'rename' | 'confirm-delete'>('view');
  const [draft, setDraft] = useState(list.name);
  const [busy, setBusy] = useState(false);
  const isOwner = list.role === 'owner';

  const rename = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      onRenamed(await api.renameList(list.id, draft));
      setMode('view');
    } catch (error) {
      onError(error, 'Could not rename the list');
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    try {
      await api.deleteList(list.id);
      onDeleted();
    } catch (error) {
      onError(error, 'Could not delete the list');
      setBusy(false);
    }
  };

  return (
    <header className="list-head">
      {mode === 'rename' ? (
        <form className="inline-form grow" onSubmit={rename}>
          <label htmlFor="rename-list" className="visually-hidden">
            List name
          </label>
          <input id="rename-list" value={draft} onChange={(e) => setDraft(e.target.value)} maxLength={200} autoFocus />
          <button type="submit" className="primary" disabled={busy || draft === ''}>
            Save name
          </button>
          <button type="button" className="ghost" onClick={() => setMode('view')}>
            Cancel
          </button>
        </form>
      ) : (
        <div className="grow">
          <h2 id="list-title">
            {list.name} <RoleBadge role={list.role} />
          </h2>
          <p className="muted small">{ROLE_LINE[list.role]}</p>
        </div>
      )}
      {isOwner && mode === 'view' && (
        <div className="actions">
          <button
            type="button"
            className="ghost"
            onClick={() => {
              setDraft(list.name);
              setMode('rename');
            }}
          >
            Rename list
          </button>
          <button type="button" className="danger-ghost" onClick={() => setMode('confirm-delete')}>
            Delete list
          </button>
        </div>
      )}
      {isOwner && mode === 'confirm-delete' && (
        <div className="confirm" role="group" aria-label="Confirm deletion">
          <span>Delete “{list.name}” with all its todos?</span>
          <button type="button" className="danger" onClick={remove} disabled={busy}>
            Delete for good
          </button>
          <button type="button" className="ghost" onClick={() => setMode('view')}>
            Cancel
          </button>
        </div>
      )}
    </header>
  );
}
