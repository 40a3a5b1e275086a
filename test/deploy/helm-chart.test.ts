// The Helm chart under infra/helm/tandem, validated offline (no cluster exists here): `helm lint
// --strict` and `helm template` with helm built from its Go module, and every rendered object
// decoded strictly against the Kubernetes API's Go types by infra/helm/check (an unknown field, a
// wrong type or an unregistered kind fails), which also checks the wiring a cluster would only
// reveal at run time (selectors, ports, referenced ConfigMaps and Secrets). Each values file of the
// chart's ci/ folder is rendered; what the Deployments run is then run through the image's entry
// point (parsed from the Dockerfile) with --help, so a flag the cli does not know fails here.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { localEntrypoint, readImage, runEntrypoint } from './dockerfile.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const chart = join(repoRoot, 'infra/helm/tandem');
const bin = join(repoRoot, '.tools/bin');
const helmHome = mkdtempSync(join(tmpdir(), 'tandem-helm-'));
const entry = localEntrypoint(readImage(join(repoRoot, 'Dockerfile')), '/app', repoRoot);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], input = '', cwd = repoRoot): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, {
      cwd,
      // helm keeps no state between these commands; its homes point at a scratch directory.
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_DATA_HOME: join(helmHome, 'data'),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const valuesFile = (name: string) => join(chart, 'ci', `${name}-values.yaml`);

async function render(values: string | null, extra: readonly string[] = []): Promise<Run> {
  const args = ['template', 'tandem', chart, '--namespace', 'analytics'];
  if (values !== null) args.push('--values', valuesFile(values));
  return run(join(bin, 'helm'), [...args, ...extra]);
}

// biome-ignore lint/suspicious/noExplicitAny: the tests walk arbitrary Kubernetes objects by path
type Json = any;
/** A decoded Kubernetes object, as manifest-check prints it (JSON of the API's Go types). */
type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: Json };
  [k: string]: Json;
};

async function decode(manifests: string, external: readonly string[] = []): Promise<K8sObject[]> {
  const args = ['-json'];
  if (external.length > 0) args.push('-external', external.join(','));
  const checked = await run(join(bin, 'manifest-check'), args, manifests);
  expect(checked.stderr).toMatch(/manifest-check: \d+ objects decoded strictly, wiring consistent/);
  expect(checked.code).toBe(0);
  return (JSON.parse(checked.stdout) as { objects: K8sObject[] }).objects;
}

async function renderAndDecode(values: string, external: readonly string[] = []): Promise<K8sObject[]> {
  const rendered = await render(values);
  expect(rendered.stderr).toBe('');
  expect(rendered.code).toBe(0);
  return decode(rendered.stdout, external);
}

