// Offline validation of the Kubernetes manifests in this directory.
//
//   npm ci && node validate.mjs            (scripts/validate-k8s.sh does both)
//   node validate.mjs FILE...              validate only these files; every object must pass
//   node validate.mjs --expect-invalid FILE...   every object must be REJECTED
//
// With no FILE it checks, in one run:
//   1. kustomization.yaml: its resources exist, and every other manifest (*.yaml) here is listed
//      in it, so what `kubectl apply -k` applies is exactly what is validated;
//   2. every object in those resources, against the Kubernetes OpenAPI schema compiled into the
//      npm package kubernetes-models (Model.validate() throws on a schema error: a wrong type, a
//      missing required field, a bad enum value or format), plus the project's own rules for the
//      handoff pod (rules() below: non-root, read-only root, the shared socket volume, probes...);
//   3. every fixture in testdata/, each of which must be rejected, and for the reason written in
//      its `# expect-error: TEXT` line (a substring of the error), so that a fixture rejected for
//      some other reason (a YAML typo, an unknown kind) does not pass as a proof of rejection.
//
// One line per object: "ok Kind/name (file)" or "FAIL Kind/name (file): why"; then a line
// "N passed, M failed" alone, and the exit code: 0 if nothing failed, 1 otherwise (2: usage).
//
// No cluster and no network are needed: the schema ships inside the package (Kubernetes 1.33 for
// kubernetes-models 4.5.1). Limitation: like the OpenAPI schema itself, kubernetes-models does
// not reject unknown fields (a misspelt field is ignored, as `kubectl --validate=false` would);
// rules() checks that the fields that matter here are present with the right values, which
// catches a misspelling of any of them.

import { readFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";

const here = dirname(fileURLToPath(import.meta.url));
const SOCKET_DIR = "/run/handoff";
const HEALTHCHECK = "/opt/handoff/bin/docker-healthcheck";
const UID = 10001;

let passed = 0;
let failed = 0;
const show = (file) => {
  const rel = relative(here, file);
  return rel && !rel.startsWith("..") ? rel : file;
};
function ok(what, file, note = "") {
  passed++;
  console.log(`ok ${what} (${show(file)})${note ? ": " + note : ""}`);
}
function fail(what, file, why) {
  failed++;
  console.log(`FAIL ${what} (${show(file)}): ${why}`);
}

// apiVersion + kind -> the model class of kubernetes-models, e.g. apps/v1 Deployment ->
// kubernetes-models/apps/v1/Deployment; v1 Service -> kubernetes-models/v1/Service.
async function modelClass(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9]+$/.test(kind)) {
    throw new Error("apiVersion and kind must be strings");
  }
  let mod;
  try {
    mod = await import(`kubernetes-models/${apiVersion}/${kind}`);
  } catch {
    throw new Error(`unknown apiVersion/kind: ${apiVersion} ${kind} (not in the Kubernetes schema)`);
  }
  const cls = mod[kind] ?? mod.default;
  if (typeof cls !== "function") throw new Error(`no model class for ${apiVersion} ${kind}`);
  return cls;
}

