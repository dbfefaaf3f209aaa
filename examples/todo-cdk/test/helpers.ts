// Synthesises the stack with placeholder build outputs: no cargo-lambda, no web build, no AWS.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

import { optionsFromContext } from '../lib/options';
import { BIN } from '../lib/settings';
import { TodoStack } from '../lib/todo-stack';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'todo-cdk-test-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

/** `<lambdaDir>/<bin>/bootstrap` for every binary, as `cargo lambda build` lays them out. */
export const lambdaDir = path.join(root, 'lambda');
for (const bin of Object.values(BIN)) {
  fs.mkdirSync(path.join(lambdaDir, bin), { recursive: true });
  fs.writeFileSync(path.join(lambdaDir, bin, 'bootstrap'), '#!/bin/sh\necho placeholder\n', { mode: 0o755 });
}

/** A web build: an index.html. */
export const webDir = path.join(root, 'web');
fs.mkdirSync(webDir, { recursive: true });
fs.writeFileSync(path.join(webDir, 'index.html'), '<!doctype html><title>todo</title>\n');

/** An image build context: the Dockerfile and .dockerignore, without the workspace's sources. */
export const repoRoot = path.join(root, 'repo');
fs.mkdirSync(path.join(repoRoot, 'examples/todo'), { recursive: true });
const workspace = path.resolve(__dirname, '../../..');
fs.copyFileSync(path.join(workspace, 'examples/todo/Dockerfile'), path.join(repoRoot, 'examples/todo/Dockerfile'));
fs.copyFileSync(path.join(workspace, '.dockerignore'), path.join(repoRoot, '.dockerignore'));

/** The app's own feature flags, as `cdk synth` reads them from cdk.json. */
const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

export interface Synth {
  stack: TodoStack;
  template: Template;
  /** The cloud assembly's directory (staged assets). */
  outdir: string;
}

const cache = new Map<string, Synth>();

/** The stack synthesised with these context values (on top of cdk.json's and the placeholders). */
export function synth(context: Record<string, string> = {}): Synth {
  const key = JSON.stringify(context);
  const hit = cache.get(key);
  if (hit) return hit;
  const outdir = fs.mkdtempSync(path.join(root, 'cdk.out-'));
  const app = new App({
    outdir,
    context: { ...cdkJson.context, lambdaDir, webDir, repoRoot, ...context },
  });
  const options = optionsFromContext((k) => app.node.tryGetContext(k), path.resolve(__dirname, '..'));
  const stack = new TodoStack(app, 'Todo', { options, env: { account: ACCOUNT, region: REGION } });
  const result = { stack, template: Template.fromStack(stack), outdir };
  cache.set(key, result);
  return result;
}

/** The logical id of the one resource of `type` whose id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** Every resource of `type`, by logical id. */
export function resources(template: Template, type: string): Record<string, Json> {
  return template.findResources(type) as Record<string, Json>;
}

/** The four Rust functions (provided.al2023 or container image), by logical id. */
export function rustFunctions(template: Template): Record<string, Json> {
  const all = resources(template, 'AWS::Lambda::Function');
  return Object.fromEntries(Object.entries(all).filter(([, r]) =>
    r.Properties.Runtime === 'provided.al2023' || r.Properties.PackageType === 'Image'));
}

/** `{"Fn::GetAtt": [id, "Arn"]}`. */
export const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

export const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
