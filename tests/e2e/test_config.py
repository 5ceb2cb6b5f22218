"""e2e config: `odoosync config keys` and `odoosync config dump`, what the example
configuration and the k8s ConfigMap point an operator to.

- `config keys` lists every key of schemas/config.schema.json (types' members as
  types[].<name>) with its default and environment variable; needs no file;
- `config dump --config FILE` prints the effective configuration, the layers in
  order (defaults < file < environment < -X); a secret set in the environment never
  appears in its output, only its source and "(set)";
- an unknown key in the file is an error naming it (exit 2, nothing dumped);
- both answer --help; `config` is listed by `odoosync --help`.
No server is contacted.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "s3cret-Value-never-printed-7731"


def schema_keys():
    with open(os.path.join(SRC, "schemas", "config.schema.json")) as f:
        s = json.load(f)
    out = []

    def res(n):
        return s["$defs"][n["$ref"].split("/")[-1]] if "$ref" in n else n

    def walk(n, path):
        n = res(n)
        if "properties" in n:
            for k, v in n["properties"].items():
                if k != "$schema":
                    walk(v, path + [k])
        elif n.get("type") == "array" and "items" in n:
            walk(n["items"], path[:-1] + [path[-1] + "[]"])
        else:
            out.append(".".join(path))
    walk(s, [])
    return out


class TestConfigCommand(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="odoosync-e2e-config-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.config = os.path.join(self.tmp, "odoosync.json")

    def write(self, cfg):
        with open(self.config, "w") as f:
            json.dump(cfg, f)

    def odoosync(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("ODOOSYNC_")}
        e.update(env or {})
        return subprocess.run([harness.binary()] + list(args), env=e, capture_output=True,
                              text=True, timeout=60)

    def test_keys_lists_every_schema_key(self):
        p = self.odoosync("config", "keys")
        self.assertEqual(p.returncode, 0, p.stderr)
        names = {ln.split()[0] for ln in p.stdout.splitlines() if ln and not ln[0].isspace()}
        for key in schema_keys():
            if key == "kafka.properties":
                key = "kafka.properties.<name>"
            elif key.startswith("types[]."):
                key = "types[]." + key.split(".", 1)[1]
            self.assertIn(key, names, "config keys does not list %s" % key)
        self.assertRegex(p.stdout, r'(?m)^worker\.concurrency\s+.*default "8"; env '
                                   r'ODOOSYNC_WORKER_CONCURRENCY$')

    def test_dump_layers_and_no_secret(self):
        self.write({"odoo": {"url": "http://odoo.example:8069", "database": "prod",
                             "login": "sync", "password_env": "MY_ODOO_PASSWORD"},
                    "cloud": {"url": "https://cloud.example/dav", "user": "odoo",
                              "password_env": "MY_CLOUD_PASSWORD"},
                    "worker": {"concurrency": 3, "max_attempts": 7},
                    "types": [{"folder": "Sales", "model": "sale.order"}]})
        p = self.odoosync("config", "dump", "--config", self.config, "-X", "worker.max_attempts=9",
                          env={"MY_ODOO_PASSWORD": SECRET, "MY_CLOUD_PASSWORD": SECRET + "x",
                               "ODOOSYNC_WORKER_CONCURRENCY": "5",
                               "ODOOSYNC_WORKER_BACKOFF_MS": "2500"})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(SECRET, p.stdout + p.stderr)
        lines = set(p.stdout.splitlines())
        for want in ('odoo.url = "http://odoo.example:8069"',
                     'odoo.password_env = "MY_ODOO_PASSWORD"', "odoo.password = (set, from $MY_ODOO_PASSWORD)",
                     "cloud.password = (set, from $MY_CLOUD_PASSWORD)", "redis.password = (unset)",
                     "worker.concurrency = 5",     # environment over file
                     "worker.max_attempts = 9",    # -X over file
                     "worker.backoff_ms = 2500",   # environment over default
                     "worker.grace_ms = 30000",    # default
                     'types[0].model = "sale.order"', 'types[0].domain = "[]"'):
            self.assertIn(want, lines, p.stdout)

    def test_dump_unknown_key(self):
        self.write({"odoo": {"url": "http://odoo.example:8069", "databse": "prod"}})
        p = self.odoosync("config", "dump", "--config", self.config)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("databse", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_help(self):
        p = self.odoosync("--help")
        self.assertRegex(p.stdout, r"(?m)^  config\s")
        for args in (("config", "--help"), ("config", "keys", "--help"),
                     ("config", "dump", "--help")):
            p = self.odoosync(*args)
            self.assertEqual(p.returncode, 0, args)
            self.assertTrue(p.stdout.startswith("usage: odoosync config"), p.stdout)
            self.assertIn("dump", p.stdout)
        p = self.odoosync("config", "frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: odoosync config", p.stderr)


if __name__ == "__main__":
    harness.main()
