// deploy validation, offline: node tests/deploy/validate.mjs <check>
//
//   k8s         render deploy/k8s/base and every overlay (kubectl kustomize when
//               it is installed, else our own renderer of the subset we use, and
//               when both exist they must agree), validate every object, plus the
//               standalone manifests (jobs/, secret.example.yaml), against the
//               Kubernetes JSON schemas bundled in kubernetes-models (and KEDA's
//               in @kubernetes-models/keda), then our own rules (probes, grace
//               period, security context, topics, ...).
//   config      the ConfigMap's odoosync.json is accepted by the real binary's
//               configuration loader (ODOOSYNC_BIN).
//   dockerfile  deploy/Dockerfile against our rules (parsed with dockerfile-ast).
//   readme      deploy/README.md's command blocks: no placeholder, existing paths.
//
// Prints "N passed, N failed" and exits 1 on any failure. No network.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = process.env.ODOOSYNC_SOURCE_DIR || path.resolve(HERE, "../..");
const DEPLOY = path.join(SRC, "deploy");
const K8S = path.join(DEPLOY, "k8s");

let passed = 0;
let failed = 0;
function check(cond, what) {
  if (cond) {
    passed++;
  } else {
    failed++;
    console.error("FAIL: " + what);
  }
}
function done() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// ---------------------------------------------------------------- rendering

function readYamlDocs(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))
    .map((d) => {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
      return d.toJS();
    })
    .filter((o) => o != null);
}

const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"]);

function isObj(v) {
  return v && typeof v === "object" && !Array.isArray(v);
}

// Strategic merge, the subset we use: maps merge, lists of maps with "name" merge by name.
function smerge(base, patch) {
  if (!isObj(base) || !isObj(patch)) return structuredClone(patch);
  const out = structuredClone(base);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObj(v) && isObj(out[k])) out[k] = smerge(out[k], v);
    else if (Array.isArray(v) && Array.isArray(out[k]) && v.every((x) => isObj(x) && "name" in x) &&
             out[k].every((x) => isObj(x) && "name" in x)) {
      const list = structuredClone(out[k]);
      for (const item of v) {
        const i = list.findIndex((x) => x.name === item.name);
        if (i >= 0) list[i] = smerge(list[i], item);
        else list.unshift(structuredClone(item)); // kustomize puts new items first
      }
      out[k] = list;
    } else out[k] = structuredClone(v);
  }
  return out;
}

function podSpecs(o) {
  const specs = [];
  if (o.spec?.template?.spec) specs.push(o.spec.template.spec);
  if (o.spec?.jobTemplate?.spec?.template?.spec) specs.push(o.spec.jobTemplate.spec.template.spec);
  return specs;
}

const KNOWN_KEYS = new Set(["apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"]);

