// validate.mjs: schemas/config.schema.json checked by a real JSON Schema
// validator (ajv, draft 2020-12, strict mode), on the same files the C loader
// reads in tests/unit/test_cfg.c:
//   examples/odoosync.example.json, tests/cfg/valid/*.json    must pass
//   tests/cfg/invalid/*.json                                  must fail, except
//     the ONLY_ODOOSYNC ones, whose fault no schema can see (domain syntax,
//     unique folders, JSON syntax, duplicate keys, Documents mappings that overlap)
// Comments are stripped as common/cfg.c does. Uses the ajv that tests/jobs/
// installs (tests/jobs/validate.mjs runs `npm ci` there when it is missing).
// Prints "N passed, N failed"; exits 1 if anything failed.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const source = process.env.ODOOSYNC_SOURCE_DIR || path.resolve(here, "..", "..");
const modules = path.join(source, "tests", "jobs", "node_modules");
const ONLY_ODOOSYNC = new Set([
  "10_bad_domain.json",
  "11_duplicate_folder.json",
  "21_syntax.json",
  "22_duplicate_key.json",
  "26_standalone_clash.json",
  "37_unmatched_clash.json",
  "27_unterminated_comment.json",
  // Documents mappings: the same folder twice, one inside another, clashes with the
  // other folders under the root
  "38_documents_all_combined.json",
  "39_documents_nested_odoo.json",
  "42_documents_cloud_overlap.json",
  "43_documents_type_clash.json",
  "46_documents_same_id.json",
  "48_documents_standalone_clash.json",
]);

function stripComments(s) {
  let out = "";
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"' && s[j] !== "\n") j += s[j] === "\\" ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j + 1;
    } else if (s.startsWith("//", i)) {
      while (i < s.length && s[i] !== "\n") i++;
    } else if (s.startsWith("/*", i)) {
      const end = s.indexOf("*/", i + 2);
      if (end < 0) throw new Error("unterminated /* comment");
      out += "\n".repeat(s.slice(i, end).split("\n").length - 1);
      i = end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const load = (p) => JSON.parse(stripComments(fs.readFileSync(p, "utf8")));

if (!fs.existsSync(path.join(modules, "ajv", "package.json"))) {
  console.log(`validate.mjs: ${modules} has no ajv yet (tests/jobs/validate.mjs installs it)`);
  process.exit(1);
}
const { default: Ajv2020 } = await import(pathToFileURL(path.join(modules, "ajv/dist/2020.js")).href);
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(source, "schemas", "config.schema.json"), "utf8")));

let passed = 0;
let failed = 0;
const dir = (d) => fs.readdirSync(d).filter((n) => n.endsWith(".json")).sort().map((n) => path.join(d, n));
const valid = [path.join(source, "examples", "odoosync.example.json"), ...dir(path.join(source, "tests", "cfg", "valid"))];
for (const p of valid) {
  if (validate(load(p))) {
    passed++;
  } else {
    failed++;
    console.log(`${path.basename(p)}: should be valid: ${ajv.errorsText(validate.errors)}`);
  }
}
for (const p of dir(path.join(source, "tests", "cfg", "invalid"))) {
  if (ONLY_ODOOSYNC.has(path.basename(p))) continue;
  if (validate(load(p))) {
    failed++;
    console.log(`${path.basename(p)}: should be invalid under the schema`);
  } else {
    passed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
