import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, type Api, type Todo } from './api';
import { useNotices } from './notices';

export const PAGE_SIZE = 20;

/** Shows an error of a list's call; on a 404, closes the list if it is the list that is gone, or
 * calls `onlyItemMissing` (when given) if it is only the todo or member. */
export type ListErrorHandler = (error: unknown, lead: string, onlyItemMissing?: () => void) => void;

/** A list's todos, page by page, and the changes to them (`If-Match` on every change). */
export function useTodos(api: Api, listId: string, onError: ListErrorHandler, enabled: boolean) {
  const { notify } = useNotices();
  const [items, setItems] = useState<Todo[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loaded, setLoaded] = useState(false);
  const count = useRef(0);
  count.current = items.length;
  /** Every title seen, so the activity feed can name a todo that was deleted since. */
  const titles = useRef(new Map<string, string>());

  const remember = (todos: Todo[]) => todos.forEach((t) => titles.current.set(t.id, t.title));

  const replace = useCallback((todo: Todo) => {
    remember([todo]);
    setItems((current) => current.map((t) => (t.id === todo.id ? todo : t)));
  }, []);

  const removeLocal = useCallback((id: string) => setItems((current) => current.filter((t) => t.id !== id)), []);

  /** The first page again, as many as are shown (so a refresh does not fold the list). */
  const refresh = useCallback(async () => {
    setLoading(true);
    try {
      const limit = Math.min(100, Math.max(PAGE_SIZE, count.current));
      const page = await api.listTodos(listId, { limit });
      remember(page.items);
      setItems((current) => {
        // An answer that raced a local change keeps the newer version.
        const local = new Map(current.map((t) => [t.id, t]));
        return page.items.map((t) => {
          const mine = local.get(t.id);
          return mine && mine.version > t.version ? mine : t;
        });
      });
      setNextCursor(page.next_cursor);
      setLoaded(true);
    } catch (error) {
      onError(error, 'Could not load the todos');
    } finally {
      setLoading(false);
    }
  }, [api, listId, onError]);

  useEffect(() => {
    if (enabled) void refresh();
  }, [enabled, refresh]);

  const loadMore = async () => {
    if (!nextCursor) return;
    setLoading(true);
    try {
      const page = await api.listTodos(listId, { limit: PAGE_SIZE, cursor: nextCursor });
      remember(page.items);
      setItems((current) => {
        const seen = new Set(current.map((t) => t.id));
        return [...current, ...page.items.filter((t) => !seen.has(t.id))];
      });
      setNextCursor(page.next_cursor);
    } catch (error) {
      onError(error, 'Could not load more todos');
    } finally {
      setLoading(false);
    }
  };

  const add = async (title: string): Promise<boolean> => {
    try {
      const todo = await api.addTodo(listId, title);
      remember([todo]);
      setItems((current) => (current.some((t) => t.id === todo.id) ? current : [...current, todo]));
      return true;
    } catch (error) {
      onError(error, 'Could not add the todo');
      return false;
    }
  };

  /** A change at the version shown; a 412 means someone changed it first: say so, and reload it. */
  const change = async (todo: Todo, patch: { title?: string; done?: boolean }, lead: string): Promise<boolean> => {
    try {
      replace(await api.updateTodo(listId, todo.id, patch, todo.version));
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        notify(`“${todo.title}” was changed elsewhere in the meantime, so it has been reloaded; check it and try again.`, 'info');
        await reload(todo);
      } else {
        onError(error, lead, vanished(todo));
      }
      return false;
    }
  };

  /** The todo is gone (deleted by someone else): off the page, with a word why. */
  const vanished = (todo: Todo) => () => {
    removeLocal(todo.id);
    notify(`“${todo.title}” was deleted elsewhere.`, 'info');
  };

  const reload = async (todo: Todo) => {
    try {
      replace(await api.getTodo(listId, todo.id));
    } catch (error) {
      onError(error, `Could not reload “${todo.title}”`, vanished(todo));
    }
  };

  const toggle = (todo: Todo) => change(todo, { done: !todo.done }, `Could not update “${todo.title}”`);
  const rename = (todo: Todo, title: string) => change(todo, { title }, `Could not rename “${todo.title}”`);

  const remove = async (todo: Todo) => {
    try {
      await api.deleteTodo(listId, todo.id);
      removeLocal(todo.id);
    } catch (error) {
      onError(error, `Could not delete “${todo.title}”`, () => removeLocal(todo.id));
    }
  };

  return { items, nextCursor, loading, loaded, titles, refresh, loadMore, add, toggle, rename, remove };
}

export type Todos = ReturnType<typeof useTodos>;