const names = (objects: readonly K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
const find = (objects: readonly K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} among ${names(objects).join(', ')}`);
  return found;
};
const container = (deployment: K8sObject) => deployment.spec.template.spec.containers[0];
const decodeBase64 = (data: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]),
  );

beforeAll(async () => {
  // The test command installs both tools first (scripts/test-tools); this is a no-op then, and
  // builds them when the file runs alone on a clean clone.
  const installed = await run(join(repoRoot, 'infra/helm/check/install'), []);
  expect(installed.stderr.replace(/^\[tandem\].*\n/gm, '')).toBe('');
  expect(installed.code).toBe(0);
}, 30 * 60_000);

describe('helm lint', () => {
  const files = readdirSync(join(chart, 'ci')).filter((file) => file.endsWith('-values.yaml'));

  it('finds the values files the rest of this test renders', () => {
    expect(files.sort()).toEqual(['existing-secrets-values.yaml', 'full-values.yaml', 'minimal-values.yaml']);
  });

  it.each(files)('passes --strict with ci/%s', async (file) => {
    const linted = await run(join(bin, 'helm'), [
      'lint',
      '--strict',
      chart,
      '--values',
      join(chart, 'ci', file),
    ]);
    expect(linted.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(linted.code).toBe(0);
  });
});

describe('the minimal values', () => {
  let objects: K8sObject[];
  beforeAll(async () => {
    objects = await renderAndDecode('minimal');
  });

  it('render a Deployment, a PodDisruptionBudget and (but batch) a Service per component', () => {
    expect(names(objects)).toEqual(
      [
        'ConfigMap/tandem-env',
        'Deployment/tandem-archiver',
        'Deployment/tandem-batch',
        'Deployment/tandem-serve',
        'Deployment/tandem-speed',
        'PodDisruptionBudget/tandem-archiver',
        'PodDisruptionBudget/tandem-batch',
        'PodDisruptionBudget/tandem-serve',
        'PodDisruptionBudget/tandem-speed',
        'Service/tandem-archiver',
        'Service/tandem-serve',
        'Service/tandem-speed',
        'ServiceAccount/tandem',
      ].sort(),
    );
    for (const object of objects) expect(object.metadata.namespace).toBe('analytics');
  });

  it('give every component the same environment, listening on the pod address', () => {
    expect(find(objects, 'ConfigMap', 'tandem-env').data).toEqual({
      KAFKA_BROKERS: 'kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092',
      KAFKA_CLIENT_ID: 'tandem',
      KAFKA_SSL: 'false',
      REDIS_URL: 'redis://redis:6379',
      REDIS_PREFIX: 'tandem',
      LAKE_URL: 's3://tandem-lake/prod',
      AWS_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      HOST: '0.0.0.0',
      LOG_LEVEL: 'info',
    });
    for (const component of ['speed', 'archiver', 'batch', 'serve']) {
      const spec = container(find(objects, 'Deployment', `tandem-${component}`));
      expect(spec.envFrom).toEqual([{ configMapRef: { name: 'tandem-env' } }]);
      expect(spec.image).toBe('tandem:0.1.0');
    }
  });

  it('run `tandem <component>` with the arguments each needs', () => {
    const args = Object.fromEntries(
      ['speed', 'archiver', 'batch', 'serve'].map((c) => [
        c,
        container(find(objects, 'Deployment', `tandem-${c}`)).args,
      ]),
    );
    expect(args).toEqual({
      speed: ['speed', '--metrics-port', '9464'],
      archiver: ['archiver', '--metrics-port', '9465'],
      batch: ['batch', 'schedule', '--metrics-port', '9466'],
      serve: ['serve'],
    });
  });

  it('wire the serving layer’s probes to /healthz and /readyz on its port', () => {
    const serve = container(find(objects, 'Deployment', 'tandem-serve'));
    expect(serve.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(serve.env).toEqual([{ name: 'PORT', value: '8080' }]);
    expect(serve.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(serve.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(serve.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const service = find(objects, 'Service', 'tandem-serve');
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    for (const component of ['speed', 'archiver', 'batch']) {
      const spec = container(find(objects, 'Deployment', `tandem-${component}`));
      expect(spec.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(spec.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    }
  });

  it('request the resources measured by the benchmarks', () => {
    const resources = Object.fromEntries(
      ['speed', 'archiver', 'batch', 'serve'].map((c) => [
        c,
        container(find(objects, 'Deployment', `tandem-${c}`)).resources,
      ]),
    );
    expect(resources).toEqual({
      speed: { requests: { cpu: '1', memory: '384Mi' }, limits: { memory: '512Mi' } },
      archiver: { requests: { cpu: '1', memory: '512Mi' }, limits: { memory: '1Gi' } },
      batch: { requests: { cpu: '2', memory: '2Gi' }, limits: { memory: '2560Mi' } },
      serve: { requests: { cpu: '1', memory: '768Mi' }, limits: { memory: '1Gi' } },
    });
    const speed = container(find(objects, 'Deployment', 'tandem-speed'));
    expect(speed.env).toEqual([
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=256 --max-semi-space-size=16' },
    ]);
    const batch = container(find(objects, 'Deployment', 'tandem-batch'));
    expect(batch.env).toEqual([
      { name: 'BATCH_MEMORY_LIMIT', value: '1GB' },
      { name: 'BATCH_THREADS', value: '2' },
    ]);
  });

  it('run as the image’s non-root user on a read-only root filesystem, with /tmp writable', () => {
    for (const component of ['speed', 'archiver', 'batch', 'serve']) {
      const deployment = find(objects, 'Deployment', `tandem-${component}`);
      const pod = deployment.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 });
      expect(container(deployment).securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(container(deployment).volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    }
    expect(find(objects, 'Deployment', 'tandem-batch').spec.template.spec.volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '20Gi' } },
    ]);
  });

  it('keep every component available through voluntary disruptions one pod at a time', () => {
    for (const component of ['speed', 'archiver', 'batch', 'serve']) {
      const pdb = find(objects, 'PodDisruptionBudget', `tandem-${component}`);
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.selector.matchLabels['app.kubernetes.io/component']).toBe(component);
    }
  });

  it('pass arguments the image’s entry point accepts', async () => {
    for (const component of ['speed', 'archiver', 'batch', 'serve']) {
      const args: string[] = container(find(objects, 'Deployment', `tandem-${component}`)).args;
      const help = await runEntrypoint(entry, [...args, '--help'], repoRoot);
      expect(help.stderr).toBe('');
      expect(help.code).toBe(0);
    }
  });
});

describe('the full values', () => {
  let objects: K8sObject[];
  beforeAll(async () => {
    objects = await renderAndDecode('full');
  });

  it('render the credentials, API keys, config file and ServiceMonitors', () => {
    expect(names(objects)).toEqual(
      [
        'ConfigMap/tandem-config',
        'ConfigMap/tandem-env',
        'Deployment/tandem-archiver',
        'Deployment/tandem-batch',
        'Deployment/tandem-serve',
        'Deployment/tandem-speed',
        'PodDisruptionBudget/tandem-archiver',
        'PodDisruptionBudget/tandem-batch',
        'PodDisruptionBudget/tandem-serve',
        'PodDisruptionBudget/tandem-speed',
        'Secret/tandem-api-keys',
        'Secret/tandem-credentials',
        'Service/tandem-archiver',
        'Service/tandem-serve',
        'Service/tandem-speed',
        'ServiceAccount/tandem',
        'ServiceMonitor/tandem-archiver',
        'ServiceMonitor/tandem-serve',
        'ServiceMonitor/tandem-speed',
      ].sort(),
    );
  });

  it('keep every credential in Secrets, and API keys for the serving pods only', () => {
    expect(decodeBase64(find(objects, 'Secret', 'tandem-credentials').data)).toEqual({
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 's3-secret-key',
      REDIS_USERNAME: 'tandem',
      REDIS_PASSWORD: 'redis-secret-password',
      KAFKA_SASL_USERNAME: 'tandem',
      KAFKA_SASL_PASSWORD: 'kafka-secret-password',
    });
    expect(decodeBase64(find(objects, 'Secret', 'tandem-api-keys').data)).toEqual({
      TANDEM_API_KEYS:
        'grafana:read:0123456789abcdef0123456789abcdef,ops:read+admin:fedcba9876543210fedcba9876543210',
    });
    const env = find(objects, 'ConfigMap', 'tandem-env').data as Record<string, string>;
    expect(Object.values(env).join(' ')).not.toMatch(/secret-password|s3-secret-key|fedcba98/);
    expect(env).toMatchObject({
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SSL: 'true',
      LOG_LEVEL: 'warn',
    });
    for (const component of ['speed', 'archiver', 'batch', 'serve']) {
      const refs = container(find(objects, 'Deployment', `tandem-${component}`)).envFrom;
      expect(refs).toEqual([
        { configMapRef: { name: 'tandem-env' } },
        { secretRef: { name: 'tandem-credentials' } },
        ...(component === 'serve' ? [{ secretRef: { name: 'tandem-api-keys' } }] : []),
      ]);
    }
  });

  it('mount the config file read-only where TANDEM_CONFIG names it, and it is a valid Tandem config', async () => {
    const env = find(objects, 'ConfigMap', 'tandem-env').data as Record<string, string>;
    expect(env.TANDEM_CONFIG).toBe('/app/config/tandem.config.json');
    const speed = find(objects, 'Deployment', 'tandem-speed');
    expect(container(speed).volumeMounts).toContainEqual({
      name: 'config',
      mountPath: '/app/config',
      readOnly: true,
    });
    expect(speed.spec.template.spec.volumes).toContainEqual({
      name: 'config',
      configMap: {
        name: 'tandem-config',
        items: [{ key: 'tandem.config.json', path: 'tandem.config.json' }],
      },
    });
    const content = find(objects, 'ConfigMap', 'tandem-config').data['tandem.config.json'] as string;
    const dir = mkdtempSync(join(tmpdir(), 'tandem-chart-config-'));
    writeFileSync(join(dir, 'tandem.config.json'), content);
    const checked = await runEntrypoint(
      entry,
      ['config', 'check', join(dir, 'tandem.config.json')],
      repoRoot,
    );
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain('valid — 1 stream (iot), 1 view');
  });

  it('run each Deployment on the streams it names, from the pinned image', async () => {
    for (const component of ['speed', 'archiver']) {
      const spec = container(find(objects, 'Deployment', `tandem-${component}`));
      expect(spec.args).toEqual([
        component,
        '--metrics-port',
        component === 'speed' ? '9464' : '9465',
        '--stream',
        'iot',
      ]);
      expect(spec.image).toBe(
        'analytics/tandem@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      );
      const help = await runEntrypoint(entry, [...spec.args, '--help'], repoRoot);
      expect(help.code).toBe(0);
    }
    expect(find(objects, 'Deployment', 'tandem-speed').spec.replicas).toBe(3);
    expect(find(objects, 'PodDisruptionBudget', 'tandem-archiver').spec).toMatchObject({ minAvailable: 1 });
    expect(find(objects, 'PodDisruptionBudget', 'tandem-archiver').spec.maxUnavailable).toBeUndefined();
  });

  it('scrape /metrics of speed, archiver and serve through their Services', () => {
    const monitors = Object.fromEntries(
      ['speed', 'archiver', 'serve'].map((c) => [c, find(objects, 'ServiceMonitor', `tandem-${c}`)]),
    );
    for (const [component, monitor] of Object.entries(monitors)) {
      expect(monitor.metadata.labels.release).toBe('prometheus');
      expect(monitor.spec.endpoints).toEqual([
        {
          port: component === 'serve' ? 'http' : 'metrics',
          path: '/metrics',
          interval: '30s',
          scrapeTimeout: '10s',
        },
      ]);
    }
  });

  it('restart pods when a credential changes (checksums on the pod template)', async () => {
    const changed = await render('full', ['--set', 'redis.password=rotated']);
    const after = await decode(changed.stdout);
    for (const component of ['speed', 'serve']) {
      const before = find(objects, 'Deployment', `tandem-${component}`).spec.template.metadata.annotations;
      const now = find(after, 'Deployment', `tandem-${component}`).spec.template.metadata.annotations;
      expect(now['checksum/credentials']).not.toBe(before['checksum/credentials']);
      expect(now['checksum/env']).toBe(before['checksum/env']);
    }
  });
});

describe('the values of a platform team that brings its own Secrets and ConfigMap', () => {
  it('render no Secret, and reference only what the team provides', async () => {
    const rendered = await render('existing-secrets');
    expect(rendered.code).toBe(0);
    // Without being told these exist, the checker refuses the references.
    const unchecked = await run(join(bin, 'manifest-check'), [], rendered.stdout);
    expect(unchecked.code).toBe(1);
    for (const missing of [
      'ConfigMap "tandem-streams"',
      'Secret "tandem-credentials"',
      'Secret "tandem-api-keys"',
    ]) {
      expect(unchecked.stderr).toContain(missing);
    }
    const objects = await decode(rendered.stdout, [
      'tandem-streams',
      'tandem-credentials',
      'tandem-api-keys',
    ]);
    expect(names(objects)).toEqual(
      [
        'ConfigMap/tandem-env',
        'Deployment/tandem-archiver',
        'Deployment/tandem-serve',
        'Deployment/tandem-speed',
        'PodDisruptionBudget/tandem-archiver',
        'PodDisruptionBudget/tandem-serve',
        'Service/tandem-archiver',
        'Service/tandem-serve',
        'Service/tandem-speed',
      ].sort(),
    );
    const env = find(objects, 'ConfigMap', 'tandem-env').data as Record<string, string>;
    expect(env.TANDEM_CONFIG).toBe('/app/config/tandem.config.ts');
    expect(env.KAFKA_SASL_MECHANISM).toBe('scram-sha-256');
    const serve = find(objects, 'Deployment', 'tandem-serve');
    expect(serve.spec.template.spec.serviceAccountName).toBe('tandem');
    expect(container(serve).envFrom).toEqual([
      { configMapRef: { name: 'tandem-env' } },
      { secretRef: { name: 'tandem-credentials' } },
      { secretRef: { name: 'tandem-api-keys' } },
    ]);
  });
});

describe('a Redis Cluster', () => {
  it('is named by its nodes instead of a URL, and every component gets them', async () => {
    const rendered = await render('minimal', [
      '--set',
      'redis.url=',
      '--set',
      'redis.clusterNodes=redis-0.redis:6379\\,redis-1.redis:6379',
    ]);
    expect(rendered.stderr).toBe('');
    expect(rendered.code).toBe(0);
    const objects = await decode(rendered.stdout);
    const env = find(objects, 'ConfigMap', 'tandem-env').data;
    expect(env.REDIS_CLUSTER_NODES).toBe('redis-0.redis:6379,redis-1.redis:6379');
    expect(env).not.toHaveProperty('REDIS_URL');
    expect(env.REDIS_PREFIX).toBe('tandem');
  });
});

describe('values the chart refuses', () => {
  it.each([
    [[], 'kafka.brokers is required'],
    [['--set', 'lake.url=file:///data/lake'], 'lake'],
    [['--set', 'redis.url=redis://user:secret@redis:6379'], 'redis.url carries credentials'],
    [['--set', 'redis.clusterNodes=redis-0:6379'], 'set redis.url or redis.clusterNodes, not both'],
    [['--set', 'redis.url=', '--set', 'redis.clusterNodes=redis-0'], 'clusterNodes'],
    [['--set', 'speed.replicas=3'], 'replicas'],
    [['--set', 'config.fileName=streams.yaml'], 'fileName'],
  ])('helm template with minimal values and %j fails naming %s', async (extra, message) => {
    const values = extra.length === 0 ? null : 'minimal';
    const rendered = await render(values, extra);
    expect(rendered.code).toBe(1);
    expect(rendered.stderr).toContain(message);
  });
});

describe('manifest-check', () => {
  let manifests: string;
  beforeAll(async () => {
    manifests = (await render('minimal')).stdout;
  });

  it.each([
    [
      'an unknown field',
      (m: string) => m.replace('  revisionHistoryLimit: 5', '  revisionHistoryLimit: 5\n  replica: 3'),
      'unknown field "spec.replica"',
    ],
    [
      'a duplicate field',
      (m: string) =>
        m.replace('  revisionHistoryLimit: 5', '  revisionHistoryLimit: 5\n  revisionHistoryLimit: 6'),
      'revisionHistoryLimit',
    ],
    ['a wrong type', (m: string) => m.replace(/replicas: 2/, 'replicas: two'), 'replicas'],
    ['a bad quantity', (m: string) => m.replace('memory: 384Mi', 'memory: 384 MiB'), 'quantities must match'],
    [
      'an unregistered version',
      (m: string) => m.replace('apiVersion: policy/v1', 'apiVersion: policy/v1beta1'),
      'policy/v1beta1',
    ],
    [
      'a probe on a port the container lacks',
      (m: string) =>
        m.replace('path: /readyz\n              port: http', 'path: /readyz\n              port: web'),
      'readinessProbe port web is not a port of the container',
    ],
    [
      'a Service selector that selects nothing',
      (m: string) =>
        m.replace(
          '  selector:\n    app.kubernetes.io/name: tandem\n    app.kubernetes.io/instance: tandem\n    app.kubernetes.io/component: speed\n',
          '  selector:\n    app.kubernetes.io/name: tandem\n    app.kubernetes.io/instance: tandem\n    app.kubernetes.io/component: sped\n',
        ),
      'selects the pods of 0 Deployments',
    ],
  ])('refuses %s', async (_what, corrupt, message) => {
    const corrupted = corrupt(manifests);
    expect(corrupted).not.toBe(manifests);
    const checked = await run(join(bin, 'manifest-check'), [], corrupted);
    expect(checked.code).toBe(1);
    expect(checked.stderr).toContain(message);
  });
});