function renderOwn(dir) {
  const kfile = path.join(dir, "kustomization.yaml");
  const k = YAML.parse(fs.readFileSync(kfile, "utf8"));
  for (const key of Object.keys(k))
    if (!KNOWN_KEYS.has(key)) throw new Error(`${kfile}: our renderer does not know "${key}"`);
  let objs = [];
  for (const r of k.resources || []) {
    const p = path.join(dir, r);
    if (fs.statSync(p).isDirectory()) objs.push(...renderOwn(p));
    else objs.push(...readYamlDocs(p));
  }
  for (const patch of k.patches || []) {
    if (!patch.path || patch.target) throw new Error(`${kfile}: only "path" patches are supported`);
    for (const pd of readYamlDocs(path.join(dir, patch.path))) {
      const i = objs.findIndex((o) => o.kind === pd.kind && o.metadata.name === pd.metadata.name);
      if (i < 0) throw new Error(`${kfile}: patch ${patch.path} matches nothing`);
      objs[i] = smerge(objs[i], pd);
    }
  }
  for (const o of objs) {
    for (const l of k.labels || []) {
      if (l.includeSelectors || l.includeTemplates) throw new Error(`${kfile}: labels: only plain pairs`);
      o.metadata.labels = { ...(o.metadata.labels || {}), ...l.pairs };
    }
    if (k.namespace && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    for (const img of k.images || [])
      for (const spec of podSpecs(o))
        for (const c of [...(spec.containers || []), ...(spec.initContainers || [])]) {
          const [name, tag] = c.image.split(":");
          if (name === img.name)
            c.image = `${img.newName || name}:${img.newTag || tag}`;
        }
  }
  return objs;
}

function kubectl() {
  if (process.env.ODOOSYNC_DEPLOY_NO_KUBECTL) return false;
  const r = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  return r.status === 0;
}

function renderKubectl(dir) {
  const out = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
  return YAML.parseAllDocuments(out).map((d) => d.toJS()).filter((o) => o != null);
}

// Key-order-insensitive comparison of two object lists, keyed by kind/namespace/name.
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (isObj(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  return v;
}
function keyOf(o) {
  return `${o.kind}/${o.metadata.namespace || ""}/${o.metadata.name}`;
}

// ---------------------------------------------------------------- schemas

const MODELS = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "batch/v1": "kubernetes-models/batch/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "keda.sh/v1alpha1": "@kubernetes-models/keda/keda.sh/v1alpha1",
};

async function validateSchema(o, where) {
  const mod = MODELS[o.apiVersion];
  if (!mod) return check(false, `${where}: no schema for apiVersion ${o.apiVersion}`);
  const m = await import(mod);
  const Cls = m[o.kind];
  if (!Cls) return check(false, `${where}: no schema for ${o.apiVersion} ${o.kind}`);
  try {
    new Cls(o).validate();
    check(true, "");
  } catch (e) {
    check(false, `${where}: ${o.kind} ${o.metadata?.name}: ${e.message}`);
  }
}

// ---------------------------------------------------------------- our rules

function configJson(objs) {
  const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === "odoosync-config");
  return cm ? JSON.parse(cm.data["odoosync.json"]) : null;
}

