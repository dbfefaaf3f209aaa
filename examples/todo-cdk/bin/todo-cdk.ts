#!/usr/bin/env node
// The CDK app: one stack, `Todo` (`-c stackName=...` for another), configured by context
// (see README.md, "Options").

import * as path from 'node:path';

import { App } from 'aws-cdk-lib';

import { optionsFromContext } from '../lib/options';
import { TodoStack } from '../lib/todo-stack';

const app = new App();
const options = optionsFromContext((key) => app.node.tryGetContext(key), path.resolve(__dirname, '..'));
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'Todo';

new TodoStack(app, stackName, {
  options,
  description: 'The multi-tenant todo service (examples/todo): HTTP API, Lambda, Cognito, DynamoDB, EventBridge, S3 + CloudFront',
  // Account and region from the CLI's environment (no lookups are made at synth).
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
