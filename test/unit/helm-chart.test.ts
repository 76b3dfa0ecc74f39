// Static checks of the Helm chart in charts/tapline, standing in for `helm lint` where helm is not
// installed. They prove that Chart.yaml and values.yaml are valid YAML with the required fields;
// that every template's `{{ ... }}` actions are closed and its if/with/range/define blocks end;
// that every `include` names a template the chart defines; that every `.Values.x.y` path a
// template reads exists in values.yaml (a typo would otherwise render as an empty string) and
// every top-level value is used; that every value in values.yaml carries a comment; that the
// StatefulSet keeps the properties operations rely on (node id from the pod name, probes, non-root,
// read-only root filesystem); that the streamer and reports Deployments exist and can be disabled,
// that the streamer takes TAPLINE_SHARD_COUNT from the authorizer's own value and its consumer name
// from the pod name, and that the reports service reads stored balances from the authorizer's
// client Service (it needs no shard count); and that every terminationGracePeriodSeconds exceeds its process's shutdown grace,
// so Kubernetes never SIGKILLs a process while it drains, flushes commits or finishes a batch.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

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
const templates_dir = path.join(chart_dir, 'templates');

type Yaml = Record<string, unknown>;

function readText(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

function readYamlMap(file: string): Yaml {
  const parsed: unknown = parseYaml(readText(file));
  assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), `${file} is not a YAML mapping`);
  return parsed as Yaml;
}

/** Every template file (manifests, helpers and NOTES.txt), as [file name, text]. */
function templates(): [string, string][] {
  return fs
    .readdirSync(templates_dir)
    .filter((name) => /\.(ya?ml|tpl|txt)$/.test(name))
    .sort()
    .map((name) => [name, readText(path.join(templates_dir, name))]);
}

/** The inside of every `{{ ... }}` action of a template, trim markers and spaces removed. */
function actions(text: string): string[] {
  const found: string[] = [];
  const pattern = /\{\{-?\s*([\s\S]*?)\s*-?\}\}/g;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    found.push(m[1] ?? '');
  }
  return found;
}

/** Line number (1-based) of a character offset, for error messages. */
function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

/** Value at a dotted path in values.yaml, or `missing` when some key along it does not exist. */
const missing = Symbol('missing');
function valueAt(values: Yaml, dotted: string): unknown {
  let node: unknown = values;
  for (const key of dotted.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return missing;
    if (!Object.prototype.hasOwnProperty.call(node, key)) return missing;
    node = (node as Yaml)[key];
  }
  return node;
}

function numberAt(values: Yaml, dotted: string): number {
  const value = valueAt(values, dotted);
  assert.equal(typeof value, 'number', `values.yaml ${dotted} must be a number`);
  return value as number;
}

