// The deployment's options, read from CDK context (`-c name=value` or `cdk.json`).

import * as path from 'node:path';

export type AuthorizerKind = 'jwt' | 'lambda';
export type DataRemoval = 'retain' | 'destroy';

export interface TodoOptions {
  /** `cargo lambda build --release --arm64`'s output: `<lambdaDir>/<bin>/bootstrap`. */
  readonly lambdaDir: string;
  /** The web client's build (`examples/todo-web/dist`), with an `index.html`. */
  readonly webDir: string;
  /** API Gateway's JWT authorizer (default), or the `todo-authorizer` Lambda. */
  readonly authorizer: AuthorizerKind;
  /** Deploy the service Lambda from the container image (`examples/todo/Dockerfile`) instead of the zip. */
  readonly image: boolean;
  /** The workspace root: the image's build context. */
  readonly repoRoot: string;
  /** Requests per second allowed per list (`TODO_LIST_RPS`); none is no quota. */
  readonly listRps?: number;
  /** What `cdk destroy` does to the tables, the user pool and the logs (default: keep them). */
  readonly removal: DataRemoval;
  /** The premium lists' table names start with this (`TODO_SILO_PREFIX`); default `<stack>-list-`. */
  readonly siloPrefix?: string;
  /** The Hosted UI's domain prefix (globally unique per region); default `<stack>-<account>`. */
  readonly domainPrefix?: string;
  /** An extra origin allowed by CORS and as a sign-in callback, e.g. `http://localhost:5173`. */
  readonly devOrigin?: string;
}

/** Reads the options; relative paths are taken from `baseDir` (the CDK app's directory). */
export function optionsFromContext(
  get: (key: string) => unknown,
  baseDir: string = process.cwd(),
): TodoOptions {
  const str = (key: string): string | undefined => {
    const v = get(key);
    if (v === undefined || v === null || v === '') return undefined;
    return String(v);
  };
  const bool = (key: string): boolean => {
    const v = str(key);
    if (v === undefined) return false;
    if (['true', '1', 'yes'].includes(v.toLowerCase())) return true;
    if (['false', '0', 'no'].includes(v.toLowerCase())) return false;
    throw new Error(`context ${key}=${v}: expected true or false`);
  };
  const authorizer = str('authorizer') ?? 'jwt';
  if (authorizer !== 'jwt' && authorizer !== 'lambda') {
    throw new Error(`context authorizer=${authorizer}: expected jwt or lambda`);
  }
  const removal = str('removal') ?? 'retain';
  if (removal !== 'retain' && removal !== 'destroy') {
    throw new Error(`context removal=${removal}: expected retain or destroy`);
  }
  let listRps: number | undefined;
  const rps = str('listRps');
  if (rps !== undefined) {
    listRps = Number(rps);
    if (!Number.isInteger(listRps) || listRps <= 0) {
      throw new Error(`context listRps=${rps}: expected a positive whole number`);
    }
  }
  const dir = (key: string, fallback: string) => path.resolve(baseDir, str(key) ?? fallback);
  return {
    lambdaDir: dir('lambdaDir', '../../target/lambda'),
    webDir: dir('webDir', '../todo-web/dist'),
    repoRoot: dir('repoRoot', '../..'),
    authorizer,
    image: bool('image'),
    listRps,
    removal,
    siloPrefix: str('siloPrefix'),
    domainPrefix: str('domainPrefix'),
    devOrigin: str('devOrigin'),
  };
}
