// The stack's resources and their wiring, on the synthesised template.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { Match } from 'aws-cdk-lib/assertions';

import { optionsFromContext } from '../lib/options';
import { BIN, ENV, EVENT_DETAIL_TYPES, EVENT_SOURCE, METRICS } from '../lib/settings';
import { ACCOUNT, REGION, logicalId, resources, rustFunctions, synth, type Json } from './helpers';

const { template, stack } = synth();
const id = {
  pool: logicalId(template, 'AWS::DynamoDB::Table', 'PoolTable'),
  registry: logicalId(template, 'AWS::DynamoDB::Table', 'RegistryTable'),
  userPool: logicalId(template, 'AWS::Cognito::UserPool', 'UserPool'),
  client: logicalId(template, 'AWS::Cognito::UserPoolClient', 'UserPoolWebClient'),
  api: logicalId(template, 'AWS::ApiGatewayV2::Api', 'Api'),
  bus: logicalId(template, 'AWS::Events::EventBus', 'Bus'),
  site: logicalId(template, 'AWS::CloudFront::Distribution', 'Site'),
  bucket: logicalId(template, 'AWS::S3::Bucket', 'SiteBucket'),
  secret: logicalId(template, 'AWS::SecretsManager::Secret', 'CursorKey'),
  service: logicalId(template, 'AWS::Lambda::Function', 'Service'),
  preToken: logicalId(template, 'AWS::Lambda::Function', 'PreToken'),
  activity: logicalId(template, 'AWS::Lambda::Function', 'Activity'),
};
const issuer = { 'Fn::Join': ['', [`https://cognito-idp.${REGION}.`, { Ref: 'AWS::URLSuffix' }, '/', { Ref: id.userPool }]] };
const siteOrigin = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [id.site, 'DomainName'] }]] };
const siteRoot = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [id.site, 'DomainName'] }, '/']] };
const env = (fn: string): Record<string, Json> =>
  resources(template, 'AWS::Lambda::Function')[fn].Properties.Environment.Variables;

describe('HTTP API', () => {
  it('has the Cognito JWT authorizer: the pool\'s issuer, the app client as audience', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: issuer, Audience: [{ Ref: id.client }] },
    });
  });

  it('routes /health without a caller and everything else through the authorizer', () => {
    const routes = Object.values(resources(template, 'AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    const byKey = Object.fromEntries(routes.map((r) => [r.RouteKey, r]));
    assert.equal(byKey['GET /health'].AuthorizationType, 'NONE');
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      const route = byKey[`${method} /{proxy+}`];
      assert.ok(route, `${method} /{proxy+}`);
      assert.equal(route.AuthorizationType, 'JWT');
      assert.ok(route.AuthorizerId, `${method} has an authorizer`);
    }
    // OPTIONS is answered by the CORS preflight, never by an authorised route.
    assert.ok(!routes.some((r) => /^(ANY|OPTIONS) /.test(r.RouteKey) || r.RouteKey === '$default'));
  });

  it('integrates the service Lambda with payload 2.0', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [id.service, 'Arn'] },
    });
  });

  it('allows the CloudFront origin by CORS, with the headers the client sends', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: Match.objectLike({
        AllowOrigins: [siteOrigin],
        AllowHeaders: Match.arrayWith(['authorization', 'content-type', 'if-match']),
        AllowMethods: Match.arrayWith(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
      }),
    });
  });

  it('has a $default stage with throttling and access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: Match.anyValue() }),
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });
});