describe('helm chart charts/tapline', () => {
  describe('Chart.yaml and values.yaml', () => {
    it('Chart.yaml parses and declares an apiVersion v2 application at appVersion 0.1.0', () => {
      const chart = readYamlMap(path.join(chart_dir, 'Chart.yaml'));
      assert.equal(chart['apiVersion'], 'v2');
      assert.equal(chart['name'], 'tapline');
      assert.equal(chart['type'], 'application');
      assert.equal(String(chart['appVersion']), '0.1.0');
      assert.match(String(chart['version']), /^\d+\.\d+\.\d+/);
    });

    it('values.yaml parses and names Redis and ClickHouse as external', () => {
      const values = readYamlMap(path.join(chart_dir, 'values.yaml'));
      assert.notEqual(valueAt(values, 'redis.url'), missing);
      assert.notEqual(valueAt(values, 'clickhouse.url'), missing);
      const text = readText(path.join(chart_dir, 'values.yaml'));
      assert.match(text, /Redis[^\n]*own chart\/operator/);
      assert.match(text, /ClickHouse[^\n]*own operator/);
    });

    it('every value in values.yaml has a comment on it or on an enclosing key', () => {
      const lines = readText(path.join(chart_dir, 'values.yaml')).split('\n');
      const stack: { indent: number; commented: boolean; key: string }[] = [];
      const uncommented: string[] = [];
      lines.forEach((line, index) => {
        const m = /^(\s*)([A-Za-z0-9_.-]+):(.*)$/.exec(line);
        if (m === null) return; // blank, comment, or list item
        const indent = (m[1] ?? '').length;
        const key = m[2] ?? '';
        while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? -1) >= indent) stack.pop();
        let previous = index - 1;
        while (previous >= 0 && (lines[previous] ?? '').trim() === '') previous--;
        const own = (previous >= 0 && (lines[previous] ?? '').trim().startsWith('#')) || /\s#\s/.test(m[3] ?? '');
        const commented = own || stack.some((entry) => entry.commented);
        // A key whose block holds further keys is only a grouping: its keys are checked themselves.
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

  describe('templates', () => {
    it('has the expected template files', () => {
      const names = templates().map(([name]) => name);
      for (const expected of [
        '_helpers.tpl',
        'statefulset.yaml',
        'service-headless.yaml',
        'service.yaml',
        'configmap.yaml',
        'pdb.yaml',
        'servicemonitor.yaml',
        'streamer-deployment.yaml',
        'reports-deployment.yaml',
        'reports-service.yaml',
        'NOTES.txt',
      ]) {
        assert.ok(names.includes(expected), `templates/${expected} is missing`);
      }
    });

    it('every {{ has a matching }} in each template', () => {
      for (const [name, text] of templates()) {
        const pattern = /\{\{|\}\}/g;
        let open: number | undefined;
        for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
          if (m[0] === '{{') {
            assert.equal(open, undefined, `${name}:${lineOf(text, m.index)}: "{{" inside an unclosed action`);
            open = m.index;
          } else {
            assert.notEqual(open, undefined, `${name}:${lineOf(text, m.index)}: "}}" without "{{"`);
            open = undefined;
          }
        }
        assert.equal(open, undefined, `${name}:${lineOf(text, open ?? 0)}: "{{" never closed`);
      }
    });

    it('every if/with/range/define block is closed by an end, and else only appears inside one', () => {
      for (const [name, text] of templates()) {
        const stack: string[] = [];
        for (const action of actions(text)) {
          if (action.startsWith('/*')) {
            assert.ok(action.endsWith('*/'), `${name}: unterminated template comment`);
            continue;
          }
          const keyword = /^[a-z]+/.exec(action)?.[0];
          if (keyword === 'if' || keyword === 'with' || keyword === 'range' || keyword === 'define' || keyword === 'block') {
            stack.push(keyword);
          } else if (keyword === 'else') {
            const top = stack[stack.length - 1];
            assert.ok(top !== undefined && top !== 'define' && top !== 'block', `${name}: else outside if/with/range`);
          } else if (keyword === 'end') {
            assert.ok(stack.pop() !== undefined, `${name}: end without an open block`);
          }
        }
        assert.deepEqual(stack, [], `${name}: blocks never closed: ${stack.join(', ')}`);
      }
    });

    it('every include names a defined template and passes a context', () => {
      const defined = new Set<string>();
      for (const [, text] of templates()) {
        for (const m of text.matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)) defined.add(m[1] ?? '');
      }
      assert.ok(defined.has('tapline.fullname') && defined.has('tapline.labels'));
      for (const [name, text] of templates()) {
        for (const action of actions(text)) {
          for (const m of action.matchAll(/\b(include|template)\s+("[^"]*"|\()/g)) {
            const target = m[2] ?? '';
            if (!target.startsWith('"')) continue; // computed name, e.g. include (print ...) for a file
            const templateName = target.slice(1, -1);
            assert.ok(defined.has(templateName), `${name}: include of undefined template "${templateName}"`);
            const rest = action.slice((m.index ?? 0) + m[0].length).trim();
            assert.match(rest, /^(\.|\$|\(|\$[A-Za-z_])/, `${name}: include "${templateName}" without a context argument`);
          }
        }
        for (const m of text.matchAll(/include\s+\(print\s+\$\.Template\.BasePath\s+"\/([^"]+)"\)/g)) {
          assert.ok(fs.existsSync(path.join(templates_dir, m[1] ?? '')), `${name}: includes missing file ${m[1]}`);
        }
      }
    });

    it('every .Values path used in a template exists in values.yaml, and every top-level value is used', () => {
      const values = readYamlMap(path.join(chart_dir, 'values.yaml'));
      const used = new Set<string>();
      const unknown: string[] = [];
      for (const [name, text] of templates()) {
        for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
          const dotted = (m[1] ?? '').slice(1);
          used.add(dotted.split('.')[0] ?? '');
          if (valueAt(values, dotted) === missing) unknown.push(`${name}:${lineOf(text, m.index ?? 0)} .Values.${dotted}`);
        }
      }
      assert.deepEqual(unknown, [], `templates read values that values.yaml does not define: ${unknown.join(', ')}`);
      const unused = Object.keys(values).filter((key) => !used.has(key));
      assert.deepEqual(unused, [], `values.yaml keys no template reads: ${unused.join(', ')}`);
    });
  });

  describe('what operations rely on', () => {
    it('terminationGracePeriodSeconds is greater than preStop sleep plus the shutdown grace', () => {
      const values = readYamlMap(path.join(chart_dir, 'values.yaml'));
      const termination_s = numberAt(values, 'terminationGracePeriodSeconds');
      const shutdown_grace_ms = numberAt(values, 'config.shutdownGraceMs');
      const pre_stop_s = numberAt(values, 'preStopSleepSeconds');
      assert.ok(
        termination_s * 1000 > shutdown_grace_ms + pre_stop_s * 1000,
        `terminationGracePeriodSeconds ${termination_s} s must exceed ${pre_stop_s} s + ${shutdown_grace_ms} ms`,
      );
      // The numbers checked above are the ones actually deployed, and the chart re-checks overrides.
      const statefulset = readText(path.join(templates_dir, 'statefulset.yaml'));
      assert.match(statefulset, /terminationGracePeriodSeconds: \{\{ int64 \.Values\.terminationGracePeriodSeconds \}\}/);
      const configmap = readText(path.join(templates_dir, 'configmap.yaml'));
      assert.match(configmap, /TAPLINE_SHUTDOWN_GRACE_MS: \{\{ int64 \.Values\.config\.shutdownGraceMs \| quote \}\}/);
      const helpers = readText(path.join(templates_dir, '_helpers.tpl'));
      assert.match(helpers, /define "tapline\.validate"[\s\S]*if le \$terminationMs \$graceMs[\s\S]*fail/);
      assert.match(statefulset, /^\{\{- include "tapline\.validate" \. \}\}/);
    });

    it('the StatefulSet takes its node id from the pod name and probes the metrics port', () => {
      const statefulset = readText(path.join(templates_dir, 'statefulset.yaml'));
      assert.match(statefulset, /kind: StatefulSet/);
      assert.match(statefulset, /podManagementPolicy: Parallel/);
      assert.match(statefulset, /- name: TAPLINE_NODE_ID\s+valueFrom:\s+fieldRef:\s+fieldPath: metadata\.name/);
      assert.match(statefulset, /readinessProbe:\s+httpGet:\s+path: \/readyz\s+port: metrics/);
      assert.match(statefulset, /livenessProbe:\s+httpGet:\s+path: \/healthz\s+port: metrics/);
      assert.match(statefulset, /- name: grpc\s+containerPort: \{\{ int64 \.Values\.grpc\.port \}\}/);
      for (const variable of ['TAPLINE_TLS_CERT_FILE', 'TAPLINE_TLS_KEY_FILE', 'TAPLINE_TLS_CA_FILE']) {
        assert.match(statefulset, new RegExp(`- name: ${variable}\\b`));
      }
      const values = readYamlMap(path.join(chart_dir, 'values.yaml'));
      assert.equal(valueAt(values, 'grpc.port'), 50051);
      assert.equal(valueAt(values, 'tls.enabled'), false);
      assert.equal(valueAt(values, 'serviceMonitor.enabled'), false);
      assert.equal(valueAt(values, 'pdb.maxUnavailable'), 1);
      assert.equal(valueAt(values, 'podSecurityContext.runAsNonRoot'), true);
      assert.equal(valueAt(values, 'containerSecurityContext.runAsNonRoot'), true);
      assert.equal(valueAt(values, 'containerSecurityContext.readOnlyRootFilesystem'), true);
      const requests = valueAt(values, 'resources.requests');
      const limits = valueAt(values, 'resources.limits');
      assert.ok(requests !== missing && requests !== null && limits !== missing && limits !== null, 'resources need requests and limits');
    });

    it('the headless Service governs the StatefulSet and the client Service is ClusterIP on gRPC', () => {
      const headless = readText(path.join(templates_dir, 'service-headless.yaml'));
      assert.match(headless, /clusterIP: None/);
      assert.match(headless, /name: \{\{ include "tapline\.headlessServiceName" \. \}\}/);
      assert.match(
        readText(path.join(templates_dir, 'statefulset.yaml')),
        /serviceName: \{\{ include "tapline\.headlessServiceName" \. \}\}/,
      );
      const client = readText(path.join(templates_dir, 'service.yaml'));
      assert.match(client, /type: ClusterIP/);
      assert.match(client, /targetPort: grpc/);
      const pdb = readText(path.join(templates_dir, 'pdb.yaml'));
      assert.match(pdb, /kind: PodDisruptionBudget/);
      assert.match(pdb, /maxUnavailable: \{\{ \.Values\.pdb\.maxUnavailable \}\}/);
      assert.match(readText(path.join(templates_dir, 'servicemonitor.yaml')), /^\{\{- if \.Values\.serviceMonitor\.enabled \}\}/);
    });

    it('cluster: nodes listen on the pod, expose the internal port and advertise their stable DNS name', () => {
      const statefulset = readText(path.join(templates_dir, 'statefulset.yaml'));
      assert.match(statefulset, /- name: internal\s+containerPort: \{\{ int64 \.Values\.cluster\.internalPort \}\}/);
      // $(TAPLINE_NODE_ID) expands only when that variable is defined earlier in the env list.
      const nodeId = statefulset.indexOf('- name: TAPLINE_NODE_ID');
      const advertise = statefulset.indexOf('- name: TAPLINE_ADVERTISE_ADDRESS');
      assert.ok(nodeId >= 0 && advertise > nodeId, 'TAPLINE_ADVERTISE_ADDRESS follows TAPLINE_NODE_ID');
      assert.match(
        statefulset,
        /value: "\$\(TAPLINE_NODE_ID\)\.\{\{ include "tapline\.headlessServiceName" \. \}\}\.\{\{ \.Release\.Namespace \}\}\.svc:\{\{ int64 \.Values\.cluster\.internalPort \}\}"/,
      );
      const headless = readText(path.join(templates_dir, 'service-headless.yaml'));
      assert.match(headless, /- name: internal\s+port: \{\{ int64 \.Values\.cluster\.internalPort \}\}\s+targetPort: internal/);
      const configmap = readText(path.join(templates_dir, 'configmap.yaml'));
      assert.match(configmap, /TAPLINE_INTERNAL_HOST: "0\.0\.0\.0"/);
      assert.match(configmap, /TAPLINE_GRPC_HOST: "0\.0\.0\.0"/);
      assert.match(configmap, /TAPLINE_INTERNAL_PORT: \{\{ int64 \.Values\.cluster\.internalPort \| quote \}\}/);
      const values = readYamlMap(path.join(chart_dir, 'values.yaml'));
      assert.equal(valueAt(values, 'cluster.internalPort'), 50052, "the authorizer's own default internal port");
      assert.notEqual(valueAt(values, 'cluster.internalPort'), valueAt(values, 'grpc.port'));
    });

    it('the streamer is a Deployment whose TAPLINE_NODE_ID is its pod name', () => {
      const streamer = readText(path.join(templates_dir, 'streamer-deployment.yaml'));
      assert.match(streamer, /^\{\{- if \.Values\.streamer\.enabled \}\}/);
      assert.match(streamer, /\{\{- end \}\}\s*$/);
      assert.match(streamer, /kind: Deployment/);
      assert.match(streamer, /replicas: \{\{ int64 \.Values\.streamer\.replicaCount \}\}/);
      assert.match(streamer, /- name: TAPLINE_NODE_ID\s+valueFrom:\s+fieldRef:\s+fieldPath: metadata\.name/);
      assert.match(streamer, /livenessProbe:\s+httpGet:\s+path: \/metrics\s+port: metrics/);
      assert.match(streamer, /- name: metrics\s+containerPort: \{\{ int64 \.Values\.streamer\.metricsPort \}\}/);
      assert.match(streamer, /dict "root" \$ "component" "streamer"/);
      const values = readYamlMap(path.join(chart_dir, 'values.yaml'));
      assert.equal(valueAt(values, 'streamer.enabled'), true);
      assert.equal(valueAt(values, 'streamer.replicaCount'), 2);
      assert.equal(valueAt(values, 'streamer.metricsPort'), 9465);
      assert.deepEqual(valueAt(values, 'streamer.command'), ['node', 'dist/services/streamer/main.js']);
    });

    it('the reports service is a Deployment with tcpSocket probes behind a ClusterIP Service', () => {
      const reports = readText(path.join(templates_dir, 'reports-deployment.yaml'));
      assert.match(reports, /^\{\{- if \.Values\.reports\.enabled \}\}/);
      assert.match(reports, /kind: Deployment/);
      assert.match(reports, /readinessProbe:\s+tcpSocket:\s+port: http/);
      assert.match(reports, /livenessProbe:\s+tcpSocket:\s+port: http/);
      assert.doesNotMatch(reports, /^\s*httpGet:/m);
      assert.match(reports, /- name: TAPLINE_REPORTS_PORT\s+value: \{\{ int64 \.Values\.reports\.port \| quote \}\}/);
      const service = readText(path.join(templates_dir, 'reports-service.yaml'));
      assert.match(service, /^\{\{- if \.Values\.reports\.enabled \}\}/);
      assert.match(service, /type: ClusterIP/);
      assert.match(service, /targetPort: http/);
      assert.match(service, /dict "root" \$ "component" "reports"/);
      const values = readYamlMap(path.join(chart_dir, 'values.yaml'));
      assert.equal(valueAt(values, 'reports.enabled'), true);
      assert.equal(valueAt(values, 'reports.replicaCount'), 1);
      assert.equal(valueAt(values, 'reports.port'), 9470);
      assert.equal(valueAt(values, 'reports.service.port'), 9470);
    });

    it('the streamer shares the authorizer shard count; the reports service reads balances from the authorizer', () => {
      const configmap = readText(path.join(templates_dir, 'configmap.yaml'));
      assert.match(configmap, /TAPLINE_SHARD_COUNT: \{\{ int64 \.Values\.config\.shardCount \| quote \}\}/);
      const streamer = readText(path.join(templates_dir, 'streamer-deployment.yaml'));
      assert.match(
        streamer,
        /- name: TAPLINE_SHARD_COUNT\s+value: \{\{ int64 \.Values\.config\.shardCount \| quote \}\}/,
        "the streamer must pass the authorizer's config.shardCount",
      );
      assert.equal((streamer.match(/- name: TAPLINE_SHARD_COUNT\b/g) ?? []).length, 1, 'the streamer: one TAPLINE_SHARD_COUNT');
      const reports = readText(path.join(templates_dir, 'reports-deployment.yaml'));
      assert.doesNotMatch(reports, /TAPLINE_SHARD_COUNT/, 'the reports service reads no Redis key of the authorizer');
      assert.match(
        reports,
        /- name: TAPLINE_AUTHORIZER_GRPC_ADDRESS\s+value: \{\{ \.Values\.reports\.authorizerAddress \| default \(printf "%s:%d" \(include "tapline\.fullname" \.\) \(int64 \.Values\.service\.port\)\) \| quote \}\}/,
        "the reports service must reach this release's authorizer Service unless told otherwise",
      );
      for (const file of ['streamer-deployment.yaml', 'reports-deployment.yaml']) {
        const text = readText(path.join(templates_dir, file));
        assert.match(
          text,
          /- name: TAPLINE_REDIS_URL\s+valueFrom:\s+secretKeyRef:\s+name: \{\{ \.Values\.redis\.existingSecret \}\}/,
          `${file} must support redis.existingSecret`,
        );
        assert.match(text, /- name: TAPLINE_CLICKHOUSE_URL\s+value: .*\.Values\.clickhouse\.url/);
        assert.match(text, /- name: TAPLINE_CLICKHOUSE_DATABASE\s+value: \{\{ \.Values\.clickhouse\.database \| quote \}\}/);
        assert.match(text, /image: \{\{ include "tapline\.image" \. \| quote \}\}/);
        assert.match(text, /toYaml \.Values\.podSecurityContext/);
        assert.match(text, /toYaml \.Values\.containerSecurityContext/);
        assert.match(text, /with \.Values\.imagePullSecrets/);
        assert.match(text, /terminationGracePeriodSeconds: \{\{ int64 \.Values\.[a-z]+\.terminationGracePeriodSeconds \}\}/);
      }
      const values = readYamlMap(path.join(chart_dir, 'values.yaml'));
      assert.equal(valueAt(values, 'clickhouse.database'), 'tapline');
      assert.equal(valueAt(values, 'reports.authorizerAddress'), '');
      for (const component of ['streamer', 'reports']) {
        const termination_s = numberAt(values, `${component}.terminationGracePeriodSeconds`);
        const grace_ms = numberAt(values, `${component}.shutdownGraceMs`);
        assert.ok(
          termination_s * 1000 > grace_ms,
          `${component}.terminationGracePeriodSeconds ${termination_s} s must exceed ${grace_ms} ms`,
        );
      }
      const helpers = readText(path.join(templates_dir, '_helpers.tpl'));
      assert.match(helpers, /\.Values\.streamer\.terminationGracePeriodSeconds[\s\S]*fail/);
      assert.match(helpers, /\.Values\.reports\.terminationGracePeriodSeconds[\s\S]*fail/);
      // The authorizer's selector must not match the new pods: they carry their own component.
      assert.match(helpers, /app\.kubernetes\.io\/component: authorizer/);
      assert.match(helpers, /app\.kubernetes\.io\/component: \{\{ \.component \}\}/);
    });
  });
});
