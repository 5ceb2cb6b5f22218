// validate.mjs: checks the examples under tests/jobs/ against schemas/*.schema.json
// with a real JSON Schema validator (ajv, draft 2020-12, formats from ajv-formats).
//
//   valid/*.json        must pass  job.schema.json
//   invalid/*.json      must fail  job.schema.json, and ajv must flag the field that
//                       invalid/FAULTS.tsv names (the one job_decode() reports)
//   event/{valid,invalid}/*.json   event.schema.json
//   dlq/{valid,invalid}/*.json     dlq.schema.json
//
// The C codec is run on the same files by tests/unit/test_job.c, so the two agree.
// Installs ajv with `npm ci` (from package-lock.json) when node_modules is missing.
// Prints "N passed, N failed"; exits 1 if anything failed.
import { execSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const source = process.env.ODOOSYNC_SOURCE_DIR || path.resolve(here, "..", "..");
const schemas = path.join(source, "schemas");
const examples = path.join(source, "tests", "jobs");

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// Two test runs (two build dirs) may start at once: one installs, the other waits.
function ensureModules() {
  const marker = path.join(here, "node_modules", "ajv-formats", "package.json");
  if (fs.existsSync(marker)) return;
  const lock = path.join(here, ".npm-install.lock");
  for (let i = 0; i < 600; i++) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (fs.existsSync(marker)) return;
      sleep(200);
    }
  }
  try {
    if (!fs.existsSync(marker)) {
      console.log("validate.mjs: node_modules missing, running npm ci");
      execSync("npm ci --silent --no-audit --no-fund", { cwd: here, stdio: "inherit" });
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

ensureModules();
const { default: Ajv2020 } = await import("ajv/dist/2020.js");
const { default: addFormats } = await import("ajv-formats");

const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
addFormats(ajv);
for (const name of ["job", "event", "dlq"]) {
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(schemas, `${name}.schema.json`), "utf8")));
}
const validator = (name) => ajv.getSchema(`https://odoosync.invalid/schemas/${name}.schema.json`);

let passed = 0;
let failed = 0;
function fail(msg) {
  failed++;
  console.error(`FAIL ${msg}`);
}

// ajv error -> the JSON path job_decode() reports ("$.expect.checksum").
function jsonPath(err) {
  let p = "$" + err.instancePath.replace(/\//g, ".");
  const prop = err.params.missingProperty ?? err.params.additionalProperty;
  if (prop !== undefined) p += "." + prop;
  return p;
}

function readFaults(dir) {
  const faults = new Map();
  const file = path.join(dir, "FAULTS.tsv");
  if (!fs.existsSync(file)) return faults;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const [name, p] = line.split("\t");
    faults.set(name, p);
  }
  return faults;
}

function jsonFiles(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
}

function check(schemaName, dir) {
  const validate = validator(schemaName);
  const validDir = path.join(examples, dir, "valid");
  const invalidDir = path.join(examples, dir, "invalid");
  const faults = readFaults(invalidDir);
  let count = 0;

  for (const f of jsonFiles(validDir)) {
    count++;
    const rel = path.join(dir, "valid", f);
    const doc = JSON.parse(fs.readFileSync(path.join(validDir, f), "utf8"));
    if (validate(doc)) passed++;
    else fail(`${rel}: rejected: ${ajv.errorsText(validate.errors)}`);
  }
  for (const f of jsonFiles(invalidDir)) {
    count++;
    const rel = path.join(dir, "invalid", f);
    const doc = JSON.parse(fs.readFileSync(path.join(invalidDir, f), "utf8"));
    if (validate(doc)) {
      fail(`${rel}: accepted`);
      continue;
    }
    const want = faults.get(f);
    if (want !== undefined) {
      const got = validate.errors.map(jsonPath);
      if (!got.includes(want)) {
        fail(`${rel}: rejected, but not at ${want} (ajv: ${[...new Set(got)].join(", ")})`);
        continue;
      }
    } else if (faults.size > 0) {
      fail(`${rel}: not listed in FAULTS.tsv`);
      continue;
    }
    passed++;
  }
  if (count === 0) fail(`${dir}: no examples found`);
}

check("job", ".");
check("event", "event");
check("dlq", "dlq");

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