describe('functions', () => {
  it('are arm64 provided.al2023 with handler bootstrap, each from its own build', () => {
    const fns = rustFunctions(template);
    assert.equal(Object.keys(fns).length, 3, 'service, pre-token, activity (no authorizer with jwt)');
    for (const [name, fn] of Object.entries(fns)) {
      assert.equal(fn.Properties.Runtime, 'provided.al2023', name);
      assert.deepEqual(fn.Properties.Architectures, ['arm64'], name);
      assert.equal(fn.Properties.Handler, 'bootstrap', name);
      assert.ok(fn.Properties.Timeout <= 30, `${name} timeout`);
      assert.ok(fn.Properties.LoggingConfig?.LogGroup, `${name} logs to its own group`);
    }
  });

  it('give the service its issuer, audience, store, registry, silo prefix, cursor key and bus', () => {
    const vars = env(id.service);
    assert.deepEqual(vars[ENV.issuer], issuer);
    assert.deepEqual(vars[ENV.audience], { Ref: id.client });
    assert.equal(vars[ENV.store], 'dynamodb');
    assert.deepEqual(vars[ENV.table], { Ref: id.pool });
    assert.deepEqual(vars[ENV.registryTable], { Ref: id.registry });
    assert.equal(vars[ENV.siloPrefix], 'todo-list-');
    assert.deepEqual(vars[ENV.eventBus], { Ref: id.bus });
    // A CloudFormation dynamic reference: resolved at deploy time, never in the template.
    assert.deepEqual(vars[ENV.cursorKey], {
      'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: id.secret }, ':SecretString:::}}']],
    });
    assert.equal(vars[ENV.listRps], undefined, 'no quota by default');
  });

  it('generate a cursor key of at least 32 characters', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: Match.anyValue() }),
    });
    const secret = resources(template, 'AWS::SecretsManager::Secret')[id.secret];
    assert.ok(secret.Properties.GenerateSecretString.PasswordLength >= 32);
  });

  it('give the pre-token trigger and the consumer the store', () => {
    for (const fn of [id.preToken, id.activity]) {
      const vars = env(fn);
      assert.equal(vars[ENV.store], 'dynamodb');
      assert.deepEqual(vars[ENV.table], { Ref: id.pool });
      assert.deepEqual(vars[ENV.registryTable], { Ref: id.registry });
      assert.equal(vars[ENV.cursorKey], undefined, 'no secret where it is not needed');
    }
  });

  it('set the quota from -c listRps', () => {
    const quota = synth({ listRps: '25' });
    const service = logicalId(quota.template, 'AWS::Lambda::Function', 'Service');
    const vars = resources(quota.template, 'AWS::Lambda::Function')[service].Properties.Environment.Variables;
    assert.equal(vars[ENV.listRps], '25');
  });

  it('keep their logs, and CDK\'s helpers\' logs, for a bounded time', () => {
    const groups = resources(template, 'AWS::Logs::LogGroup');
    for (const g of Object.values(groups)) assert.equal(g.Properties.RetentionInDays, 30);
    // Every function of the template, CDK's helpers too, logs to a group of this stack.
    for (const [fn, r] of Object.entries(resources(template, 'AWS::Lambda::Function'))) {
      const own = r.Properties.LoggingConfig?.LogGroup?.Ref;
      const named = Object.values(groups).some((g) =>
        JSON.stringify(g.Properties.LogGroupName) === JSON.stringify({ 'Fn::Join': ['', ['/aws/lambda/', { Ref: fn }]] }));
      assert.ok((own && groups[own]) || named, `${fn} has a log group with retention`);
    }
  });
});

