// Validates Kubernetes manifests against the API schemas of the kubernetes-models packages (the
// OpenAPI schemas of Kubernetes 1.x and of prometheus-operator's CRDs, compiled to validators).
// Reads a JSON array of objects on stdin; prints a JSON array of {kind, name, error} with
// error null for a valid object. An ES module because the models packages are ES modules only;
// test/unit/helm-chart.test.ts runs it as a child process.
// It checks types, required fields, enums and formats; it does not reject unknown fields (the
// schemas do not close their objects): `kubectl apply --validate=strict` on a cluster does.

const groups = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'batch/v1': 'kubernetes-models/batch/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
};

let input = '';
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const object of JSON.parse(input)) {
  const name = object?.metadata?.name ?? '';
  const base = groups[object?.apiVersion];
  if (base === undefined) {
    results.push({ kind: object?.kind, name, error: `no schema for apiVersion ${object?.apiVersion}` });
    continue;
  }
  try {
    const model = await import(`${base}/${object.kind}`);
    new model[object.kind](object).validate();
    results.push({ kind: object.kind, name, error: null });
  } catch (error) {
    results.push({ kind: object.kind, name, error: error instanceof Error ? error.message : String(error) });
  }
}
process.stdout.write(JSON.stringify(results));
