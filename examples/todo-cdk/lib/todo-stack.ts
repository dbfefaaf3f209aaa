// The todo service on AWS: HTTP API + Lambda (Rust, arm64), Cognito, DynamoDB (pool, registry
// and one table per premium list), EventBridge, the web client on S3 + CloudFront, a dashboard.

import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  CfnOutput,
  CfnResource,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer, HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

import type { TodoOptions } from './options';
import {
  BIN,
  CUSTOM_ATTRIBUTES,
  DYNAMODB_READ,
  DYNAMODB_SILO_ADMIN,
  DYNAMODB_WRITE,
  ENV,
  EVENT_DETAIL_TYPES,
  EVENT_SOURCE,
  KEY,
  METRICS,
  STORE_DYNAMODB,
} from './settings';

export interface TodoStackProps extends StackProps {
  readonly options: TodoOptions;
}

/** How long the logs are kept. */
const LOG_RETENTION = logs.RetentionDays.ONE_MONTH;

export class TodoStack extends Stack {
  readonly api: apigw.HttpApi;
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;
  readonly poolTable: dynamodb.Table;
  readonly registryTable: dynamodb.Table;
  readonly bus: events.EventBus;
  readonly distribution: cloudfront.Distribution;
  readonly functions: {
    service: lambda.Function;
    preToken: lambda.Function;
    activity: lambda.Function;
    authorizer?: lambda.Function;
  };
  /** The silo tables' name prefix (`TODO_SILO_PREFIX`). */
  readonly siloPrefix: string;

  private readonly options: TodoOptions;
  private readonly dataRemoval: RemovalPolicy;

  constructor(scope: Construct, id: string, props: TodoStackProps) {
    super(scope, id, props);
    const options = props.options;
    this.options = options;
    this.dataRemoval = options.removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    checkInputs(options);

    const slug = this.stackName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
    this.siloPrefix = options.siloPrefix ?? `${slug}-list-`;
    if (!/^[A-Za-z0-9_.-]{2,64}$/.test(this.siloPrefix)) {
      throw new Error(`siloPrefix ${this.siloPrefix}: 2 to 64 of [A-Za-z0-9_.-] (a DynamoDB table name prefix)`);
    }

    // ---- Data: the pool table and the tenant registry, both in saas-data's schema ----------
    // The pool: every standard list, the users' list indexes, the outbox.
    this.poolTable = this.table('PoolTable');
    // The tenant registry (control table): where each list lives, pool or its own table.
    this.registryTable = this.table('RegistryTable');
    const siloTableArn = this.formatArn({
      service: 'dynamodb',
      resource: 'table',
      resourceName: `${this.siloPrefix}*`,
    });

    // The cursor key: the same in every sandbox. CloudFormation resolves the dynamic reference
    // at deploy time, so the functions need no Secrets Manager permission.
    const cursorKey = new secretsmanager.Secret(this, 'CursorKey', {
      description: 'TODO_CURSOR_KEY: signs the service\'s pagination cursors',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });

    this.bus = new events.EventBus(this, 'Bus', { description: 'the todo service\'s change events' });

    // ---- Identity: the user pool, its Hosted UI and the web client -------------------------
    const domainPrefix = options.domainPrefix ?? `${slug}-${this.account}`;
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      // Memberships are matched by verified email: a changed address counts only once verified.
      keepOriginal: { email: true },
      standardAttributes: {
        email: { required: true, mutable: true },
        fullname: { required: false, mutable: true },
      },
      customAttributes: {
        [CUSTOM_ATTRIBUTES.tier]: new cognito.StringAttribute({ minLen: 1, maxLen: 32, mutable: true }),
      },
      passwordPolicy: { minLength: 12, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: options.removal === 'retain',
      removalPolicy: this.dataRemoval,
    });
    const domain = this.userPool.addDomain('HostedUi', { cognitoDomain: { domainPrefix } });
    const hostedUiUrl = `https://${domainPrefix}.auth.${this.region}.amazoncognito.com`;
    // The tokens' `iss` (CloudFormation's ProviderURL lacks the scheme).
    const issuer = `https://cognito-idp.${this.region}.${this.urlSuffix}/${this.userPool.userPoolId}`;

