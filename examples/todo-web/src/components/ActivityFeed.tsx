import { useRef, useState, type RefObject } from 'react';
import type { Activity, Api } from '../api';
import type { ListErrorHandler } from '../useTodos';
import { usePolling } from '../hooks';

interface Props {
  api: Api;
  listId: string;
  me: string | null;
  /** Todo titles by id, to name the todo of each entry. */
  titles: RefObject<Map<string, string>>;
  onError: ListErrorHandler;
  /** Called when new entries show a change by someone else, so the todos can be reloaded. */
  onOthersChanged: () => void;
}

export const ACTIVITY_INTERVAL_MS = 3000;

const VERBS: Record<string, string> = {
  'todo.created': 'added',
  'todo.updated': 'edited',
  'todo.completed': 'completed',
  'todo.deleted': 'deleted',
};

function keyOf(item: Activity): string {
  return item.id ?? `${item.at}|${item.type}|${item.todo ?? item.member ?? ''}|${item.actor}`;
}

function describe(item: Activity, titles: Map<string, string>): string {
  if (item.type === 'member.added') return `shared the list with ${item.member ?? 'someone'}`;
  if (item.type === 'member.removed') return `removed ${item.member ?? 'a member'}`;
  const title = item.todo ? titles.get(item.todo) : undefined;
  const what = title ? `“${title}”` : 'a todo';
  return `${VERBS[item.type] ?? item.type} ${what}`;
}

/** "just now", "40 s ago", "5 min ago", or the time of day. */
export function ago(at: string, now = Date.now()): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return at;
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 10) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function ActivityFeed({ api, listId, me, titles, onError, onOthersChanged }: Props) {
  const [items, setItems] = useState<Activity[] | null>(null);
  const seen = useRef<Set<string> | null>(null);

  usePolling(async () => {
    try {
      const { items: fresh } = await api.activity(listId);
      const before = seen.current;
      seen.current = new Set(fresh.map(keyOf));
      if (before && fresh.some((item) => !before.has(keyOf(item)) && item.actor !== me && item.type.startsWith('todo.'))) {
        onOthersChanged();
      }
      setItems(fresh);
    } catch (error) {
      onError(error, 'Could not load the activity');
    }
  }, ACTIVITY_INTERVAL_MS);

  return (
    <section className="panel" aria-labelledby="activity-title">
      <h3 id="activity-title">Activity</h3>
      {items === null ? (
        <p className="muted small">Loading…</p>
      ) : items.length === 0 ? (
        <p className="muted small">No activity yet. Changes show here a few seconds after they happen.</p>
      ) : (
        <ol className="activity" aria-label="Activity">
          {items.map((item) => (
            <li key={keyOf(item)}>
              <span>
                <strong>{item.actor === me ? 'You' : item.actor}</strong> {describe(item, titles.current)}
              </span>
              <time dateTime={item.at} title={new Date(item.at).toLocaleString()} className="muted small">
                {ago(item.at)}
              </time>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