// The project's own rules, beyond the schema. Each returns a list of problems.
function rules(obj) {
  const problems = [];
  const need = (cond, msg) => { if (!cond) problems.push(msg); };
  if (obj.kind === "Deployment") {
    const pod = obj.spec?.template?.spec ?? {};
    const psc = pod.securityContext ?? {};
    need(psc.runAsNonRoot === true, "pod securityContext.runAsNonRoot must be true");
    need(psc.runAsUser === UID && psc.runAsGroup === UID, `pod must run as uid/gid ${UID} (the app accepts only its own uid)`);
    need(psc.fsGroup === UID, `pod securityContext.fsGroup must be ${UID}`);
    need(pod.shareProcessNamespace !== true, "shareProcessNamespace must stay off: docker-healthcheck reads PID 1");
    const grace = pod.terminationGracePeriodSeconds;
    need(Number.isInteger(grace) && grace >= 10, "terminationGracePeriodSeconds must cover the app's 5 s drain plus the proxy's grace (>= 10)");
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
    const containers = pod.containers ?? [];
    const byName = new Map(containers.map((c) => [c.name, c]));
    need(byName.has("proxy") && byName.has("app"), "the pod needs two containers named proxy and app");
    const socketVolumes = new Set();
    for (const c of containers) {
      const sc = c.securityContext ?? {};
      const where = `container ${c.name}`;
      need(sc.allowPrivilegeEscalation === false, `${where}: securityContext.allowPrivilegeEscalation must be false`);
      need(sc.readOnlyRootFilesystem === true, `${where}: securityContext.readOnlyRootFilesystem must be true`);
      need((sc.capabilities?.drop ?? []).includes("ALL"), `${where}: securityContext.capabilities.drop must include ALL`);
      need(sc.runAsUser === undefined || sc.runAsUser === UID, `${where}: runAsUser must be ${UID}`);
      need(c.resources?.requests?.cpu !== undefined && c.resources?.requests?.memory !== undefined, `${where}: resources.requests cpu and memory are required`);
      need(c.resources?.limits?.memory !== undefined, `${where}: resources.limits.memory is required`);
      for (const p of ["readinessProbe", "livenessProbe"]) {
        need(c[p] !== undefined, `${where}: ${p} is required`);
        need(c[p]?.tcpSocket === undefined, `${where}: ${p} must not be tcpSocket (the proxy would hand the probe's connection to the app as a client)`);
      }
      const mounts = c.volumeMounts ?? [];
      const run = mounts.find((m) => m.mountPath === SOCKET_DIR);
      need(run !== undefined, `${where}: a volume must be mounted at ${SOCKET_DIR}`);
      if (run) {
        socketVolumes.add(run.name);
        need(volumes.get(run.name)?.emptyDir !== undefined, `${where}: ${SOCKET_DIR} must be an emptyDir volume`);
      }
      need(mounts.some((m) => m.mountPath === "/tmp"), `${where}: /tmp must be a writable volume (the JVM unpacks JNI libraries there) when the root filesystem is read-only`);
      const cmd = [...(c.command ?? []), ...(c.args ?? [])];
      need(cmd.includes(`${SOCKET_DIR}/pipe.sock`), `${where}: must use the socket ${SOCKET_DIR}/pipe.sock`);
    }
    need(socketVolumes.size === 1, `proxy and app must mount the same volume at ${SOCKET_DIR}`);
    const app = byName.get("app");
    if (app) need((app.ports ?? []).length === 0, "container app must expose no ports");
    const proxy = byName.get("proxy");
    if (proxy) {
      need((proxy.ports ?? []).some((p) => p.containerPort === 1987), "container proxy must have containerPort 1987");
      need(proxy.args?.[0] === "1987" || proxy.command?.includes("1987"), "container proxy must accept on port 1987");
    }
    for (const c of containers) {
      for (const p of ["readinessProbe", "livenessProbe"]) {
        const exec = c[p]?.exec?.command;
        if (exec) need(exec[0] === HEALTHCHECK, `container ${c.name}: exec ${p} should run ${HEALTHCHECK}`);
      }
    }
  }
  if (obj.kind === "Service") {
    const ports = obj.spec?.ports ?? [];
    need(ports.some((p) => p.port === 1987), "Service must expose port 1987");
    need(obj.spec?.selector && Object.keys(obj.spec.selector).length > 0, "Service needs a selector");
  }
  return problems;
}

