// Proves the Helm chart in charts/tapline by rendering it as Helm does and checking what comes out,
// not its template source. tools/chart-render (Go text/template + sprig + Helm's functions, built
// here from Debian's Go packages; the suite skips, saying so, only where Go is missing) renders the
// default values and every charts/tapline/ci/*.yaml; every rendered object must parse and validate
// against the Kubernetes (and prometheus-operator) API schemas of the kubernetes-models packages
// (scripts/validate-manifests.mjs). values.schema.json is checked with ajv: values.yaml merged with
// each ci file must pass, each test/fixtures/chart-values/invalid-*.yaml must fail at the path its
// first line names. Then what operations rely on, read from the rendered objects: secrets only by
// secretKeyRef, the doors secure with no off switch (certificates and CA bundles mounted whole so
// they rotate, node certificates naming their pod, token issuers from a Secret), probes that do not
// depend on migrations, the migration hook, network policies (the internal port for this release's
// authorizers only), monitors and budgets for every workload, the grace periods, and alert
// expressions that parse as PromQL and link runbook anchors that exist in docs/OPERATIONS.md.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Ajv from 'ajv';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

/** Finds the repository's charts/tapline, from the source tree or from the compiled dist/ tree. */
function findChartDir(): string {
  for (const start of [__dirname, process.cwd()]) {
    let dir = start;
    for (;;) {
      const candidate = path.join(dir, 'charts', 'tapline');
      if (fs.existsSync(path.join(candidate, 'Chart.yaml'))) return candidate;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error(`charts/tapline not found above ${__dirname} or ${process.cwd()}`);
}

const chart_dir = findChartDir();
const repo_root = path.dirname(path.dirname(chart_dir));
const namespace = 'payments';
const release = 'tapline';
const ci_files = fs
  .readdirSync(path.join(chart_dir, 'ci'))
  .filter((name) => name.endsWith('.yaml'))
  .sort();
const invalid_dir = path.join(repo_root, 'test', 'fixtures', 'chart-values');
const invalid_files = fs
  .readdirSync(invalid_dir)
  .filter((name) => name.startsWith('invalid-') && name.endsWith('.yaml'))
  .sort();

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
};

function readYaml(file: string): Record<string, unknown> {
  return (parseYaml(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
}

/** Helm's coalescing of values files: maps merge recursively, anything else is replaced, null deletes. */
function coalesce(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    if (value === null) delete out[key];
    else if (isMap(value) && isMap(current)) out[key] = coalesce(current, value);
    else out[key] = value;
  }
  return out;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

let renderer: string | undefined;

function buildRenderer(): string | undefined {
  if (spawnSync('go', ['version']).status !== 0) return undefined;
  const out = path.join(tmpdir(), 'tapline-chart-render', 'chart-render');
  const build = spawnSync('go', ['build', '-o', out, './tools/chart-render'], {
    cwd: repo_root,
    encoding: 'utf8',
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: '/usr/share/gocode',
      GOCACHE: path.join(tmpdir(), 'tapline-chart-render', 'go-cache'),
    },
  });
  assert.equal(build.status, 0, `go build of tools/chart-render failed: ${build.stderr}`);
  return out;
}

interface Rendered {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function render(valueFiles: readonly string[], extra: readonly string[] = []): Rendered {
  assert.ok(renderer !== undefined, 'assertion: the renderer is built before rendering');
  const run = spawnSync(
    renderer,
    [
      '--name',
      release,
      '--namespace',
      namespace,
      '--api-versions',
      'monitoring.coreos.com/v1',
      ...valueFiles.flatMap((file) => ['-f', file]),
      ...extra,
      chart_dir,
    ],
    { encoding: 'utf8' },
  );
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function renderObjects(valueFiles: readonly string[]): K8sObject[] {
  const run = render(valueFiles);
  assert.equal(run.status, 0, `rendering with ${valueFiles.map((f) => path.basename(f)).join(', ')} failed: ${run.stderr}`);
  return parseAllDocuments(run.stdout).map((document) => {
    assert.deepEqual(document.errors, [], `a rendered document is not valid YAML: ${String(document)}`);
    return document.toJS() as K8sObject;
  });
}

function renderValues(values: Record<string, unknown>): Rendered {
  const file = path.join(fs.mkdtempSync(path.join(tmpdir(), 'tapline-values-')), 'values.yaml');
  fs.writeFileSync(file, JSON.stringify(values));
  return render([file]);
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind} ${name} is rendered; rendered: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

function podSpec(workload: K8sObject): any {
  return workload.spec.template.spec;
}

function container(workload: K8sObject, name?: string): any {
  const containers = podSpec(workload).containers as any[];
  return name === undefined ? containers[0] : containers.find((c) => c.name === name);
}

function env(c: any, name: string): any {
  return (c.env as any[] | undefined)?.find((e) => e.name === name);
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

const ci = (name: string): string => path.join(chart_dir, 'ci', name);

describe('helm chart charts/tapline (rendered as helm template does)', function () {
  before(function () {
    this.timeout(120_000);
    renderer = buildRenderer();
    if (renderer === undefined) {
      process.stdout.write('      (skipped: no Go toolchain; scripts/ensure-system-deps.sh installs golang-go and sprig)\n');
      this.skip();
    }
  });

  describe('values.schema.json (ajv)', function () {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(chart_dir, 'values.schema.json'), 'utf8')));
    const defaults = readYaml(path.join(chart_dir, 'values.yaml'));

    it('values.yaml alone, and merged with every ci/*.yaml, passes', function () {
      assert.ok(ci_files.length >= 3, `ci/ holds values files; found ${ci_files.join(', ')}`);
      assert.ok(validate(defaults), `values.yaml: ${ajv.errorsText(validate.errors)}`);
      for (const file of ci_files)
        assert.ok(validate(coalesce(defaults, readYaml(ci(file)))), `ci/${file}: ${ajv.errorsText(validate.errors)}`);
    });

    for (const file of invalid_files) {
      it(`${file} fails where its first line says`, function () {
        const text = fs.readFileSync(path.join(invalid_dir, file), 'utf8');
        const expected = /^# error at: (\S+)(?: (\S+))?/.exec(text);
        assert.ok(expected, `${file} starts with "# error at: <instancePath> [property]"`);
        assert.equal(validate(coalesce(defaults, readYaml(path.join(invalid_dir, file)))), false, `${file} must be refused`);
        const at = expected[1] === '(root)' ? '' : expected[1];
        const errors = validate.errors ?? [];
        assert.ok(
          errors.some((e) => e.instancePath === at && (expected[2] === undefined || JSON.stringify(e.params).includes(expected[2]))),
          `${file}: expected an error at ${expected[1]} ${expected[2] ?? ''}; got ${ajv.errorsText(errors)}`,
        );
      });
    }

    it('every value in values.yaml has a comment on it or on an enclosing key', function () {
      const lines = fs.readFileSync(path.join(chart_dir, 'values.yaml'), 'utf8').split('\n');
      const stack: { indent: number; commented: boolean; key: string }[] = [];
      const uncommented: string[] = [];
      lines.forEach((line, index) => {
        const m = /^(\s*)([A-Za-z0-9_.-]+):(.*)$/.exec(line);
        if (m === null) return;
        const indent = (m[1] ?? '').length;
        const key = m[2] ?? '';
        while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? -1) >= indent) stack.pop();
        let previous = index - 1;
        while (previous >= 0 && (lines[previous] ?? '').trim() === '') previous--;
        const own = (previous >= 0 && (lines[previous] ?? '').trim().startsWith('#')) || /\s#\s/.test(m[3] ?? '');
        const commented = own || stack.some((entry) => entry.commented);
        let next = index + 1;
        while (next < lines.length && /^\s*(#.*)?$/.test(lines[next] ?? '')) next++;
        const child = /^(\s*)[A-Za-z0-9_.-]+:/.exec(lines[next] ?? '');
        const grouping = (m[3] ?? '').trim() === '' && child !== null && (child[1] ?? '').length > indent;
        if (!commented && !grouping) uncommented.push([...stack.map((entry) => entry.key), key].join('.'));
        stack.push({ indent, commented, key });
      });
      assert.deepEqual(uncommented, [], `values without a comment saying why: ${uncommented.join(', ')}`);
    });
  });

  describe('rendering', function () {
    it('refuses to render without Redis, with a message saying what to set', function () {
      const run = render([]);
      assert.equal(run.status, 1);
      assert.match(run.stderr, /redis\.url/);
    });

    it('refuses a termination grace period that does not cover the shutdown grace', function () {
      const run = renderValues({
        redis: { url: 'redis://r:6379' },
        clickhouse: { url: 'http://c:8123' },
        terminationGracePeriodSeconds: 20,
      });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /terminationGracePeriodSeconds \(20 s\) must be greater than/);
    });

    it("passes a maximum connection age to the nodes when set, and keeps the authorizer's default otherwise", function () {
      const configOf = (values: Record<string, unknown>): Record<string, string> | undefined => {
        const run = renderValues({ ...readYaml(ci('default-values.yaml')), ...values });
        assert.equal(run.status, 0, run.stderr);
        const objects = parseAllDocuments(run.stdout).map((document) => document.toJS() as K8sObject);
        return find(objects, 'ConfigMap', 'tapline').data;
      };
      assert.equal(configOf({})?.['TAPLINE_GRPC_CONNECTION_AGE_MAX_MS'], undefined);
      const base = readYaml(ci('default-values.yaml')) as { config?: Record<string, unknown> };
      const set = configOf({ config: { ...base.config, connectionAgeMaxMs: 600_000 } });
      assert.equal(set?.['TAPLINE_GRPC_CONNECTION_AGE_MAX_MS'], '600000');
    });

    it('gives every workload the Redis deployment shape, and the streamer and migrations the ClickHouse cluster', function () {
      const run = renderValues({
        // The doors' settings of the least install; the Redis and ClickHouse shapes under test.
        ...readYaml(ci('default-values.yaml')),
        redis: {
          url: 'redis://:pw@unused:6379',
          mode: 'sentinel',
          sentinels: ['s-0.redis:26379', 's-1.redis:26379', 's-2.redis:26379'],
          waitReplicas: 1,
        },
        clickhouse: { url: 'http://c:8123', cluster: 'tapline', insertQuorum: 2 },
      });
      assert.equal(run.status, 0, run.stderr);
      const objects = parseAllDocuments(run.stdout).map((document) => document.toJS() as K8sObject);
      const workloads = [
        container(find(objects, 'StatefulSet', 'tapline'), 'authorizer'),
        container(find(objects, 'Deployment', 'tapline-streamer')),
        container(find(objects, 'Deployment', 'tapline-reports')),
      ];
      for (const c of workloads) {
        assert.equal(env(c, 'TAPLINE_REDIS_MODE')?.value, 'sentinel', c.name);
        assert.equal(env(c, 'TAPLINE_REDIS_SENTINELS')?.value, 's-0.redis:26379,s-1.redis:26379,s-2.redis:26379', c.name);
        assert.equal(env(c, 'TAPLINE_REDIS_SENTINEL_NAME')?.value, 'tapline', c.name);
        assert.equal(env(c, 'TAPLINE_REDIS_WAIT_REPLICAS')?.value, '1', c.name);
      }
      for (const c of [container(find(objects, 'Deployment', 'tapline-streamer')), container(find(objects, 'Job', 'tapline-migrate'))]) {
        assert.equal(env(c, 'TAPLINE_CLICKHOUSE_CLUSTER')?.value, 'tapline', c.name);
        assert.equal(env(c, 'TAPLINE_CLICKHOUSE_INSERT_QUORUM')?.value, '2', c.name);
      }
      const cluster = renderValues({
        ...readYaml(ci('default-values.yaml')),
        redis: { url: 'redis://unused:6379', mode: 'cluster', clusterNodes: ['r-0.redis:6379'] },
        clickhouse: { url: 'http://c:8123' },
      });
      assert.equal(cluster.status, 0, cluster.stderr);
      const authorizer = container(
        find(
          parseAllDocuments(cluster.stdout).map((document) => document.toJS() as K8sObject),
          'StatefulSet',
          'tapline',
        ),
        'authorizer',
      );
      assert.equal(env(authorizer, 'TAPLINE_REDIS_CLUSTER_NODES')?.value, 'r-0.redis:6379');
      assert.equal(env(authorizer, 'TAPLINE_REDIS_WAIT_REPLICAS'), undefined, "the processes' own default");
      const missing = renderValues({
        ...readYaml(ci('default-values.yaml')),
        redis: { url: 'redis://unused:6379', mode: 'sentinel' },
        clickhouse: { url: 'http://c:8123' },
      });
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /redis\.sentinels is required/);
    });

    it('refuses Mollie without its API key Secret and its URLs', function () {
      const run = renderValues({ redis: { url: 'redis://r:6379' }, clickhouse: { url: 'http://c:8123' }, psp: { provider: 'mollie' } });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /psp\.provider=mollie needs secrets\.mollie\.existingSecret/);
    });

    it('refuses a streamer without ClickHouse', function () {
      const run = renderValues({ redis: { url: 'redis://r:6379' } });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /clickhouse\.url/);
    });

    it('refuses to render doors without their CA bundles, node certificates or token issuers, naming what to set', function () {
      const base = readYaml(ci('default-values.yaml'));
      const without = (path: readonly string[]): Record<string, unknown> => {
        const values = structuredClone(base);
        let at: Record<string, unknown> = values;
        for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
        at[path[path.length - 1] as string] = '';
        return values;
      };
      for (const [path, message] of [
        [['tls', 'clientCa', 'secretName'], /tls\.clientCa\.secretName/],
        [['tls', 'clusterCa', 'secretName'], /tls\.clusterCa\.secretName/],
        [['tls', 'node', 'issuer', 'name'], /tls\.node\.issuer\.name/],
        [['oidc', 'issuers', 'existingSecret'], /oidc\.issuers\.existingSecret/],
        [['reports', 'tls', 'secretName'], /reports\.tls\.secretName/],
        [['reports', 'authorizerToken', 'existingSecret'], /reports\.authorizerToken\.existingSecret/],
      ] as const) {
        const run = renderValues(without(path));
        assert.equal(run.status, 1, `${path.join('.')} empty must be refused`);
        assert.match(run.stderr, message);
      }
    });

    it('NOTES.txt renders for every ci/*.yaml and tells how to check the release', function () {
      for (const file of ci_files) {
        const notes = render([ci(file)], ['--notes']);
        assert.equal(notes.status, 0, `${file}: ${notes.stderr}`);
        assert.match(notes.stdout, /grpc\.health\.v1\.Health\/Check/, `${file}: NOTES name the health check`);
        assert.doesNotMatch(notes.stdout, /PASSWORD|:\/\/[^/\s]*:[^/\s]*@/, `${file}: NOTES show no credentials`);
      }
    });

    for (const file of ci_files) {
      it(`ci/${file}: every object parses and validates against the Kubernetes API schemas`, function () {
        this.timeout(60_000);
        const objects = renderObjects([ci(file)]);
        assert.ok(objects.length >= 4, `rendered ${objects.length} objects`);
        const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
        assert.deepEqual(
          keys.filter((key, index) => keys.indexOf(key) !== index),
          [],
          'no two objects share kind, namespace and name',
        );
        for (const o of objects) assert.ok(o.metadata.namespace, `${o.kind}/${o.metadata.name} names its namespace`);
        const validation = spawnSync(process.execPath, [path.join(repo_root, 'scripts', 'validate-manifests.mjs')], {
          cwd: repo_root,
          input: JSON.stringify(objects),
          encoding: 'utf8',
        });
        assert.equal(validation.status, 0, validation.stderr);
        const results = JSON.parse(validation.stdout) as { kind: string; name: string; error: string | null }[];
        assert.equal(results.length, objects.length);
        assert.deepEqual(
          results.filter((r) => r.error !== null),
          [],
          'every object is valid for its API',
        );
        // Every Service selects the pods of some workload it was written for.
        const workloads = objects.filter((o) => ['StatefulSet', 'Deployment'].includes(o.kind));
        for (const service of objects.filter((o) => o.kind === 'Service'))
          assert.ok(
            workloads.some((w) => matches(service.spec.selector, w.spec.template.metadata.labels)),
            `Service ${service.metadata.name} selects a workload's pods`,
          );
        // Every container's env names are unique (a duplicate silently wins by order).
        for (const w of objects.filter((o) => ['StatefulSet', 'Deployment', 'Job'].includes(o.kind)))
          for (const c of podSpec(w).containers as any[]) {
            const names = ((c.env as any[] | undefined) ?? []).map((e) => e.name as string);
            assert.deepEqual(
              names.filter((n, i) => names.indexOf(n) !== i),
              [],
              `${w.metadata.name}/${c.name} sets each variable once`,
            );
          }
      });
    }
  });

  describe('what operations rely on (ci/default-values.yaml)', function () {
    let objects: K8sObject[];
    before(function () {
      objects = renderObjects([ci('default-values.yaml')]);
    });

    it('authorizer: node id from the pod name, probes on the metrics port, non-root with a read-only root', function () {
      const set = find(objects, 'StatefulSet', 'tapline');
      const c = container(set, 'authorizer');
      assert.deepEqual(env(c, 'TAPLINE_NODE_ID').valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
      assert.equal(env(c, 'TAPLINE_ADVERTISE_ADDRESS').value, `$(TAPLINE_NODE_ID).tapline-headless.${namespace}.svc:50052`);
      assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
      assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(podSpec(set).securityContext.runAsNonRoot, true);
      assert.ok(set.spec.template.spec.terminationGracePeriodSeconds * 1000 > 20_000, 'grace exceeds the shutdown grace');
      const config = find(objects, 'ConfigMap', 'tapline');
      assert.equal(config.data?.['TAPLINE_SHARD_COUNT'], '256');
      assert.equal(config.data?.['TAPLINE_REDIS_URL'], undefined, 'the Redis URL is not in a ConfigMap (it may hold a password)');
      assert.equal(env(c, 'TAPLINE_REDIS_URL').value, 'redis://redis-master.data.svc:6379');
    });

    it('streamer: liveness on /healthz and readiness on /readyz (never /metrics), streams with --skip-migrations', function () {
      const streamer = find(objects, 'Deployment', 'tapline-streamer');
      const c = container(streamer);
      assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
      assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
      assert.deepEqual(c.args, ['--skip-migrations']);
      assert.deepEqual(env(c, 'TAPLINE_NODE_ID').valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
      assert.equal(env(c, 'TAPLINE_SHARD_COUNT').value, '256', 'the authorizer shard count');
    });

    it('migrations run in a Job that Helm runs before install and upgrade', function () {
      const job = find(objects, 'Job', 'tapline-migrate');
      assert.equal(job.metadata.annotations?.['helm.sh/hook'], 'pre-install,pre-upgrade');
      const c = container(job);
      assert.deepEqual(c.args, ['--migrate-only']);
      assert.deepEqual(c.command, ['node', 'dist/services/streamer/main.js']);
      assert.equal(env(c, 'TAPLINE_CLICKHOUSE_URL').value, 'http://clickhouse.data.svc:8123');
      assert.equal(podSpec(job).restartPolicy, 'Never');
      assert.ok(job.spec.activeDeadlineSeconds > 0, 'the Job is bounded in time');
    });

    it('reports: probes on /healthz, the authorizer address of this release', function () {
      const reports = find(objects, 'Deployment', 'tapline-reports');
      const c = container(reports);
      assert.deepEqual(c.readinessProbe.httpGet, { path: '/healthz', port: 'http', scheme: 'HTTPS' });
      assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http', scheme: 'HTTPS' });
      assert.equal(env(c, 'TAPLINE_AUTHORIZER_GRPC_ADDRESS').value, `tapline.${namespace}.svc:50053`);
      const service = find(objects, 'Service', 'tapline');
      assert.deepEqual(
        (service.spec.ports as any[]).map((p) => [p.name, p.port]),
        [
          ['grpc', 50051],
          ['operator', 50053],
        ],
        'the client Service has both public doors; the operator door is that address',
      );
    });

    it('doors: TLS files from whole volumes (they rotate), the node certificate naming its pod, issuers from a Secret, no plaintext switch', function () {
      const set = find(objects, 'StatefulSet', 'tapline');
      const c = container(set, 'authorizer');
      const mounts = new Map((c.volumeMounts as any[]).map((m) => [m.name as string, m]));
      const volumes = new Map((podSpec(set).volumes as any[]).map((v) => [v.name as string, v]));
      for (const [name, file] of [
        ['node-tls', 'TAPLINE_TLS_CERT_FILE'],
        ['node-tls', 'TAPLINE_TLS_KEY_FILE'],
        ['cluster-ca', 'TAPLINE_TLS_CLUSTER_CA_FILE'],
        ['client-ca', 'TAPLINE_TLS_CLIENT_CA_FILE'],
      ] as const) {
        const mount = mounts.get(name);
        assert.ok(mount !== undefined && volumes.has(name), `${name} is mounted`);
        assert.equal(mount.subPath, undefined, `${name} is mounted whole, so a rotated Secret reaches the pod`);
        assert.ok((env(c, file).value as string).startsWith(`${mount.mountPath}/`), `${file} is in ${name}`);
      }
      assert.equal(volumes.get('client-ca').secret.secretName, 'tapline-terminal-ca');
      assert.equal(volumes.get('cluster-ca').secret.secretName, 'tapline-node-ca');
      const csi = volumes.get('node-tls').csi;
      assert.equal(csi.driver, 'csi.cert-manager.io');
      assert.equal(
        csi.volumeAttributes['csi.cert-manager.io/uri-sans'],
        'spiffe://tapline/node/${POD_NAME}',
        'the certificate names the pod',
      );
      assert.match(csi.volumeAttributes['csi.cert-manager.io/dns-names'], /^\$\{POD_NAME\}\.tapline-headless\.\$\{POD_NAMESPACE\}\.svc,/);
      assert.deepEqual(env(c, 'TAPLINE_OIDC_ISSUERS').valueFrom, { secretKeyRef: { name: 'tapline-oidc', key: 'issuers' } });
      const config = find(objects, 'ConfigMap', 'tapline');
      assert.equal(config.data?.['TAPLINE_OPERATOR_PORT'], '50053');
      assert.deepEqual(
        (c.ports as any[]).map((p) => p.name),
        ['grpc', 'operator', 'metrics', 'internal'],
      );
      for (const o of objects)
        assert.doesNotMatch(JSON.stringify(o), /TAPLINE_DEV_PLAINTEXT/, `${o.kind}/${o.metadata.name} has no plaintext switch`);
      const reports = container(find(objects, 'Deployment', 'tapline-reports'));
      assert.deepEqual(env(reports, 'TAPLINE_OIDC_ISSUERS').valueFrom, { secretKeyRef: { name: 'tapline-oidc', key: 'issuers' } });
      assert.equal(env(reports, 'TAPLINE_AUTHORIZER_CA_FILE').value, '/etc/tapline/tls/cluster-ca/ca.crt');
      assert.equal(env(reports, 'TAPLINE_AUTHORIZER_TOKEN_FILE').value, '/etc/tapline/authorizer-token/token');
    });

    it('network policy: the internal port only from this release’s authorizers', function () {
      const policy = find(objects, 'NetworkPolicy', 'tapline');
      const set = find(objects, 'StatefulSet', 'tapline');
      assert.ok(matches(policy.spec.podSelector.matchLabels, set.spec.template.metadata.labels), 'it applies to the authorizers');
      const internal = (policy.spec.ingress as any[]).filter((rule) => (rule.ports as any[]).some((p) => p.port === 'internal'));
      assert.equal(internal.length, 1);
      assert.deepEqual(
        internal[0].from.map((peer: any) => Object.keys(peer)),
        [['podSelector']],
        'only a pod selector, no namespace or IP block',
      );
      assert.ok(matches(internal[0].from[0].podSelector.matchLabels, set.spec.template.metadata.labels));
      for (const other of ['tapline-streamer', 'tapline-reports'])
        assert.ok(
          !matches(internal[0].from[0].podSelector.matchLabels, find(objects, 'Deployment', other).spec.template.metadata.labels),
          `${other} pods may not reach the internal port`,
        );
      const ports = (set.spec.template.spec.containers[0].ports as any[]).map((p) => p.name as string);
      assert.ok(
        ports.includes('internal') && ports.includes('grpc') && ports.includes('metrics'),
        'the policy names ports the pods declare',
      );
    });

    it('every workload has a disruption budget selecting its pods', function () {
      for (const [budget, kind, workload] of [
        ['tapline', 'StatefulSet', 'tapline'],
        ['tapline-streamer', 'Deployment', 'tapline-streamer'],
        ['tapline-reports', 'Deployment', 'tapline-reports'],
      ] as const)
        assert.ok(
          matches(
            find(objects, 'PodDisruptionBudget', budget).spec.selector.matchLabels,
            find(objects, kind, workload).spec.template.metadata.labels,
          ),
          `PDB ${budget} selects ${workload}`,
        );
    });

    it('dashboards ship as ConfigMaps labelled for the Grafana sidecar, one per JSON file, intact', function () {
      const files = fs.readdirSync(path.join(chart_dir, 'dashboards')).filter((f) => f.endsWith('.json'));
      const maps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.['grafana_dashboard'] === '1');
      assert.equal(maps.length, files.length);
      for (const file of files) {
        const map = maps.find((m) => m.data?.[file] !== undefined);
        assert.ok(map, `${file} is shipped`);
        assert.deepEqual(JSON.parse(map.data?.[file] ?? ''), JSON.parse(fs.readFileSync(path.join(chart_dir, 'dashboards', file), 'utf8')));
      }
    });
  });

  describe('production-shaped values (ci/production-values.yaml)', function () {
    let objects: K8sObject[];
    before(function () {
      objects = renderObjects([ci('production-values.yaml')]);
    });

    it('portal: HTTPS probes on /login, both backends of this release, its key and staff accounts from whole Secrets, a budget', function () {
      const portal = find(objects, 'Deployment', 'tapline-portal');
      const c = container(portal);
      assert.deepEqual(c.readinessProbe.httpGet, { path: '/login', port: 'https', scheme: 'HTTPS' });
      assert.equal(env(c, 'TAPLINE_AUTHORIZER_GRPC_ADDRESS').value, 'tapline.payments.svc:50053');
      assert.equal(env(c, 'TAPLINE_REPORTS_URL').value, `https://tapline-reports.${namespace}.svc:9470`);
      assert.equal(env(c, 'TAPLINE_PORTAL_ISSUER').value, 'https://portal.payments.example/');
      const secrets = (podSpec(portal).volumes as any[]).filter((v) => v.secret !== undefined).map((v) => v.secret.secretName);
      for (const name of ['tapline-portal-tls', 'tapline-portal-signing-key', 'tapline-portal-users'])
        assert.ok(secrets.includes(name), `${name} mounted`);
      assert.ok(find(objects, 'PodDisruptionBudget', 'tapline-portal'));
      assert.ok(find(objects, 'Service', 'tapline-portal'));
    });

    it('secrets reach the pods only through secretKeyRef; no ConfigMap holds one', function () {
      const authorizer = container(find(objects, 'StatefulSet', 'tapline'));
      assert.deepEqual(env(authorizer, 'TAPLINE_PIN_SECRET').valueFrom, { secretKeyRef: { name: 'tapline-secrets', key: 'pin-secret' } });
      for (const [name, key] of [
        ['TAPLINE_MOLLIE_API_KEY', 'mollie-api-key'],
        ['TAPLINE_CARD_AUTH_KEYS', 'card-auth-keys'],
        ['TAPLINE_TOKEN_SECRET', 'token-secret'],
      ] as const)
        assert.deepEqual(env(authorizer, name).valueFrom, { secretKeyRef: { name: 'tapline-secrets', key } }, name);
      assert.equal(
        authorizer.env?.find((e: { name: string }) => e.name === 'TAPLINE_PSP_SECRET'),
        undefined,
        'the production image refuses TAPLINE_PSP_SECRET',
      );
      assert.deepEqual(env(authorizer, 'TAPLINE_REDIS_URL').valueFrom, { secretKeyRef: { name: 'tapline-redis', key: 'url' } });
      for (const [kind, name] of [
        ['Deployment', 'tapline-streamer'],
        ['Deployment', 'tapline-reports'],
        ['Job', 'tapline-migrate'],
      ] as const)
        assert.deepEqual(
          env(container(find(objects, kind, name)), 'TAPLINE_CLICKHOUSE_URL').valueFrom,
          { secretKeyRef: { name: 'tapline-clickhouse', key: 'url' } },
          `${name} reads the ClickHouse URL (with its credentials) from the Secret`,
        );
      for (const map of objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.['grafana_dashboard'] === undefined))
        for (const key of Object.keys(map.data ?? {}))
          assert.doesNotMatch(key, /SECRET|REDIS_URL|CLICKHOUSE_URL/, `${map.metadata.name} holds no secret`);
      assert.deepEqual(env(authorizer, 'TAPLINE_OIDC_ISSUERS').valueFrom, { secretKeyRef: { name: 'tapline-oidc', key: 'issuers.json' } });
      const set = find(objects, 'StatefulSet', 'tapline');
      assert.ok(
        (podSpec(set).volumes as any[]).some((v) => v.secret?.secretName === 'tapline-operator-keys'),
        'extra Secrets mount by name',
      );
      for (const secret of ['tapline-node-ca', 'tapline-terminal-ca', 'tapline-revoked-serials', 'tapline-break-glass-jwks'])
        assert.ok(
          (podSpec(set).volumes as any[]).some((v) => v.secret?.secretName === secret),
          `the Secret ${secret} mounts by name`,
        );
      assert.equal(env(authorizer, 'TAPLINE_TLS_REVOKED_FILE').value, '/etc/tapline/tls/revoked/revoked-serials.txt');
      const csi = (podSpec(set).volumes as any[]).find((v) => v.name === 'node-tls').csi;
      assert.match(csi.volumeAttributes['csi.cert-manager.io/dns-names'], /,tapline\.payments\.example\.com$/);
      assert.equal(container(set).image, 'registry.example.com/tapline/tapline@sha256:' + '0'.repeat(64));
    });

    it('ServiceMonitors scrape the authorizer, the streamer and the reports service through Services that select them', function () {
      const monitors = objects.filter((o) => o.kind === 'ServiceMonitor');
      assert.deepEqual(monitors.map((m) => m.metadata.name).sort(), ['tapline', 'tapline-reports', 'tapline-streamer']);
      for (const monitor of monitors) {
        assert.equal(monitor.metadata.labels?.['release'], 'kube-prometheus-stack');
        const service = objects.find((o) => o.kind === 'Service' && matches(monitor.spec.selector.matchLabels, o.metadata.labels));
        assert.ok(service, `ServiceMonitor ${monitor.metadata.name} selects a Service`);
        const port = monitor.spec.endpoints[0].port as string;
        assert.ok(
          (service.spec.ports as any[]).some((p) => p.name === port),
          `${service.metadata.name} has the port ${port}`,
        );
      }
    });

    it('Mollie: configured from values, its webhook port on every authorizer, the client Service and the network policy', function () {
      const config = find(objects, 'ConfigMap', 'tapline').data ?? {};
      assert.deepEqual(
        [
          config['TAPLINE_PSP_PROVIDER'],
          config['TAPLINE_PSP_WEBHOOK_URL'],
          config['TAPLINE_PSP_WEBHOOK_PORT'],
          config['TAPLINE_MOLLIE_METHOD'],
        ],
        ['mollie', 'https://pay.example.com/psp/mollie/webhook', '8443', 'ideal'],
      );
      const ports = container(find(objects, 'StatefulSet', 'tapline')).ports as any[];
      assert.ok(ports.some((p) => p.name === 'psp-webhook' && p.containerPort === 8443));
      const service = find(objects, 'Service', 'tapline');
      assert.ok((service.spec.ports as any[]).some((p) => p.name === 'psp-webhook' && p.targetPort === 'psp-webhook'));
      const policy = find(objects, 'NetworkPolicy', 'tapline');
      assert.ok((policy.spec.ingress as any[]).some((rule) => (rule.ports as any[]).some((p) => p.port === 'psp-webhook')));
    });

    it('network policies name the configured peers', function () {
      const policy = find(objects, 'NetworkPolicy', 'tapline');
      const rule = (port: string): any => (policy.spec.ingress as any[]).find((r) => (r.ports as any[]).some((p) => p.port === port));
      assert.deepEqual(rule('grpc').from, [{ namespaceSelector: { matchLabels: { 'tapline.io/terminal-gateways': 'true' } } }]);
      const operator = rule('operator');
      assert.deepEqual(operator.from[0], { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'back-office' } } });
      assert.equal(operator.from.length, 3, 'the listed callers and this release’s reports and portal pods');
      assert.ok(
        matches(operator.from[1].podSelector.matchLabels, find(objects, 'Deployment', 'tapline-reports').spec.template.metadata.labels),
        'the reports service may call the operator door (live balances)',
      );
      assert.ok(
        matches(operator.from[2].podSelector.matchLabels, find(objects, 'Deployment', 'tapline-portal').spec.template.metadata.labels),
        'the portal may call the operator door (as the signed-in person)',
      );
      const internal = rule('internal');
      assert.equal(internal.from.length, 1);
      assert.ok(matches(internal.from[0].podSelector.matchLabels, find(objects, 'StatefulSet', 'tapline').spec.template.metadata.labels));
      const reports = find(objects, 'NetworkPolicy', 'tapline-reports');
      assert.equal(reports.spec.ingress[0].from.length, 3, 'reports readers, the scrapers and the portal');
    });

    it('alerts: every expression parses as PromQL and every runbook link names an anchor of docs/OPERATIONS.md', function () {
      const rule = find(objects, 'PrometheusRule', 'tapline');
      const rules = (rule.spec.groups as any[]).flatMap((g) => g.rules as any[]);
      const expected = [
        'TaplineStreamerLagging',
        'TaplineStreamerNotStreaming',
        'TaplineCommitsFenced',
        'TaplineShardsUnowned',
        'TaplineResourceExhausted',
        'TaplineAuthorizeLatencyHigh',
        'TaplineRedisErrors',
        'TaplineNoticesRelayStalled',
        'TaplineNoticesRelayLagging',
        'TaplineDeliveriesFailing',
        'TaplineOfflineDenylistStale',
        'TaplineCertificateExpiresSoon',
      ];
      assert.deepEqual(rules.map((r) => r.alert as string).sort(), [...expected].sort());
      const anchors = markdownAnchors(fs.readFileSync(path.join(repo_root, 'docs', 'OPERATIONS.md'), 'utf8'));
      for (const r of rules) {
        assertPromql(r.expr as string, `alert ${r.alert}`);
        assert.match(r.expr as string, new RegExp(`namespace="${namespace}"`), `${r.alert} is scoped to the release's namespace`);
        const url = r.annotations.runbook_url as string;
        assert.ok(url.startsWith('https://git.example.com/tapline/tapline/blob/main/docs/OPERATIONS.md#'), url);
        const anchor = url.slice(url.indexOf('#') + 1);
        assert.ok(anchors.has(anchor), `${r.alert}: docs/OPERATIONS.md has a heading for #${anchor}`);
        assert.ok(['warning', 'critical'].includes(r.labels.severity as string));
      }
    });
  });

  describe('authorizers only (ci/authorizer-only-values.yaml)', function () {
    it('renders no streamer, reports, migration Job or dashboards, and needs no ClickHouse', function () {
      const objects = renderObjects([ci('authorizer-only-values.yaml')]);
      const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      for (const absent of ['Deployment/tapline-streamer', 'Deployment/tapline-reports', 'Job/tapline-migrate', 'NetworkPolicy/tapline'])
        assert.ok(!names.includes(absent), `${absent} is not rendered`);
      assert.ok(names.includes('StatefulSet/tapline'));
    });

    it('node certificates from one Secret: each pod reads the files named after it', function () {
      const set = find(renderObjects([ci('authorizer-only-values.yaml')]), 'StatefulSet', 'tapline');
      const c = container(set);
      const names = (c.env as any[]).map((e) => e.name as string);
      assert.ok(names.indexOf('TAPLINE_NODE_ID') < names.indexOf('TAPLINE_TLS_CERT_FILE'), 'the pod name is set before it is expanded');
      assert.equal(env(c, 'TAPLINE_TLS_CERT_FILE').value, '/etc/tapline/tls/node/$(TAPLINE_NODE_ID).crt');
      assert.equal(env(c, 'TAPLINE_TLS_KEY_FILE').value, '/etc/tapline/tls/node/$(TAPLINE_NODE_ID).key');
      const volume = (podSpec(set).volumes as any[]).find((v) => v.name === 'node-tls');
      assert.deepEqual(volume.secret, { secretName: 'tapline-node-certificates', defaultMode: 288 });
    });
  });

  describe('dashboards (Prometheus queries)', function () {
    it('every Prometheus panel query parses as PromQL and reads a metric the services export', function () {
      const dashboard = JSON.parse(fs.readFileSync(path.join(chart_dir, 'dashboards', 'tapline-service-health.json'), 'utf8'));
      const targets = (dashboard.panels as any[]).flatMap((p) => (p.targets as any[] | undefined) ?? []);
      assert.ok(targets.length >= 25, `${targets.length} queries`);
      const ids = (dashboard.panels as any[]).map((p) => p.id as number);
      assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
      for (const target of targets) {
        assert.equal(target.datasource.uid, '${datasource}', 'panels use the datasource variable');
        const expr = (target.expr as string).replaceAll('$__rate_interval', '5m').replaceAll('$namespace', 'payments');
        assertPromql(expr, `panel query ${target.expr}`);
        assert.match(expr, /\b(grpc_server_|tapline_|nodejs_)\w+/, 'reads an exported metric family');
      }
    });
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function markdownAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of markdown.split('\n')) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading === null) continue;
    anchors.add(
      (heading[1] ?? '')
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return anchors;
}

/** Parses with Prometheus' own lezer grammar; an error node anywhere fails with its position. */
function assertPromql(expr: string, what: string): void {
  const tree = promqlParser.parse(expr);
  const errors: number[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from);
    },
  });
  assert.deepEqual(errors, [], `${what} does not parse as PromQL at ${errors.join(', ')}: ${expr}`);
}
