// Least privilege, on every variant of the template: no wildcard action anywhere, each function
// limited to its own log group and its own tables.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Template } from 'aws-cdk-lib/assertions';

import { DYNAMODB_READ, DYNAMODB_SILO_ADMIN } from '../lib/settings';
import { ACCOUNT, REGION, type Json, arnOf, asArray, logicalId, resources, synth } from './helpers';

interface Statement {
  /** Where it was found. */
  where: string;
  Effect: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: Json;
  NotResource?: Json;
}

/** Every statement of every identity policy (`AWS::IAM::Policy`, `ManagedPolicy`, a role's inline policies) and resource policy. */
function statements(template: Template): Statement[] {
  const found: Statement[] = [];
  const add = (where: string, doc: Json) => {
    for (const s of asArray(doc?.Statement)) found.push({ where, ...(s as object) } as Statement);
  };
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, r] of Object.entries(resources(template, type))) add(id, r.Properties.PolicyDocument);
  }
  for (const [id, r] of Object.entries(resources(template, 'AWS::IAM::Role'))) {
    for (const p of asArray<Json>(r.Properties.Policies)) add(`${id}/${p.PolicyName}`, p.PolicyDocument);
  }
  for (const type of ['AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SecretsManager::ResourcePolicy']) {
    for (const [id, r] of Object.entries(resources(template, type))) add(id, r.Properties.PolicyDocument);
  }
  return found;
}

/** The statements of the policies attached to one role. */
function roleStatements(template: Template, role: string): Statement[] {
  const attached = Object.entries(resources(template, 'AWS::IAM::Policy'))
    .filter(([, r]) => asArray<Json>(r.Properties.Roles).some((x) => x.Ref === role))
    .map(([id]) => id);
  const inline = asArray<Json>(resources(template, 'AWS::IAM::Role')[role].Properties.Policies)
    .map((p) => `${role}/${p.PolicyName}`);
  return statements(template).filter((s) => attached.includes(s.where) || inline.includes(s.where));
}

/** The role a function runs as. */
function roleOf(template: Template, fn: string): string {
  return resources(template, 'AWS::Lambda::Function')[fn].Properties.Role['Fn::GetAtt'][0];
}

