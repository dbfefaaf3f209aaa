// Everything the stack shares with the Rust service: binary names, environment variable names,
// the table key schema, the Cognito attributes, the event source and the metric names. When the
// service renames one of them, this is the one file to change.

/** The Lambda binaries (`cargo lambda build --release --arm64` writes `<lambdaDir>/<bin>/bootstrap`). */
export const BIN = {
  service: 'todo-lambda',
  preToken: 'todo-pre-token',
  authorizer: 'todo-authorizer',
  activity: 'todo-activity',
} as const;

/** The service's settings (`examples/todo/src/config.rs`). */
export const ENV = {
  issuer: 'TODO_ISSUER',
  audience: 'TODO_AUDIENCE',
  store: 'TODO_STORE',
  table: 'TODO_TABLE',
  registryTable: 'TODO_REGISTRY_TABLE',
  siloPrefix: 'TODO_SILO_PREFIX',
  cursorKey: 'TODO_CURSOR_KEY',
  eventBus: 'TODO_EVENT_BUS',
  listRps: 'TODO_LIST_RPS',
} as const;

/** `TODO_STORE`'s value on AWS. */
export const STORE_DYNAMODB = 'dynamodb';

/**
 * saas-data's key schema (`saas-data/src/item.rs`, `backend/dynamodb`): a string partition key
 * `_pk` and a string sort key `_sk`, on-demand billing, no secondary index. The pool table, the
 * registry (control) table and every silo table the service creates use it.
 */
export const KEY = { partition: '_pk', sort: '_sk' } as const;

/**
 * The custom attributes of the user pool. Each carries what the user must not choose for
 * themselves (a tier picks a silo table and a bill): readable by the app client, never writable.
 */
export const CUSTOM_ATTRIBUTES = {
  /** `custom:tier`: `premium` gives the user's new lists a table of their own. */
  tier: 'tier',
} as const;

/** The EventBridge events of the service (`examples/todo/src/events.rs`). */
export const EVENT_SOURCE = 'todo.service';
export const EVENT_DETAIL_TYPES = [
  'todo.created',
  'todo.updated',
  'todo.completed',
  'todo.deleted',
  'member.added',
  'member.removed',
];

/**
 * The EMF metrics (saas-metrics, `Metrics::builder("TodoApp")?.service("todo")`), as a local run
 * writes them to `.todo-data/metrics.emf`:
 * - per list: `TenantRequests`, `TenantComputeTime` (ms), `TenantReadCapacityUnits`,
 *   `TenantWriteCapacityUnits`, dimensions `[service, tenant_id]`;
 * - per operation: `Invocations`, `ColdStart`, `ClientErrors`, `ServerErrors`, `Duration` (ms),
 *   dimensions `[service, tier, operation]` (`operation` is the route, e.g. `GET /lists/{list}/todos`);
 *   `tenant_id` is only a property there.
 */
export const METRICS = {
  namespace: 'TodoApp',
  service: 'todo',
  /** The per-list dimension (the list is the tenant). */
  tenantDimension: 'tenant_id',
  listDimensions: ['service', 'tenant_id'],
  operationDimensions: ['service', 'tier', 'operation'],
  requests: 'TenantRequests',
  computeTime: 'TenantComputeTime',
  readCapacity: 'TenantReadCapacityUnits',
  writeCapacity: 'TenantWriteCapacityUnits',
  invocations: 'Invocations',
  coldStart: 'ColdStart',
  clientErrors: 'ClientErrors',
  serverErrors: 'ServerErrors',
  duration: 'Duration',
} as const;

/** DynamoDB item actions, split by what they do. No `Scan`: the store never scans. */
export const DYNAMODB_READ = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
];
export const DYNAMODB_WRITE = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
/** What the service needs to create and delete a premium list's silo table (saas-data's provisioner). */
export const DYNAMODB_SILO_ADMIN = [
  'dynamodb:CreateTable',
  'dynamodb:DescribeTable',
  'dynamodb:DeleteTable',
];
