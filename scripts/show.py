#!/usr/bin/env python3
"""show.py: print both sides of a sync, for the demo and for debugging.

Reads the test stack's env file (DAV_URL, DAV_USER, DAV_PASSWORD, ODOO_URL,
ODOO_DB, ODOO_USER, ODOO_PASSWORD) and prints:
  - the cloud tree under the root folder, with sizes and odoosync's tags;
  - per Odoo record that has attachments, each attachment (type, name, url).
Python standard library only.
"""
import base64
import json
import sys
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def propfind(env, path):
    base = env["DAV_URL"].rstrip("/")
    url = base + urllib.parse.quote(path)
    body = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:o="urn:odoosync"><d:prop>'
            b"<d:resourcetype/><d:getcontentlength/><o:attachment/><o:record/><o:type/>"
            b"</d:prop></d:propfind>")
    req = urllib.request.Request(url, data=body, method="PROPFIND")
    req.add_header("Depth", "1")
    req.add_header("Content-Type", "application/xml")
    auth = base64.b64encode(("%s:%s" % (env["DAV_USER"], env["DAV_PASSWORD"])).encode()).decode()
    req.add_header("Authorization", "Basic " + auth)
    try:
        with urllib.request.urlopen(req) as r:
            root = ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return []
        raise
    base_path = urllib.parse.urlparse(base).path
    out = []
    for resp in root.findall("{DAV:}response"):
        href = urllib.parse.unquote(resp.find("{DAV:}href").text)
        p = href[len(base_path):] if href.startswith(base_path) else href
        p = p.rstrip("/") or "/"
        if p == path.rstrip("/"):
            continue
        is_dir = resp.find(".//{DAV:}collection") is not None
        size = resp.find(".//{DAV:}getcontentlength")
        tags = []
        for name in ("attachment", "record", "type"):
            t = resp.find(".//{urn:odoosync}%s" % name)
            if t is not None and t.text:
                tags.append("%s=%s" % (name, t.text))
        out.append((p, is_dir, int(size.text) if size is not None and size.text else 0, tags))
    return sorted(out)


def print_tree(env, path, depth=0):
    for p, is_dir, size, tags in propfind(env, path):
        name = p.rsplit("/", 1)[-1]
        tag = ("  [" + ", ".join(tags) + "]") if tags else ""
        if is_dir:
            print("%s%s/%s" % ("  " * depth, name, tag))
            print_tree(env, p, depth + 1)
        else:
            print("%s%s  (%d bytes)%s" % ("  " * depth, name, size, tag))


def rpc(env, model, method, args, kwargs=None):
    payload = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
        "service": "object", "method": "execute_kw",
        "args": [env["ODOO_DB"], 2, env["ODOO_PASSWORD"], model, method, args, kwargs or {}]}}
    req = urllib.request.Request(env["ODOO_URL"] + "/jsonrpc", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        ans = json.loads(r.read())
    if "error" in ans:
        raise RuntimeError(ans["error"]["data"]["message"])
    return ans.get("result")  # none when the method returned None


def print_odoo(env):
    atts = rpc(env, "ir.attachment", "search_read", [[]],
               {"fields": ["name", "type", "url", "res_model", "res_id", "file_size"],
                "order": "res_model, res_id, id"})
    by_rec = {}
    for a in atts:
        by_rec.setdefault((a["res_model"] or "", a["res_id"] or 0), []).append(a)
    for (model, rid), lst in sorted(by_rec.items()):
        if model:
            try:
                name = rpc(env, model, "read", [[rid]], {"fields": ["display_name"]})
                shown = name[0]["display_name"] if name else "(gone)"
            except RuntimeError as e:  # a model this Odoo does not serve (ir.ui.view, ...)
                shown = "(%s)" % e
            title = "%s,%d  %s" % (model, rid, shown)
        else:
            title = "(stand-alone)"
        print(title)
        for a in lst:
            where = a["url"] if a["type"] == "url" else "%d bytes in Odoo" % (a["file_size"] or 0)
            print("    #%-4d %-6s %s -> %s" % (a["id"], a["type"], a["name"], where))


def main():
    env = load_env(sys.argv[1])
    root = sys.argv[2] if len(sys.argv) > 2 else "Odoo"
    print("== cloud: %s/%s" % (env["DAV_URL"].rstrip("/"), root))
    print(root + "/")
    print_tree(env, "/" + root, 1)
    print("\n== odoo: attachments per record")
    print_odoo(env)


if __name__ == "__main__":
    main()
