// The typed client of the todo service's HTTP contract (`shared/todo-api.md`): one function per
// endpoint, every failure an `ApiError`.

export type Role = 'owner' | 'editor' | 'viewer';
export type MemberRole = Exclude<Role, 'owner'>;

export interface TodoList {
  id: string;
  name: string;
  role: Role;
  created_at: string;
}

export interface Todo {
  id: string;
  title: string;
  done: boolean;
  version: number;
  created_at: string;
  updated_at: string;
  created_by: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Member {
  email: string;
  role: Role;
}

export interface Usage {
  requests: number;
  read_units: number;
  write_units: number;
  compute_ms: number;
}

export type ActivityType =
  | 'todo.created'
  | 'todo.updated'
  | 'todo.completed'
  | 'todo.deleted'
  | 'member.added'
  | 'member.removed';

export interface Activity {
  /** The event id (not in the contract's table, but sent). */
  id?: string;
  type: ActivityType | string;
  /** The todo's id, for todo events. */
  todo: string | null;
  /** The member's email, for member events (sent by the service, optional). */
  member?: string;
  actor: string;
  at: string;
}

export interface Me {
  sub: string;
  email: string | null;
}

/** A failed call: the HTTP status (0 when the service could not be reached), the contract's
 * error code and its message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function fallbackCode(status: number): string {
  switch (status) {
    case 401:
      return 'unauthenticated';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 412:
      return 'precondition_failed';
    default:
      return `http_${status}`;
  }
}

/** Maps a non-2xx answer to an `ApiError`: the contract's `{"error":{"code","message"}}` when the
 * body is that, otherwise (a proxy's HTML page, plain text, nothing) a message from the status. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const status = response.status;
  let text = '';
  try {
    text = await response.text();
  } catch {
    // An unreadable body: the status alone.
  }
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null && 'error' in body) {
      const error = (body as { error: unknown }).error;
      if (typeof error === 'object' && error !== null) {
        const { code, message } = error as { code?: unknown; message?: unknown };
        if (typeof code === 'string' || typeof message === 'string') {
          return new ApiError(
            status,
            typeof code === 'string' ? code : fallbackCode(status),
            typeof message === 'string' && message !== '' ? message : describeStatus(response),
          );
        }
      }
    }
    // API Gateway's own answers: {"message":"Unauthorized"}.
    if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') {
      return new ApiError(status, fallbackCode(status), (body as { message: string }).message);
    }
  } catch {
    // Not JSON.
  }
  const plain = text.trim();
  const isShortText = plain !== '' && plain.length <= 200 && !plain.startsWith('<');
  return new ApiError(status, fallbackCode(status), isShortText ? plain : describeStatus(response));
}

function describeStatus(response: Response): string {
  const reason = response.statusText || REASONS[response.status] || 'Error';
  return `the service answered ${response.status} ${reason}`;
}

export interface ApiOptions {
  /** The API's origin without a trailing slash; `''` for this page's. */
  baseUrl: string;
  /** The bearer token, or null when signed out. */
  getToken: () => string | null;
  /** Called on every 401, before the error is thrown. */
  onUnauthorized?: (error: ApiError) => void;
  fetch?: typeof fetch;
}

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  auth?: boolean;
}

const seg = encodeURIComponent;

export function createApi(options: ApiOptions) {
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.auth !== false) {
      const token = options.getToken();
      if (token) headers.Authorization = `Bearer ${token}`;
    }
    let response: Response;
    try {
      response = await doFetch(options.baseUrl + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
    } catch {
      throw new ApiError(0, 'network_error', 'the service could not be reached; check your connection');
    }
    if (!response.ok) {
      const error = await errorFromResponse(response);
      if (response.status === 401 && opts.auth !== false) options.onUnauthorized?.(error);
      throw error;
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(response.status, 'invalid_response', 'the service sent an answer that is not JSON');
    }
  }

  function query(params: Record<string, string | number | undefined | null>): string {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
    }
    const text = search.toString();
    return text ? `?${text}` : '';
  }

  const list = (id: string) => `/lists/${seg(id)}`;

  return {
    health: () => request<{ status: string }>('GET', '/health', { auth: false }),
    devToken: (email: string) => request<{ id_token: string }>('POST', '/dev/token', { body: { email }, auth: false }),
    me: () => request<Me>('GET', '/me'),

    listLists: (cursor?: string | null) => request<Page<TodoList>>('GET', `/lists${query({ cursor })}`),
    createList: (name: string) => request<TodoList>('POST', '/lists', { body: { name } }),
    getList: (id: string) => request<TodoList>('GET', list(id)),
    renameList: (id: string, name: string) => request<TodoList>('PATCH', list(id), { body: { name } }),
    deleteList: (id: string) => request<void>('DELETE', list(id)),

    listTodos: (listId: string, page: { limit?: number; cursor?: string | null } = {}) =>
      request<Page<Todo>>('GET', `${list(listId)}/todos${query(page)}`),
    getTodo: (listId: string, todoId: string) => request<Todo>('GET', `${list(listId)}/todos/${seg(todoId)}`),
    addTodo: (listId: string, title: string) => request<Todo>('POST', `${list(listId)}/todos`, { body: { title } }),
    /** With `version`, the change applies only to that version (`If-Match`; 412 otherwise). */
    updateTodo: (listId: string, todoId: string, patch: { title?: string; done?: boolean }, version?: number) =>
      request<Todo>('PATCH', `${list(listId)}/todos/${seg(todoId)}`, {
        body: patch,
        headers: version === undefined ? {} : { 'If-Match': String(version) },
      }),
    deleteTodo: (listId: string, todoId: string) => request<void>('DELETE', `${list(listId)}/todos/${seg(todoId)}`),

    listMembers: (listId: string) => request<{ items: Member[] }>('GET', `${list(listId)}/members`),
    putMember: (listId: string, email: string, role: MemberRole) =>
      request<Member>('PUT', `${list(listId)}/members/${seg(email)}`, { body: { role } }),
    removeMember: (listId: string, email: string) => request<void>('DELETE', `${list(listId)}/members/${seg(email)}`),

    usage: (listId: string) => request<Usage>('GET', `${list(listId)}/usage`),
    activity: (listId: string) => request<{ items: Activity[] }>('GET', `${list(listId)}/activity`),
  };
}

export type Api = ReturnType<typeof createApi>;