function rules(objs, where) {
  const by = (kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);
  const cfg = configJson(objs);
  check(cfg, `${where}: ConfigMap odoosync-config with odoosync.json`);
  const graceS = (cfg?.worker?.grace_ms ?? 30000) / 1000;

  for (const o of objs) {
    check(o.metadata.labels?.["app.kubernetes.io/name"] === "odoosync" || o.kind === "Namespace",
          `${where}: ${keyOf(o)} carries app.kubernetes.io/name=odoosync`);
    for (const spec of podSpecs(o)) {
      check(spec.securityContext?.runAsNonRoot === true, `${where}: ${keyOf(o)}: runAsNonRoot`);
      check(spec.automountServiceAccountToken === false, `${where}: ${keyOf(o)}: no API token`);
      for (const c of spec.containers) {
        check(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory,
              `${where}: ${keyOf(o)}/${c.name}: cpu+memory requests and a memory limit`);
        check(c.securityContext?.allowPrivilegeEscalation === false &&
              c.securityContext?.capabilities?.drop?.includes("ALL"),
              `${where}: ${keyOf(o)}/${c.name}: no privilege escalation, capabilities dropped`);
        if (c.image.includes("odoosync")) {
          check(c.args?.includes("--config") && c.args.includes("/etc/odoosync/odoosync.json"),
                `${where}: ${keyOf(o)}/${c.name}: --config /etc/odoosync/odoosync.json`);
          check(c.securityContext?.readOnlyRootFilesystem === true,
                `${where}: ${keyOf(o)}/${c.name}: read-only root filesystem`);
          check(c.envFrom?.some((e) => e.secretRef?.name === "odoosync-credentials"),
                `${where}: ${keyOf(o)}/${c.name}: credentials from the Secret`);
        }
      }
    }
  }

  const w = by("Deployment", "odoosync-worker");
  check(w, `${where}: worker Deployment`);
  if (w) {
    const spec = w.spec.template.spec;
    const c = spec.containers[0];
    check(c.args[0] === "work", `${where}: worker runs "odoosync work"`);
    check(c.livenessProbe?.httpGet?.path === "/healthz", `${where}: worker liveness on /healthz`);
    check(c.readinessProbe?.httpGet?.path === "/readyz", `${where}: worker readiness on /readyz`);
    const port = Number((cfg?.metrics?.listen || "").split(":").pop());
    check(c.ports?.some((p) => p.name === "metrics" && p.containerPort === port),
          `${where}: metrics port ${port} (metrics.listen) exposed as "metrics"`);
    check(spec.terminationGracePeriodSeconds >= graceS + 10 && spec.terminationGracePeriodSeconds <= graceS + 60,
          `${where}: terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} = worker.grace_ms (${graceS} s) + a 10..60 s margin`);
    check(!c.lifecycle?.preStop, `${where}: no preStop hook (SIGTERM is handled)`);
    check(spec.affinity?.podAntiAffinity, `${where}: worker podAntiAffinity`);
    check(JSON.stringify(w.spec.selector.matchLabels) ===
          JSON.stringify(Object.fromEntries(Object.entries(w.spec.template.metadata.labels)
            .filter(([k]) => k in w.spec.selector.matchLabels))),
          `${where}: worker selector matches its template`);
  }
  const cj = by("CronJob", "odoosync-producer");
  check(cj?.spec?.concurrencyPolicy === "Forbid", `${where}: producer CronJob with concurrencyPolicy Forbid`);
  const pc = cj?.spec?.jobTemplate?.spec?.template?.spec?.containers?.[0];
  check(pc?.args?.[0] === "produce" && pc.args.includes("--once"), `${where}: producer runs "produce --once"`);

  const so = by("ScaledObject", "odoosync-worker");
  const hpa = by("HorizontalPodAutoscaler", "odoosync-worker");
  check(!(so && hpa), `${where}: KEDA ScaledObject and CPU HPA are not both applied`);
  if (so) {
    const topics = so.spec.triggers.filter((t) => t.type === "kafka").map((t) => t.metadata.topic);
    check(topics.includes(cfg?.kafka?.topics?.jobs || "odoosync.jobs"), `${where}: KEDA scales on the jobs topic`);
    check(so.spec.triggers.every((t) => t.metadata.consumerGroup === (cfg?.kafka?.group || "odoosync-workers")),
          `${where}: KEDA watches the workers' consumer group`);
    check(so.spec.triggers.every((t) => t.metadata.bootstrapServers === cfg?.kafka?.bootstrap),
          `${where}: KEDA uses the configured bootstrap servers`);
    check(so.spec.maxReplicaCount <= 12, `${where}: no more workers than jobs partitions (12)`);
  }
  const np = by("NetworkPolicy", "odoosync");
  if (np) {
    check(np.spec.policyTypes.includes("Ingress") && np.spec.policyTypes.includes("Egress"),
          `${where}: NetworkPolicy restricts both directions`);
    check(np.spec.ingress.length === 1 &&
          np.spec.ingress[0].from.every((f) => f.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === "monitoring") &&
          np.spec.ingress[0].ports.every((p) => p.port === 9464),
          `${where}: ingress only from the monitoring namespace to the metrics port`);
    const ports = np.spec.egress.flatMap((e) => e.ports.map((p) => p.port));
    for (const p of [53, 9092, 6379, 443]) check(ports.includes(p), `${where}: egress allows port ${p}`);
  }
}

function topicRules(job) {
  const script = job.spec.template.spec.containers[0].args.join("\n");
  const want = { "odoosync.jobs": [12, 7], "odoosync.retry": [12, 7], "odoosync.dlq": [3, 30], "odoosync.events": [6, 7] };
  for (const [topic, [parts, days]] of Object.entries(want)) {
    const re = new RegExp(`--topic ${topic.replace(".", "\\.")} \\\\\\s*--partitions (\\d+)[^\\n]*\\n\\s*--config retention\\.ms=\\$\\(\\((\\d+) \\* day\\)\\)`);
    const m = script.match(re);
    check(m && Number(m[1]) === parts && Number(m[2]) === days,
          `topics job: ${topic} with ${parts} partitions and ${days} days of retention`);
  }
  check(script.includes("--if-not-exists"), "topics job: --if-not-exists (safe to run twice)");
}