// Validates every document of one file. Returns a list of {what, error} (error null = valid).
async function check(file) {
  const results = [];
  let docs;
  try {
    docs = yaml.loadAll(readFileSync(file, "utf8"));
  } catch (e) {
    return [{ what: "file", error: `YAML: ${e.message.split("\n")[0]}` }];
  }
  docs = docs.filter((d) => d !== null && d !== undefined);
  if (docs.length === 0) return [{ what: "file", error: "no objects in it" }];
  for (const doc of docs) {
    const what = `${doc?.kind ?? "?"}/${doc?.metadata?.name ?? "?"}`;
    if (typeof doc !== "object" || Array.isArray(doc)) {
      results.push({ what, error: "a manifest must be a mapping" });
      continue;
    }
    try {
      const Cls = await modelClass(doc.apiVersion, doc.kind);
      new Cls(doc).validate();
    } catch (e) {
      results.push({ what, error: `schema: ${e.message}` });
      continue;
    }
    const problems = rules(doc);
    results.push({ what, error: problems.length ? `rules: ${problems.join("; ")}` : null });
  }
  return results;
}

async function expectValid(file) {
  for (const r of await check(file)) {
    if (r.error) fail(r.what, file, r.error);
    else ok(r.what, file);
  }
}

async function expectInvalid(file) {
  const text = readFileSync(file, "utf8");
  const expected = [...text.matchAll(/^# expect-error: (.+)$/gm)].map((m) => m[1].trim());
  if (expected.length === 0) {
    fail("file", file, "a fixture needs a `# expect-error: TEXT` line naming why it must be rejected");
    return;
  }
  for (const r of await check(file)) {
    if (!r.error) {
      fail(r.what, file, "was accepted, but this fixture must be rejected");
    } else if (!expected.some((s) => r.error.includes(s))) {
      fail(r.what, file, `rejected, but not for the expected reason (${expected.join(" | ")}): ${r.error}`);
    } else {
      ok(r.what, file, `rejected as expected: ${r.error}`);
    }
  }
}

function checkKustomization() {
  const file = join(here, "kustomization.yaml");
  let k;
  try {
    k = yaml.load(readFileSync(file, "utf8"));
  } catch (e) {
    fail("Kustomization", file, e.message.split("\n")[0]);
    return [];
  }
  const resources = Array.isArray(k?.resources) ? k.resources : [];
  const problems = [];
  if (k?.apiVersion !== "kustomize.config.k8s.io/v1beta1" || k?.kind !== "Kustomization") {
    problems.push("apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization");
  }
  if (resources.length === 0) problems.push("lists no resources");
  const missing = resources.filter((r) => typeof r !== "string" || !existsSync(join(here, r)));
  if (missing.length) problems.push(`missing resources: ${missing.join(", ")}`);
  const manifests = readdirSync(here).filter((f) => /\.ya?ml$/.test(f) && !/^kustomization\.ya?ml$/.test(f));
  const unlisted = manifests.filter((f) => !resources.includes(f));
  if (unlisted.length) problems.push(`not listed in resources, so neither applied nor validated: ${unlisted.join(", ")}`);
  if (problems.length) fail("Kustomization", file, problems.join("; "));
  else ok("Kustomization", file, `${resources.length} resources`);
  return resources.filter((r) => !missing.includes(r)).map((r) => join(here, r));
}

async function main(argv) {
  if (argv[0] === "-h" || argv[0] === "--help") {
    console.log("usage: node validate.mjs [--expect-invalid] [FILE...]");
    return 0;
  }
  if (argv.length === 0) {
    for (const f of checkKustomization()) await expectValid(f);
    const testdata = join(here, "testdata");
    const fixtures = existsSync(testdata) ? readdirSync(testdata).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
    if (fixtures.length === 0) fail("testdata", testdata, "no fixtures: nothing proves the validator can fail");
    for (const f of fixtures) await expectInvalid(join(testdata, f));
  } else {
    const invalid = argv[0] === "--expect-invalid";
    const files = invalid ? argv.slice(1) : argv;
    if (files.length === 0 || files.some((f) => f.startsWith("-"))) {
      console.error("usage: node validate.mjs [--expect-invalid] [FILE...]");
      return 2;
    }
    for (const f of files) {
      const path = resolve(f);
      if (!existsSync(path)) {
        fail("file", path, "not found");
        continue;
      }
      await (invalid ? expectInvalid(path) : expectValid(path));
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