describe('tables', () => {
  for (const table of ['pool', 'registry'] as const) {
    it(`${table}: saas-data's _pk/_sk string keys, on demand, point-in-time recovery, kept on destroy`, () => {
      const t = resources(template, 'AWS::DynamoDB::Table')[id[table]];
      assert.deepEqual(t.Properties.KeySchema, [
        { AttributeName: '_pk', KeyType: 'HASH' },
        { AttributeName: '_sk', KeyType: 'RANGE' },
      ]);
      assert.deepEqual(t.Properties.AttributeDefinitions, [
        { AttributeName: '_pk', AttributeType: 'S' },
        { AttributeName: '_sk', AttributeType: 'S' },
      ]);
      assert.equal(t.Properties.BillingMode, 'PAY_PER_REQUEST');
      assert.deepEqual(t.Properties.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
      assert.equal(t.Properties.GlobalSecondaryIndexes, undefined, 'the store creates no index');
      assert.equal(t.DeletionPolicy, 'Retain');
      assert.equal(t.UpdateReplacePolicy, 'Retain');
    });
  }

  it('are deleted with the stack with -c removal=destroy', () => {
    const dev = synth({ removal: 'destroy' });
    for (const t of Object.values(resources(dev.template, 'AWS::DynamoDB::Table'))) {
      assert.equal(t.DeletionPolicy, 'Delete');
      assert.equal(t.Properties.DeletionProtectionEnabled, false);
    }
    for (const p of Object.values(resources(dev.template, 'AWS::Cognito::UserPool'))) assert.equal(p.DeletionPolicy, 'Delete');
  });
});

describe('Cognito', () => {
  it('has self sign-up by verified email, the tier attribute, the Essentials plan', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      UsernameAttributes: ['email'],
      AutoVerifiedAttributes: ['email'],
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: false },
      UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
      UserPoolTier: 'ESSENTIALS',
      Schema: Match.arrayWith([Match.objectLike({ Name: 'tier', AttributeDataType: 'String', Mutable: true })]),
    });
  });

  it('wires the pre-token-generation trigger (V2 events) to todo-pre-token', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      LambdaConfig: {
        PreTokenGenerationConfig: { LambdaArn: { 'Fn::GetAtt': [id.preToken, 'Arn'] }, LambdaVersion: 'V2_0' },
      },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [id.preToken, 'Arn'] },
      Principal: 'cognito-idp.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [id.userPool, 'Arn'] },
    });
  });

  it('has a public app client: code flow (PKCE), no secret, callbacks on the CloudFront domain', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      SupportedIdentityProviders: ['COGNITO'],
      CallbackURLs: [siteRoot],
      LogoutURLs: [siteRoot],
    });
  });

  it('lets the user read the tier but never write any custom attribute', () => {
    const client = resources(template, 'AWS::Cognito::UserPoolClient')[id.client].Properties;
    assert.ok(client.ReadAttributes.includes('custom:tier'));
    assert.ok(Array.isArray(client.WriteAttributes) && client.WriteAttributes.length > 0, 'set explicitly');
    assert.deepEqual(client.WriteAttributes.filter((a: string) => a.startsWith('custom:')), []);
  });

  it('has a Hosted UI domain', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      UserPoolId: { Ref: id.userPool },
      Domain: Match.anyValue(),
    });
  });
});

describe('events', () => {
  it('has a bus and a rule on the service\'s events to todo-activity, with a dead-letter queue', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: id.bus },
      EventPattern: { source: [EVENT_SOURCE], 'detail-type': EVENT_DETAIL_TYPES },
      Targets: [Match.objectLike({
        Arn: { 'Fn::GetAtt': [id.activity, 'Arn'] },
        DeadLetterConfig: { Arn: Match.anyValue() },
      })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [id.activity, 'Arn'] },
      Principal: 'events.amazonaws.com',
    });
  });
});

describe('web client', () => {
  it('is in a private bucket: public access blocked, TLS enforced', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id.bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        })]),
      },
    });
  });

  it('is served by CloudFront through an origin access control, index.html at the root', () => {
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' }),
    });
    const dist = resources(template, 'AWS::CloudFront::Distribution')[id.site].Properties.DistributionConfig;
    assert.equal(dist.DefaultRootObject, 'index.html');
    assert.equal(dist.DefaultCacheBehavior.ViewerProtocolPolicy, 'redirect-to-https');
    assert.equal(dist.Origins.length, 1);
    assert.ok(dist.Origins[0].OriginAccessControlId, 'OAC, not OAI');
    assert.equal(dist.Origins[0].S3OriginConfig.OriginAccessIdentity, '');
    // Only CloudFront, for this distribution, may read the bucket.
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Allow',
          Action: 's3:GetObject',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
        })]),
      },
    });
  });

  it('gets a config.json with the API URL and the Hosted UI, written at deploy time', () => {
    const { outdir } = synth();
    const deployment = Object.values(resources(template, 'Custom::CDKBucketDeployment'))[0].Properties;
    assert.deepEqual(deployment.DistributionPaths, ['/*'], 'invalidated on deploy');
    const keys: string[] = deployment.SourceObjectKeys;
    const index = keys.findIndex((k) => fs.existsSync(path.join(outdir, `asset.${k.replace(/\.zip$/, '')}`, 'config.json')));
    assert.ok(index >= 0, 'a source holds config.json');
    const raw = fs.readFileSync(path.join(outdir, `asset.${keys[index].replace(/\.zip$/, '')}`, 'config.json'), 'utf8');
    const config = JSON.parse(raw);
    // Deploy-time values are markers in the file, resolved by the deployment's custom resource.
    const markers: Record<string, Json> = deployment.SourceMarkers[index];
    assert.deepEqual(markers[config.apiUrl], { 'Fn::GetAtt': [id.api, 'ApiEndpoint'] });
    assert.equal(config.auth.type, 'cognito');
    assert.deepEqual(markers[config.auth.clientId], { Ref: id.client });
    assert.equal(config.auth.domain, `https://todo-${ACCOUNT}.auth.${REGION}.amazoncognito.com`);
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: `todo-${ACCOUNT}` });
    assert.deepEqual(config.auth.scopes, ['openid', 'email', 'profile']);
  });
});