// Renders a kustomization with our renderer and, when installed, kubectl kustomize
// (they must agree); null when it cannot be rendered.
function render(dir, hasKubectl) {
  const where = path.relative(SRC, dir);
  let objs;
  try {
    objs = renderOwn(dir);
    check(true, "");
  } catch (e) {
    check(false, `${where}: ${e.message}`);
    return null;
  }
  if (hasKubectl) {
    let ko = null;
    try {
      ko = renderKubectl(dir);
    } catch (e) {
      check(false, `${where}: kubectl kustomize: ${e.message}`);
    }
    if (ko) {
      const a = new Map(objs.map((o) => [keyOf(o), JSON.stringify(canon(o))]));
      const b = new Map(ko.map((o) => [keyOf(o), JSON.stringify(canon(o))]));
      check([...a.keys()].sort().join() === [...b.keys()].sort().join(),
            `${where}: our renderer and kubectl kustomize give the same objects`);
      for (const [k, v] of b)
        check(a.get(k) === v, `${where}: ${k}: our renderer and kubectl kustomize agree\n  ours:    ${a.get(k)}\n  kubectl: ${v}`);
      objs = ko;
    }
  }
  return objs;
}

// Every odoosync container, whichever manifest or overlay it comes from, gets the
// overlay's image: the manifests all name the image the overlays' `images:` rewrite,
// each overlay's sub-kustomizations (check/, replay/: the hand-applied Jobs) render
// the same image as the overlay, and deploy/README.md never applies a manifest that
// runs odoosync with `apply -f` (that would bypass the rewrite).
function imageRules(hasKubectl) {
  const odoosyncImages = (objs) => objs.flatMap((o) => podSpecs(o))
    .flatMap((sp) => [...(sp.containers || []), ...(sp.initContainers || [])])
    .map((c) => c.image).filter((i) => i && !i.startsWith("apache/kafka"));
  const manifests = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".yaml") && e.name !== "kustomization.yaml") manifests.push(p);
    }
  };
  walk(K8S);
  const names = new Set();
  for (const f of manifests)
    for (const o of readYamlDocs(f))
      for (const img of odoosyncImages([o])) names.add(img.split(":")[0]);
  check(names.size === 1, `every manifest names the same odoosync image (${[...names].join(", ")})`);
  for (const d of fs.readdirSync(path.join(K8S, "overlays"))) {
    const dir = path.join(K8S, "overlays", d);
    const where = path.relative(SRC, dir);
    const k = YAML.parse(fs.readFileSync(path.join(dir, "kustomization.yaml"), "utf8"));
    for (const img of k.images || [])
      check(names.has(img.name) && names.size === 1,
            `${where}: images: rewrites "${img.name}", the name every manifest uses`);
    const main = render(dir, hasKubectl) || [];
    const want = new Set(odoosyncImages(main));
    check(want.size === 1, `${where}: one odoosync image (${[...want].join(", ")})`);
    for (const [sub, job] of [["replay", "odoosync-replay"], ["check", "odoosync-check"]]) {
      const sdir = path.join(dir, sub);
      const swhere = path.relative(SRC, sdir);
      const objs = fs.existsSync(path.join(sdir, "kustomization.yaml")) ? render(sdir, hasKubectl) || [] : [];
      const j = objs.find((o) => o.kind === "Job" && o.metadata.name === job);
      check(j, `${swhere}: renders the ${job} Job with the overlay's image`);
      if (!j) continue;
      const got = odoosyncImages([j]);
      check(got.length > 0 && got.every((i) => want.has(i)),
            `${swhere}: ${job} runs the overlay's image ${[...want].join(", ")}, not ${got.join(", ")}`);
      check(j.metadata.namespace === main.find((o) => o.kind === "Deployment")?.metadata.namespace,
            `${swhere}: ${job} in the overlay's namespace`);
    }
  }
  const readme = fs.readFileSync(path.join(DEPLOY, "README.md"), "utf8");
  for (const m of readme.matchAll(/apply -f (deploy\/k8s\/\S+\.yaml)/g)) {
    const f = path.join(SRC, m[1]);
    const imgs = fs.existsSync(f) ? readYamlDocs(f).flatMap((o) => odoosyncImages([o])) : [];
    check(imgs.length === 0, `deploy/README.md: "apply -f ${m[1]}" runs odoosync outside the overlay's image rewrite`);
  }
}