    // ---- The web client's bucket and distribution ---------------------------------------------
    const siteBucket = new s3.Bucket(this, 'SiteBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // A build artifact: always removed with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    const siteOrigin = origins.S3BucketOrigin.withOriginAccessControl(siteBucket);
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SiteHeaders', {
      comment: 'todo web client: security headers',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          override: true,
          // The service's own policy (examples/todo/src/web.rs), plus the API and the Hosted
          // UI's token endpoint, which the page calls from another origin here. (Naming the
          // API's own URL would make a cycle: its CORS names this distribution.)
          contentSecurityPolicy: [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            `connect-src 'self' https://*.execute-api.${this.region}.${this.urlSuffix} ${hostedUiUrl}`,
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
          ].join('; '),
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
    });
    this.distribution = new cloudfront.Distribution(this, 'Site', {
      comment: 'todo web client',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: siteOrigin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
      },
      additionalBehaviors: {
        // Written at deploy time: never served stale.
        '/config.json': {
          origin: siteOrigin,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          responseHeadersPolicy: headers,
        },
      },
      // A client-side route reloaded in the browser is the app's index.
      errorResponses: [403, 404].map((httpStatus) => ({
        httpStatus,
        responseHttpStatus: 200,
        responsePagePath: '/index.html',
        ttl: Duration.seconds(10),
      })),
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    });
    const siteUrl = `https://${this.distribution.distributionDomainName}`;
    const origins_ = [siteUrl, ...(options.devOrigin ? [options.devOrigin.replace(/\/+$/, '')] : [])];

    this.client = this.userPool.addClient('WebClient', {
      userPoolClientName: 'todo-web',
      generateSecret: false, // a browser app: code flow + PKCE, no secret
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: origins_.map((o) => `${o}/`),
        logoutUrls: origins_.map((o) => `${o}/`),
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      readAttributes: new cognito.ClientAttributes()
        .withStandardAttributes({ email: true, emailVerified: true, fullname: true })
        .withCustomAttributes(...Object.values(CUSTOM_ATTRIBUTES)),
      // Explicit, so that no custom attribute (the tier) is ever the user's to write.
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true, fullname: true }),
    });

    // ---- The functions ---------------------------------------------------------------------
    const storeEnv = {
      [ENV.store]: STORE_DYNAMODB,
      [ENV.table]: this.poolTable.tableName,
      [ENV.registryTable]: this.registryTable.tableName,
      [ENV.siloPrefix]: this.siloPrefix,
    };
    const identityEnv = { [ENV.issuer]: issuer, [ENV.audience]: this.client.userPoolClientId };

    const service = this.rustFunction('Service', BIN.service, {
      description: 'todo service: the HTTP API (lambda_http)',
      memorySize: 512,
      // A premium list's first request creates its table and waits until it is ACTIVE; the
      // HTTP API gives up after 30 s.
      timeout: Duration.seconds(29),
      image: options.image,
      environment: {
        ...identityEnv,
        ...storeEnv,
        [ENV.cursorKey]: cursorKey.secretValue.unsafeUnwrap(),
        [ENV.eventBus]: this.bus.eventBusName,
        ...(options.listRps !== undefined ? { [ENV.listRps]: String(options.listRps) } : {}),
      },
    });
    const tables = [this.poolTable.tableArn, this.registryTable.tableArn, siloTableArn];
    service.addToRolePolicy(new iam.PolicyStatement({
      sid: 'Items',
      actions: [...DYNAMODB_READ, ...DYNAMODB_WRITE],
      resources: tables,
    }));
    service.addToRolePolicy(new iam.PolicyStatement({
      sid: 'PremiumListTables',
      actions: DYNAMODB_SILO_ADMIN,
      resources: [siloTableArn],
    }));
    service.addToRolePolicy(new iam.PolicyStatement({
      sid: 'Events',
      actions: ['events:PutEvents'],
      resources: [this.bus.eventBusArn],
    }));

    const preToken = this.rustFunction('PreToken', BIN.preToken, {
      description: 'todo service: Cognito pre-token-generation trigger (memberships claim)',
      memorySize: 256,
      timeout: Duration.seconds(5), // Cognito waits 5 s for a trigger
      environment: { ...storeEnv },
    });
    // The user's list index is system data: the pool and the registry, read only.
    preToken.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ReadIndex',
      actions: DYNAMODB_READ,
      resources: [this.poolTable.tableArn, this.registryTable.tableArn],
    }));
    // V2 events add the claim to the access token too (Essentials feature plan).
    this.userPool.addTrigger(cognito.UserPoolOperation.PRE_TOKEN_GENERATION_CONFIG, preToken, cognito.LambdaVersion.V2_0);

    const activity = this.rustFunction('Activity', BIN.activity, {
      description: 'todo service: EventBridge consumer (list activity)',
      memorySize: 256,
      timeout: Duration.seconds(30),
      environment: { ...storeEnv },
    });
    // Writes each list's activity item (create-only puts) where the list lives.
    activity.addToRolePolicy(new iam.PolicyStatement({
      sid: 'Activity',
      actions: [...DYNAMODB_READ, 'dynamodb:PutItem'],
      resources: [this.poolTable.tableArn, siloTableArn],
    }));
    activity.addToRolePolicy(new iam.PolicyStatement({
      sid: 'Registry',
      actions: DYNAMODB_READ,
      resources: [this.registryTable.tableArn],
    }));
    const deadLetters = new sqs.Queue(this, 'ActivityDeadLetters', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    new events.Rule(this, 'ActivityRule', {
      eventBus: this.bus,
      description: 'the service\'s changes to todo-activity',
      eventPattern: { source: [EVENT_SOURCE], detailType: EVENT_DETAIL_TYPES },
      targets: [new targets.LambdaFunction(activity, {
        deadLetterQueue: deadLetters,
        maxEventAge: Duration.hours(2),
        retryAttempts: 8,
      })],
    });

    // ---- The HTTP API -------------------------------------------------------------------------
    let authorizer: apigw.IHttpRouteAuthorizer;
    let authorizerFn: lambda.Function | undefined;
    if (options.authorizer === 'lambda') {
      authorizerFn = this.rustFunction('Authorizer', BIN.authorizer, {
        description: 'todo service: HTTP API Lambda authorizer (simple responses)',
        memorySize: 256,
        timeout: Duration.seconds(10),
        environment: { ...identityEnv },
      });
      authorizer = new HttpLambdaAuthorizer('LambdaAuthorizer', authorizerFn, {
        authorizerName: 'todo-authorizer',
        responseTypes: [HttpLambdaResponseType.SIMPLE],
        identitySource: ['$request.header.Authorization'],
        resultsCacheTtl: Duration.minutes(5),
      });
    } else {
      authorizer = new HttpJwtAuthorizer('CognitoAuthorizer', issuer, {
        authorizerName: 'cognito',
        jwtAudience: [this.client.userPoolClientId],
        identitySource: ['$request.header.Authorization'],
      });
    }
    this.functions = { service, preToken, activity, authorizer: authorizerFn };

    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'todo service',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: origins_,
        allowMethods: [
          apigw.CorsHttpMethod.GET,
          apigw.CorsHttpMethod.POST,
          apigw.CorsHttpMethod.PUT,
          apigw.CorsHttpMethod.PATCH,
          apigw.CorsHttpMethod.DELETE,
          apigw.CorsHttpMethod.OPTIONS,
        ],
        allowHeaders: ['authorization', 'content-type', 'if-match'],
        exposeHeaders: ['etag', 'retry-after', 'www-authenticate'],
        maxAge: Duration.hours(1),
      },
    });
    const accessLogs = this.logGroup('ApiAccessLogs');
    this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 200, burstLimit: 400 },
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(accessLogs) },
    });
    const integration = new HttpLambdaIntegration('Service', service, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
    });
    this.api.addRoutes({ path: '/health', methods: [apigw.HttpMethod.GET], integration });
    // Every other route needs a caller; OPTIONS is left to the CORS preflight.
    this.api.addRoutes({
      path: '/{proxy+}',
      methods: [apigw.HttpMethod.GET, apigw.HttpMethod.POST, apigw.HttpMethod.PUT, apigw.HttpMethod.PATCH, apigw.HttpMethod.DELETE],
      integration,
      authorizer,
    });
    const apiUrl = this.api.apiEndpoint; // no trailing slash: the $default stage is the root

    // ---- The web client, with its deploy-time config.json --------------------------------
    new s3deploy.BucketDeployment(this, 'SiteDeployment', {
      destinationBucket: siteBucket,
      sources: [
        s3deploy.Source.asset(options.webDir),
        s3deploy.Source.jsonData('config.json', {
          apiUrl,
          auth: {
            type: 'cognito',
            domain: hostedUiUrl,
            clientId: this.client.userPoolClientId,
            scopes: ['openid', 'email', 'profile'],
          },
        }),
      ],
      distribution: this.distribution,
      distributionPaths: ['/*'],
      memoryLimit: 256,
      logGroup: this.logGroup('SiteDeploymentLogs'),
    });
    this.boundCleanupLogs(siteBucket);

    this.dashboard(service, preToken, activity, authorizerFn, deadLetters);

    new CfnOutput(this, 'ApiUrl', { value: apiUrl, description: 'the HTTP API' });
    new CfnOutput(this, 'SiteUrl', { value: siteUrl, description: 'the web client' });
    new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.client.userPoolClientId });
    new CfnOutput(this, 'HostedUiDomain', { value: domain.baseUrl(), description: 'the Cognito Hosted UI' });
    new CfnOutput(this, 'PoolTableName', { value: this.poolTable.tableName });
    new CfnOutput(this, 'RegistryTableName', { value: this.registryTable.tableName });
    new CfnOutput(this, 'SiloTablePrefix', { value: this.siloPrefix, description: 'premium lists\' tables (created by the service)' });
  }

  /** A table in saas-data's schema: `_pk`/`_sk` strings, on demand, point-in-time recovery. */
  private table(id: string): dynamodb.Table {
    return new dynamodb.Table(this, id, {
      partitionKey: { name: KEY.partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: KEY.sort, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: this.dataRemoval,
      deletionProtection: this.options.removal === 'retain',
    });
  }

  /**
   * The log group of CDK's handler that empties the site bucket on `cdk destroy`, which Lambda
   * would otherwise create on first use with no retention.
   */
  private boundCleanupLogs(bucket: s3.Bucket): void {
    const provider = this.node.tryFindChild('Custom::S3AutoDeleteObjectsCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler') as CfnResource | undefined;
    const cleanup = bucket.node.tryFindChild('AutoDeleteObjectsCustomResource');
    if (!handler || !cleanup) return;
    const group = new logs.LogGroup(this, 'SiteCleanupLogs', {
      logGroupName: `/aws/lambda/${handler.ref}`,
      retention: LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    cleanup.node.addDependency(group); // before its first run, deleted after its last
  }

  private logGroup(id: string): logs.LogGroup {
    return new logs.LogGroup(this, id, { retention: LOG_RETENTION, removalPolicy: this.dataRemoval });
  }

  /**
   * One Rust function: arm64, `provided.al2023` (or the container image), its own role allowed
   * to write its own log group and nothing else until the caller adds statements.
   */
  private rustFunction(
    id: string,
    bin: string,
    props: {
      description: string;
      memorySize: number;
      timeout: Duration;
      environment: Record<string, string>;
      image?: boolean;
    },
  ): lambda.Function {
    const logGroup = this.logGroup(`${id}Logs`);
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${bin}: its log group and its tables`,
    });
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'Logs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }));
    const common = {
      description: props.description,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      environment: props.environment,
      role,
      logGroup,
    };
    if (props.image) {
      return new lambda.DockerImageFunction(this, id, {
        ...common,
        code: lambda.DockerImageCode.fromImageAsset(this.options.repoRoot, {
          file: 'examples/todo/Dockerfile',
          platform: Platform.LINUX_ARM64,
        }),
      });
    }
    return new lambda.Function(this, id, {
      ...common,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(path.join(this.options.lambdaDir, bin)),
    });
  }

  /** Per-list usage (Metrics Insights: lists are not known at deploy time) and the service's health. */
  private dashboard(
    service: lambda.Function,
    preToken: lambda.Function,
    activity: lambda.Function,
    authorizer: lambda.Function | undefined,
    deadLetters: sqs.Queue,
  ): void {
    const period = Duration.minutes(5);
    const from = (dims: readonly string[]) =>
      `FROM SCHEMA("${METRICS.namespace}", ${dims.join(', ')}) WHERE service = '${METRICS.service}'`;
    const insights = (expression: string, label = '') =>
      new cw.MathExpression({ expression, usingMetrics: {}, label, period });
    const graph = (title: string, left: cw.IMetric[], width = 12) =>
      new cw.GraphWidget({ title, width, height: 7, left, legendPosition: cw.LegendPosition.RIGHT });
    const topLists = (metric: string, what: string) => graph(
      `Top 10 lists by ${what}`,
      [insights(`SELECT SUM(${metric}) ${from(METRICS.listDimensions)} ` +
        `GROUP BY ${METRICS.tenantDimension} ORDER BY SUM() DESC LIMIT 10`)],
    );
    const allLists = (metric: string, label: string) =>
      insights(`SELECT SUM(${metric}) ${from(METRICS.listDimensions)}`, label);
    const byOperation = (fn: 'SUM' | 'AVG', metric: string) =>
      insights(`SELECT ${fn}(${metric}) ${from(METRICS.operationDimensions)} GROUP BY operation ORDER BY ${fn}() DESC LIMIT 10`);
    const fns = [service, preToken, activity, ...(authorizer ? [authorizer] : [])];

    const dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: `${this.stackName}-usage`,
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(new cw.TextWidget({
      markdown:
        '# todo: usage per list\n' +
        'Each list is a tenant (`tenant_id`). The graphs are CloudWatch Metrics Insights queries over the service\'s EMF ' +
        `metrics (namespace \`${METRICS.namespace}\`, service \`${METRICS.service}\`), so a new list shows up without a redeploy. ` +
        'Compute is handler time in milliseconds; capacity is the DynamoDB units the list\'s requests consumed. ' +
        '`GET /lists/{list}/usage` answers the same totals to the list\'s owner.',
      width: 24,
      height: 3,
    }));
    dashboard.addWidgets(topLists(METRICS.requests, 'requests'), topLists(METRICS.computeTime, 'compute (ms)'));
    dashboard.addWidgets(
      topLists(METRICS.readCapacity, 'read capacity units'),
      topLists(METRICS.writeCapacity, 'write capacity units'),
    );
    dashboard.addWidgets(
      graph('All lists: requests, compute (ms), capacity units', [
        allLists(METRICS.requests, 'requests'),
        allLists(METRICS.computeTime, 'compute ms'),
        allLists(METRICS.readCapacity, 'read units'),
        allLists(METRICS.writeCapacity, 'write units'),
      ]),
      graph('Errors of list requests', [
        insights(`SELECT SUM(${METRICS.clientErrors}) ${from(METRICS.operationDimensions)}`, '4xx'),
        insights(`SELECT SUM(${METRICS.serverErrors}) ${from(METRICS.operationDimensions)}`, '5xx'),
        insights(`SELECT SUM(${METRICS.coldStart}) ${from(METRICS.operationDimensions)}`, 'cold starts'),
      ]),
    );
    dashboard.addWidgets(
      graph('Top operations by requests', [byOperation('SUM', METRICS.invocations)]),
      graph('Top operations by average duration (ms)', [byOperation('AVG', METRICS.duration)]),
    );
    dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'HTTP API: requests, 4xx, 5xx (left), p99 latency (right)',
        width: 12,
        left: [this.api.metricCount({ period }), this.api.metricClientError({ period }), this.api.metricServerError({ period })],
        right: [this.api.metricLatency({ period, statistic: 'p99' })],
      }),
      new cw.GraphWidget({
        title: 'Functions: errors (left), throttles and dead letters (right)',
        width: 12,
        left: fns.map((f) => f.metricErrors({ period, label: `${f.node.id} errors` })),
        right: [
          ...fns.map((f) => f.metricThrottles({ period, label: `${f.node.id} throttles` })),
          deadLetters.metricApproximateNumberOfMessagesVisible({ period, label: 'activity dead letters' }),
        ],
      }),
    );
    dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'Functions: duration p99',
        width: 12,
        left: fns.map((f) => f.metricDuration({ period, statistic: 'p99', label: f.node.id })),
      }),
      new cw.GraphWidget({
        title: 'DynamoDB: throttle events (pool and registry)',
        width: 12,
        left: [this.poolTable, this.registryTable].flatMap((t) =>
          ['ReadThrottleEvents', 'WriteThrottleEvents'].map((m) =>
            t.metric(m, { period, statistic: 'Sum', label: `${t.node.id} ${m}` }))),
      }),
    );
  }
}

/** The build outputs the stack deploys, with what to run when one is missing. */
function checkInputs(options: TodoOptions): void {
  const bins = Object.values(BIN).filter((bin) =>
    !(options.image && bin === BIN.service) && !(options.authorizer !== 'lambda' && bin === BIN.authorizer));
  const missing = bins.filter((bin) => !fs.existsSync(path.join(options.lambdaDir, bin, 'bootstrap')));
  if (missing.length > 0) {
    throw new Error(
      `no Lambda build in ${options.lambdaDir} for ${missing.join(', ')}: run ` +
      '`cargo lambda build --release --arm64 -p todo-example --no-default-features` at the workspace root, ' +
      'or pass -c lambdaDir=<dir>',
    );
  }
  if (!fs.existsSync(path.join(options.webDir, 'index.html'))) {
    throw new Error(
      `no web client build in ${options.webDir}: run \`npm ci && npm run build\` in examples/todo-web, ` +
      'or pass -c webDir=<dir>',
    );
  }
  if (options.image && !fs.existsSync(path.join(options.repoRoot, 'examples/todo/Dockerfile'))) {
    throw new Error(`image=true: no examples/todo/Dockerfile under ${options.repoRoot} (-c repoRoot=<workspace>)`);
  }
}