describe('dashboard', () => {
  it('ranks lists by requests, compute and capacity with Metrics Insights', () => {
    const body = JSON.stringify(Object.values(resources(template, 'AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
    for (const metric of [METRICS.requests, METRICS.computeTime, METRICS.readCapacity, METRICS.writeCapacity]) {
      assert.ok(
        body.includes(`SELECT SUM(${metric}) FROM SCHEMA(\\\\\\"${METRICS.namespace}\\\\\\", service, tenant_id) ` +
          `WHERE service = '${METRICS.service}' GROUP BY tenant_id ORDER BY SUM() DESC LIMIT 10`),
        `top lists by ${metric}`,
      );
    }
  });
});

describe('outputs', () => {
  it('give the API URL, the site URL, the pool, the client and the Hosted UI domain', () => {
    const outputs = Object.keys(template.findOutputs('*'));
    for (const name of ['ApiUrl', 'SiteUrl', 'UserPoolId', 'UserPoolClientId', 'HostedUiDomain']) {
      assert.ok(outputs.includes(name), name);
    }
  });
});

describe('the Lambda authorizer variant (-c authorizer=lambda)', () => {
  const variant = synth({ authorizer: 'lambda' });
  const t = variant.template;

  it('has the todo-authorizer function and no JWT authorizer', () => {
    const fns = rustFunctions(t);
    assert.equal(Object.keys(fns).length, 4, 'service, pre-token, activity, authorizer');
    for (const fn of Object.values(fns)) {
      assert.equal(fn.Properties.Runtime, 'provided.al2023');
      assert.deepEqual(fn.Properties.Architectures, ['arm64']);
    }
    t.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization'],
    });
    assert.equal(Object.values(resources(t, 'AWS::ApiGatewayV2::Authorizer'))
      .filter((a) => a.Properties.AuthorizerType === 'JWT').length, 0);
    for (const r of Object.values(resources(t, 'AWS::ApiGatewayV2::Route'))) {
      const expected = r.Properties.RouteKey === 'GET /health' ? 'NONE' : 'CUSTOM';
      assert.equal(r.Properties.AuthorizationType, expected, r.Properties.RouteKey);
    }
  });

  it('gives the authorizer the issuer and the audience', () => {
    const authorizer = logicalId(t, 'AWS::Lambda::Function', 'Authorizer');
    const userPool = logicalId(t, 'AWS::Cognito::UserPool', 'UserPool');
    const client = logicalId(t, 'AWS::Cognito::UserPoolClient', 'UserPoolWebClient');
    const vars = resources(t, 'AWS::Lambda::Function')[authorizer].Properties.Environment.Variables;
    assert.deepEqual(vars[ENV.issuer], { 'Fn::Join': ['', [`https://cognito-idp.${REGION}.`, { Ref: 'AWS::URLSuffix' }, '/', { Ref: userPool }]] });
    assert.deepEqual(vars[ENV.audience], { Ref: client });
    t.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [authorizer, 'Arn'] },
      Principal: 'apigateway.amazonaws.com',
    });
  });
});