// The topics Job's script, run with a stand-in kafka-topics.sh that records its
// arguments: with REPLICATION=3 the topics get min.insync.replicas=2, with
// REPLICATION=1 (a one-broker test cluster) never more than 1.
function topicScriptRules(job) {
  const script = job.spec.template.spec.containers[0].args.join("\n");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "odoosync-topics-"));
  const fake = path.join(tmp, "kafka-topics.sh");
  fs.writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$*" >> "${tmp}/calls"\n`, { mode: 0o755 });
  for (const repl of [3, 2, 1]) {
    fs.rmSync(path.join(tmp, "calls"), { force: true });
    const r = spawnSync("sh", ["-ec", script.replaceAll("/opt/kafka/bin/kafka-topics.sh", fake)],
      { env: { PATH: process.env.PATH, BOOTSTRAP: "kafka:9092", REPLICATION: String(repl) }, encoding: "utf8" });
    check(r.status === 0, `topics job with REPLICATION=${repl}: the script runs (exit ${r.status}: ${r.stderr})`);
    const calls = fs.existsSync(path.join(tmp, "calls")) ?
      fs.readFileSync(path.join(tmp, "calls"), "utf8").split("\n").filter((l) => l.includes("--create")) : [];
    check(calls.length === 4, `topics job with REPLICATION=${repl}: creates 4 topics (${calls.length})`);
    for (const c of calls) {
      const topic = c.match(/--topic (\S+)/)?.[1];
      const rf = Number(c.match(/--replication-factor (\S+)/)?.[1]);
      const isr = c.match(/min\.insync\.replicas=(\S+)/)?.[1];
      check(rf === repl, `topics job with REPLICATION=${repl}: ${topic} replication factor ${rf}`);
      if (topic === "odoosync.events") continue;
      check(Number(isr) === Math.min(2, repl),
            `topics job with REPLICATION=${repl}: ${topic} min.insync.replicas=${isr}, want min(2, REPLICATION) = ${Math.min(2, repl)}`);
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

// deploy/README.md's command blocks can be copied as they are: no placeholder to
// fill in (…, <name>, 'the-api-key'), and every deploy/ path they name exists.
function checkReadme() {
  const readme = fs.readFileSync(path.join(DEPLOY, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/^```(?:sh|bash|console)\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  check(blocks.length > 0, "deploy/README.md has command blocks");
  for (const b of blocks) {
    for (const line of b.split("\n")) {
      const cmd = line.replace(/(^|\s)#.*$/, "");  // comments may say "edit ... first"
      const bad = cmd.match(/…|\.\.\.|<[A-Za-z][A-Za-z0-9 _.-]*>|'the-[a-z-]+'|YOUR_|CHANGEME/);
      check(!bad, `deploy/README.md: command line has a placeholder (${bad?.[0]}): ${line}`);
      for (const m of cmd.matchAll(/(?:^|\s)(deploy\/(?:k8s|systemd|Dockerfile)\S*)/g))
        check(fs.existsSync(path.join(SRC, m[1])), `deploy/README.md: ${m[1]} exists (${line})`);
    }
  }
}

async function checkK8s() {
  const overlays = fs.readdirSync(path.join(K8S, "overlays")).map((d) => path.join(K8S, "overlays", d));
  const hasKubectl = kubectl();
  if (!hasKubectl) console.log("no kubectl: rendering with our own renderer only");
  imageRules(hasKubectl);
  for (const dir of [path.join(K8S, "base"), ...overlays]) {
    const where = path.relative(SRC, dir);
    const objs = render(dir, hasKubectl);
    if (!objs) continue;
    console.log(`${where}: ${objs.length} objects: ${objs.map(keyOf).join(", ")}`);
    for (const o of objs) await validateSchema(o, where);
    rules(objs, where);
  }
  // hand-applied manifests
  for (const f of ["base/secret.example.yaml", "jobs/topics-job.yaml", "jobs/replay/replay-job.yaml",
                   "jobs/check/check-job.yaml"]) {
    for (const o of readYamlDocs(path.join(K8S, f))) {
      await validateSchema(o, f);
      if (o.metadata.name === "odoosync-topics") {
        topicRules(o);
        topicScriptRules(o);
      }
      if (o.metadata.name === "odoosync-replay") {
        const args = o.spec.template.spec.containers[0].args;
        check(args[0] === "replay" && args.includes("--dry-run"), "replay job: replay --dry-run by default");
      }
    }
  }
  // the schema validation itself rejects a broken object
  let rejected = false;
  try {
    const { Deployment } = await import("kubernetes-models/apps/v1");
    new Deployment({ metadata: { name: "x" }, spec: { replicas: "two", selector: {}, template: {} } }).validate();
  } catch {
    rejected = true;
  }
  check(rejected, "schema validation rejects replicas: \"two\"");
}

// ---------------------------------------------------------------- config

function checkConfig() {
  const bin = process.env.ODOOSYNC_BIN;
  if (!bin || !fs.existsSync(bin)) {
    check(false, "ODOOSYNC_BIN names the odoosync binary");
    return;
  }
  const objs = renderOwn(path.join(K8S, "base"));
  const cm = objs.find((o) => o.kind === "ConfigMap");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "odoosync-deploy-"));
  const file = path.join(tmp, "odoosync.json");
  fs.writeFileSync(file, cm.data["odoosync.json"]);
  const cfg = JSON.parse(cm.data["odoosync.json"]);
  check(!/password"\s*:|api_key"\s*:/.test(cm.data["odoosync.json"]), "ConfigMap holds no inline secret");
  // The loader accepts it: with every server pointed at a closed local port,
  // `check` gets past the configuration (exit 2) and fails to connect (exit 3).
  const env = { ...process.env, ODOO_API_KEY: "k-test", CLOUD_PASSWORD: "p-test", ODOOSYNC_CONFIG: "" };
  const r = spawnSync(bin, ["check", "--config", file,
    "-X", "odoo.url=http://127.0.0.1:9", "-X", "cloud.url=http://127.0.0.1:9/dav/",
    "-X", "kafka.bootstrap=127.0.0.1:9", "-X", "redis.url=redis://127.0.0.1:9"],
  { env, encoding: "utf8", timeout: 60000 });
  check(r.status === 3, `the ConfigMap's config loads (check exits 3, unreachable; got ${r.status}):\n${r.stdout}${r.stderr}`);
  check(!(r.stdout + r.stderr).includes("p-test") && !(r.stdout + r.stderr).includes("k-test"),
        "check prints no secret");
  // a broken copy is refused with exit 2
  fs.writeFileSync(file, JSON.stringify({ ...cfg, worker: { ...cfg.worker, concurency: 3 } }));
  const bad = spawnSync(bin, ["check", "--config", file], { env, encoding: "utf8", timeout: 60000 });
  check(bad.status === 2 && /concurency/.test(bad.stderr), `a misspelt key is refused with exit 2 (got ${bad.status})`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

// ---------------------------------------------------------------- Dockerfile

async function checkDockerfile() {
  const { DockerfileParser } = await import("dockerfile-ast");
  const text = fs.readFileSync(path.join(DEPLOY, "Dockerfile"), "utf8");
  const df = DockerfileParser.parse(text);
  const froms = df.getFROMs();
  check(froms.length >= 2, "Dockerfile: multi-stage (a build stage and a runtime stage)");
  for (const f of froms)
    check(f.getImageName() === "debian" && f.getImageTag() === "12-slim",
          `Dockerfile: FROM ${f.getImage()} is pinned to debian:12-slim`);
  const ins = df.getInstructions();
  const lastFrom = ins.lastIndexOf(froms[froms.length - 1]);
  const final = ins.slice(lastFrom);
  const users = final.filter((i) => i.getKeyword() === "USER");
  check(users.length > 0, "Dockerfile: the final stage sets USER");
  const u = users.length ? users[users.length - 1].getArgumentsContent() : "";
  check(u && !/^(root|0)(:|$)/.test(u), `Dockerfile: the final USER is not root (${u})`);
  const ep = final.find((i) => i.getKeyword() === "ENTRYPOINT");
  check(ep && /^\s*\[\s*"odoosync"\s*\]\s*$/.test(ep.getArgumentsContent()), 'Dockerfile: ENTRYPOINT ["odoosync"] (exec form)');
  const runs = ins.filter((i) => i.getKeyword() === "RUN").map((i) => i.getArgumentsContent().replace(/\\\n/g, " "));
  for (const r of runs) {
    check(!/apt-get\s+(-\S+\s+)*(upgrade|dist-upgrade)/.test(r), `Dockerfile: no apt-get upgrade: ${r.slice(0, 60)}`);
    if (/apt-get\s+(-\S+\s+)*install/.test(r)) {
      check(/--no-install-recommends/.test(r), `Dockerfile: apt-get install --no-install-recommends: ${r.slice(0, 60)}`);
      check(/-y\b|--yes\b|--assume-yes/.test(r), `Dockerfile: apt-get install -y: ${r.slice(0, 60)}`);
      check(/rm -rf \/var\/lib\/apt\/lists/.test(r), `Dockerfile: apt lists removed in the same RUN: ${r.slice(0, 60)}`);
      check(/apt-get update/.test(r), `Dockerfile: apt-get update in the same RUN as install: ${r.slice(0, 60)}`);
    }
    check(!/\bsudo\b|curl[^|]*\|\s*(ba)?sh/.test(r), `Dockerfile: no sudo, no curl | sh: ${r.slice(0, 60)}`);
  }
  const finalRuns = final.filter((i) => i.getKeyword() === "RUN").map((i) => i.getArgumentsContent());
  check(finalRuns.every((r) => !/-dev\b|build-essential|cmake/.test(r)), "Dockerfile: the runtime stage installs no -dev package or compiler");
  const lines = text.split("\n");
  check(final.some((i) => i.getKeyword() === "COPY" && /--from=build\b/.test(lines[i.getRange().start.line])),
        "Dockerfile: the runtime stage copies the binary from the build stage");
  check(!ins.some((i) => i.getKeyword() === "ADD"), "Dockerfile: COPY, not ADD");
  // runtime libraries: the build stage's -dev packages each have a runtime counterpart
  const want = ["librdkafka1", "libcurl4", "libcjson1", "libhiredis0.14", "libxml2", "libmicrohttpd12", "libssl3", "ca-certificates"];
  for (const p of want) check(finalRuns.some((r) => r.includes(p)), `Dockerfile: runtime stage installs ${p}`);
  // version: the image tag in the manifests is the project's version
  const ver = fs.readFileSync(path.join(SRC, "CMakeLists.txt"), "utf8").match(/project\(odoosync VERSION (\S+)/)[1];
  const k = YAML.parse(fs.readFileSync(path.join(K8S, "overlays/production/kustomization.yaml"), "utf8"));
  check(k.images.every((i) => i.newTag === ver), `production overlay pins the image to the project version ${ver}`);
  check(fs.existsSync(path.join(DEPLOY, "Dockerfile.dockerignore")), "Dockerfile.dockerignore keeps the context small");
}

// ---------------------------------------------------------------- self-test

// Each mutation of a copy of deploy/ must make its check fail with the expected message.
function selftest() {
  const cases = [
    ["dockerfile", "Dockerfile", "USER 10001:10001", "USER root", /final USER is not root/],
    ["dockerfile", "Dockerfile", "-y --no-install-recommends \\\n      ca-certificates", "-y \\\n      ca-certificates", /--no-install-recommends/],
    ["dockerfile", "Dockerfile", "FROM debian:12-slim AS runtime", "FROM debian:latest AS runtime", /pinned to debian:12-slim/],
    ["dockerfile", "Dockerfile", " \\\n && rm -rf /var/lib/apt/lists/* \\\n && groupadd", " \\\n && groupadd", /apt lists removed/],
    ["k8s", "k8s/base/worker-deployment.yaml", "path: /readyz", "path: /ready", /readiness on \/readyz/],
    ["k8s", "k8s/base/worker-deployment.yaml", "replicas: 2", "replicas: two", /must be integer/],
    ["k8s", "k8s/base/worker-deployment.yaml", "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 10", /terminationGracePeriodSeconds 10/],
    ["k8s", "k8s/base/producer-cronjob.yaml", "concurrencyPolicy: Forbid", "concurrencyPolicy: Allow", /concurrencyPolicy Forbid/],
    ["k8s", "k8s/jobs/topics-job.yaml", "--topic odoosync.jobs \\\n                 --partitions 12", "--topic odoosync.jobs \\\n                 --partitions 6", /odoosync.jobs with 12 partitions/],
    ["k8s", "k8s/overlays/production/kustomization.yaml", "  - ../../autoscaling/keda\n", "  - ../../autoscaling/keda\n  - ../../autoscaling/hpa\n", /not both applied/],
    ["k8s", "k8s/base/networkpolicy.yaml", "kubernetes.io/metadata.name: monitoring", "kubernetes.io/metadata.name: default", /only from the monitoring namespace/],
    ["k8s", "k8s/base/worker-deployment.yaml", "\n            readOnlyRootFilesystem: true", "", /read-only root filesystem/],
    ["k8s", "k8s/overlays/production/replay/kustomization.yaml", "newName: registry.example.com/odoosync", "newName: registry.example.com/other", /runs the overlay's image/],
    ["k8s", "k8s/jobs/topics-job.yaml", 'if [ "$REPLICATION" -lt 2 ]; then isr=$REPLICATION; fi', "", /min\(2, REPLICATION\)/],
    ["readme", "README.md", "kubectl apply -k deploy/k8s/overlays/production/check", "kubectl apply -k deploy/k8s/overlays/<your-overlay>/check", /placeholder \(<your-overlay>\)/],
  ];
  for (const [mode, file, from, to, want] of cases) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "odoosync-deploy-self-"));
    fs.cpSync(DEPLOY, path.join(tmp, "deploy"), { recursive: true });
    fs.copyFileSync(path.join(SRC, "CMakeLists.txt"), path.join(tmp, "CMakeLists.txt"));
    const f = path.join(tmp, "deploy", file);
    const text = fs.readFileSync(f, "utf8");
    check(text.includes(from), `selftest: ${file} contains ${JSON.stringify(from)}`);
    fs.writeFileSync(f, text.replace(from, to));
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), mode],
      // our renderer only: deploy.k8s checks that it agrees with kubectl kustomize
      { env: { ...process.env, ODOOSYNC_SOURCE_DIR: tmp, ODOOSYNC_DEPLOY_NO_KUBECTL: "1" },
        encoding: "utf8", timeout: 120000 });
    check(r.status === 1 && want.test(r.stderr),
      `selftest: ${file}: ${JSON.stringify(to).slice(0, 50)} is caught (${want}); exit ${r.status}:\n${r.stderr.slice(0, 800)}`);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const what = process.argv[2] || "all";
if (what === "readme" || what === "all") checkReadme();
if (what === "selftest") selftest();
if (what === "k8s" || what === "all") await checkK8s();
if (what === "config" || what === "all") checkConfig();
if (what === "dockerfile" || what === "all") await checkDockerfile();
done();
