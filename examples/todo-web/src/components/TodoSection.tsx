import { useState, type FormEvent } from 'react';
import type { Todo } from '../api';
import type { Todos } from '../useTodos';

interface Props {
  todos: Todos;
  canEdit: boolean;
  me: string | null;
}

export function TodoSection({ todos, canEdit, me }: Props) {
  const [title, setTitle] = useState('');
  const [busy, setBusy] = useState(false);
  const open = todos.items.filter((t) => !t.done).length;

  const add = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    if (await todos.add(title)) setTitle('');
    setBusy(false);
  };

  return (
    <section className="panel todos" aria-labelledby="todos-title">
      <div className="section-head">
        <h3 id="todos-title">Todos</h3>
        <span className="muted small" aria-live="polite">
          {todos.loaded ? `${open} open · ${todos.items.length - open} done${todos.nextCursor ? ' · more to load' : ''}` : ''}
        </span>
        <button
          type="button"
          className="ghost small"
          aria-label="Refresh todos"
          onClick={() => void todos.refresh()}
          disabled={todos.loading}
        >
          Refresh
        </button>
      </div>
      {canEdit && (
        <form className="inline-form" onSubmit={add}>
          <label htmlFor="new-todo" className="visually-hidden">
            New todo
          </label>
          <input
            id="new-todo"
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            placeholder="What needs doing?"
            maxLength={500}
          />
          <button type="submit" className="primary" disabled={busy || title === ''}>
            Add todo
          </button>
        </form>
      )}
      {todos.loaded && todos.items.length === 0 && (
        <p className="muted empty">{canEdit ? 'Nothing to do yet. Add the first todo above.' : 'This list is empty.'}</p>
      )}
      <ul className="todo-list" aria-label="Todos">
        {todos.items.map((todo) => (
          <TodoItem key={todo.id} todo={todo} canEdit={canEdit} me={me} todos={todos} />
        ))}
      </ul>
      {!todos.loaded && todos.loading && <p className="muted">Loading todos…</p>}
      {todos.nextCursor && (
        <button type="button" className="ghost wide" onClick={() => void todos.loadMore()} disabled={todos.loading}>
          Load more
        </button>
      )}
    </section>
  );
}

interface ItemProps {
  todo: Todo;
  canEdit: boolean;
  me: string | null;
  todos: Todos;
}

function TodoItem({ todo, canEdit, me, todos }: ItemProps) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(todo.title);
  const [busy, setBusy] = useState(false);
  const checkboxId = `todo-${todo.id}`;

  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await action();
    } finally {
      setBusy(false);
    }
  };

  const save = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      if (draft === todo.title || (await todos.rename(todo, draft))) setEditing(false);
    });
  };

  if (editing) {
    return (
      <li className="todo editing">
        <form className="inline-form grow" onSubmit={save}>
          <label htmlFor={`${checkboxId}-title`} className="visually-hidden">
            Title of “{todo.title}”
          </label>
          <input
            id={`${checkboxId}-title`}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            maxLength={500}
            autoFocus
            onKeyDown={(e) => e.key === 'Escape' && setEditing(false)}
          />
          <button type="submit" className="primary" disabled={busy || draft === ''}>
            Save
          </button>
          <button type="button" className="ghost" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      </li>
    );
  }

  return (
    <li className={`todo${todo.done ? ' done' : ''}`}>
      <input
        id={checkboxId}
        type="checkbox"
        checked={todo.done}
        disabled={!canEdit || busy}
        onChange={() => void run(() => todos.toggle(todo))}
      />
      <label htmlFor={checkboxId} className="todo-title">
        {todo.title}
      </label>
      {todo.created_by && todo.created_by !== me && <span className="by small muted">{todo.created_by}</span>}
      {canEdit && (
        <span className="row-actions">
          <button
            type="button"
            className="ghost small"
            aria-label={`Edit ${todo.title}`}
            onClick={() => {
              setDraft(todo.title);
              setEditing(true);
            }}
          >
            Edit
          </button>
          <button
            type="button"
            className="danger-ghost small"
            aria-label={`Delete ${todo.title}`}
            disabled={busy}
            onClick={() => void run(() => todos.remove(todo))}
          >
            Delete
          </button>
        </span>
      )}
    </li>
  );
}