const siloArn = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/todo-list-*`;
const variants: Record<string, Record<string, string>> = {
  'default (JWT authorizer)': {},
  'Lambda authorizer': { authorizer: 'lambda' },
  'container image': { image: 'true' },
  'quota, dev removal': { listRps: '10', removal: 'destroy' },
};

for (const [name, context] of Object.entries(variants)) {
  describe(`IAM, ${name}`, () => {
    const { template } = synth(context);
    const all = statements(template);
    const fnIds = ['Service', 'PreToken', 'Activity', ...(context.authorizer === 'lambda' ? ['Authorizer'] : [])]
      .map((prefix) => logicalId(template, 'AWS::Lambda::Function', prefix));
    const pool = logicalId(template, 'AWS::DynamoDB::Table', 'PoolTable');
    const registry = logicalId(template, 'AWS::DynamoDB::Table', 'RegistryTable');

    it('has policies to check', () => {
      assert.ok(all.length >= 10, `${all.length} statements`);
    });

    it('allows no "*" or "service:*" action, and no NotAction', () => {
      for (const s of all.filter((x) => x.Effect === 'Allow')) {
        assert.equal(s.NotAction, undefined, `${s.where}: NotAction`);
        assert.equal(s.NotResource, undefined, `${s.where}: NotResource`);
        for (const action of asArray(s.Action)) {
          assert.ok(typeof action === 'string', `${s.where}: ${JSON.stringify(action)}`);
          assert.notEqual(action, '*', `${s.where}: *`);
          assert.doesNotMatch(action, /^[a-z0-9-]+:\*$/i, `${s.where}: ${action}`);
        }
      }
    });

    it('attaches no managed policy to the service\'s functions', () => {
      for (const fn of fnIds) {
        const role = resources(template, 'AWS::IAM::Role')[roleOf(template, fn)].Properties;
        assert.equal(role.ManagedPolicyArns, undefined, fn);
        assert.deepEqual(role.AssumeRolePolicyDocument.Statement.map((s: Json) => s.Principal), [{ Service: 'lambda.amazonaws.com' }]);
      }
    });

    it('lets each function write its own log group only, and nothing on "*"', () => {
      for (const fn of fnIds) {
        const own = resources(template, 'AWS::Lambda::Function')[fn].Properties.LoggingConfig.LogGroup.Ref;
        for (const s of roleStatements(template, roleOf(template, fn))) {
          assert.ok(!asArray(s.Resource).includes('*'), `${fn}: ${JSON.stringify(s.Action)} on *`);
          if (asArray(s.Action).some((a) => a.startsWith('logs:'))) {
            assert.deepEqual(asArray(s.Resource), [arnOf(own)], fn);
          }
        }
      }
    });

    it('limits the service to its tables: the pool, the registry and the silo prefix', () => {
      const service = fnIds[0];
      const dynamo = roleStatements(template, roleOf(template, service))
        .filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:')));
      assert.ok(dynamo.length > 0);
      const allowed = [JSON.stringify(arnOf(pool)), JSON.stringify(arnOf(registry)), JSON.stringify(siloArn)];
      const seen = new Set<string>();
      for (const s of dynamo) {
        for (const r of asArray(s.Resource)) {
          assert.ok(allowed.includes(JSON.stringify(r)), `service: ${JSON.stringify(r)}`);
          seen.add(JSON.stringify(r));
        }
        assert.ok(!asArray(s.Action).includes('dynamodb:Scan'), 'no Scan');
        // Creating and deleting tables: the premium lists' own, never the pool or the registry.
        if (asArray(s.Action).some((a) => DYNAMODB_SILO_ADMIN.includes(a) || /Table$/.test(a))) {
          assert.deepEqual(asArray(s.Resource), [siloArn], JSON.stringify(s.Action));
        }
      }
      assert.deepEqual([...seen].sort(), [...allowed].sort(), 'all three are reachable');
      const actions = dynamo.flatMap((s) => asArray(s.Action));
      for (const a of DYNAMODB_SILO_ADMIN) assert.ok(actions.includes(a), a);
      for (const a of ['dynamodb:UpdateContinuousBackups', 'dynamodb:TagResource', 'dynamodb:UpdateTable']) {
        assert.ok(!actions.includes(a), a);
      }
    });

    it('lets the service publish to its bus only', () => {
      const bus = logicalId(template, 'AWS::Events::EventBus', 'Bus');
      const events = roleStatements(template, roleOf(template, fnIds[0]))
        .filter((s) => asArray(s.Action).some((a) => a.startsWith('events:')));
      assert.deepEqual(events.map((s) => [s.Action, s.Resource]), [['events:PutEvents', arnOf(bus)]]);
    });

    it('gives the pre-token trigger read-only access to the pool and the registry', () => {
      const dynamo = roleStatements(template, roleOf(template, fnIds[1]))
        .filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:')));
      for (const s of dynamo) {
        for (const a of asArray(s.Action)) assert.ok(DYNAMODB_READ.includes(a), `pre-token: ${a}`);
        for (const r of asArray(s.Resource)) {
          assert.ok([arnOf(pool), arnOf(registry)].some((x) => JSON.stringify(x) === JSON.stringify(r)), JSON.stringify(r));
        }
      }
    });

    it('lets the consumer add activity items but not delete, nor touch tables', () => {
      const actions = roleStatements(template, roleOf(template, fnIds[2])).flatMap((s) => asArray(s.Action));
      assert.ok(actions.includes('dynamodb:PutItem'));
      for (const a of ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:CreateTable', 'dynamodb:DeleteTable', 'events:PutEvents']) {
        assert.ok(!actions.includes(a), `activity: ${a}`);
      }
    });

    it('grants "*" resources only to CDK\'s deployment helper for CloudFront invalidations', () => {
      const star = all.filter((s) => s.Effect === 'Allow' && asArray(s.Resource).includes('*'));
      for (const s of star) {
        assert.deepEqual(asArray(s.Action).sort(), ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'], s.where);
      }
    });
  });
}