describe('the container image variant (-c image=true)', () => {
  // Synthesis stages the build context (honouring .dockerignore); Docker is needed only to
  // publish the image at deploy time.
  const variant = synth({ image: 'true' });
  const t = variant.template;

  it('deploys the service from the arm64 image, the other functions from their zips', () => {
    const service = logicalId(t, 'AWS::Lambda::Function', 'Service');
    const fn = resources(t, 'AWS::Lambda::Function')[service].Properties;
    assert.equal(fn.PackageType, 'Image');
    assert.deepEqual(fn.Architectures, ['arm64']);
    assert.equal(fn.Runtime, undefined);
    assert.ok(fn.Code.ImageUri, 'an ECR image');
    assert.equal(fn.Environment.Variables[ENV.store], 'dynamodb');
    const zips = Object.values(rustFunctions(t)).filter((f) => f.Properties.PackageType !== 'Image');
    assert.equal(zips.length, 2);

    const manifest = JSON.parse(fs.readFileSync(path.join(variant.outdir, 'Todo.assets.json'), 'utf8'));
    const images = Object.values(manifest.dockerImages ?? {}) as Json[];
    assert.equal(images.length, 1);
    assert.equal(images[0].source.dockerFile, 'examples/todo/Dockerfile');
    assert.equal(images[0].source.platform, 'linux/arm64');
  });

  it('builds todo-lambda for Lambda\'s provided.al2023 image, without the web client', () => {
    const dockerfile = fs.readFileSync(path.resolve(__dirname, '../../todo/Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM public\.ecr\.aws\/lambda\/provided:al2023$/m);
    assert.match(dockerfile, /TODO_WEB_BUILD=0/);
    assert.match(dockerfile, new RegExp(`--bin ${BIN.service}\\b`));
    assert.match(dockerfile, /\/var\/runtime\/bootstrap/);
    const ignore = fs.readFileSync(path.resolve(__dirname, '../../../.dockerignore'), 'utf8').split('\n');
    for (const entry of ['target', '**/node_modules', '.todo-data', '.tools', '.git', '**/cdk.out']) {
      assert.ok(ignore.includes(entry), `.dockerignore: ${entry}`);
    }
  });
});

describe('options', () => {
  it('default to the JWT authorizer, the zip, kept data, the workspace\'s build outputs', () => {
    const o = optionsFromContext(() => undefined, '/ws/examples/todo-cdk');
    assert.equal(o.authorizer, 'jwt');
    assert.equal(o.image, false);
    assert.equal(o.removal, 'retain');
    assert.equal(o.listRps, undefined);
    assert.equal(o.lambdaDir, '/ws/target/lambda');
    assert.equal(o.webDir, '/ws/examples/todo-web/dist');
  });

  it('refuse what they cannot use', () => {
    const ctx = (values: Record<string, string>) => (k: string) => values[k];
    assert.throws(() => optionsFromContext(ctx({ authorizer: 'iam' })), /authorizer/);
    assert.throws(() => optionsFromContext(ctx({ removal: 'maybe' })), /removal/);
    assert.throws(() => optionsFromContext(ctx({ listRps: '0' })), /listRps/);
    assert.throws(() => optionsFromContext(ctx({ image: 'perhaps' })), /image/);
  });

  it('say what to build when a build output is missing', () => {
    assert.throws(() => synth({ lambdaDir: '/nonexistent' }), /cargo lambda build --release --arm64 -p todo-example --no-default-features/);
    assert.throws(() => synth({ webDir: '/nonexistent' }), /npm ci && npm run build/);
  });

  it('name the silo tables after the stack', () => {
    assert.equal(stack.siloPrefix, 'todo-list-');
    assert.equal(synth({ siloPrefix: 'acme-todo-' }).stack.siloPrefix, 'acme-todo-');
    assert.throws(() => synth({ siloPrefix: 'bad*' }), /siloPrefix/);
  });
});
