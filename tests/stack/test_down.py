#!/usr/bin/env python3
"""`stack down` is quick and leaves nothing, even while clients hold connections:
a WebDAV upload stalled half-way (Apache's worker waits for the rest of the body;
Apache then takes ~10 s to give up on it), plus an idle connection to Redis, to
each Kafka broker and to the Odoo emulator. Starts its own stack in a temporary
directory (needs ODOOSYNC_KAFKA_BROKER), so it runs without the `stack` fixture."""
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
STACK = os.path.join(HERE, "stack")
LIMIT_S = 5.0


def env_of(path):
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    return env


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def descendants(pids):
    parent = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open("/proc/%s/stat" % e) as f:
                    parent[int(e)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = set(), set(pids)
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found


def main():
    tmp = tempfile.mkdtemp(prefix="odoosync-stack-down-")
    os.chmod(tmp, 0o755)  # Apache runs as another user when we are root
    d = os.path.join(tmp, "stack")
    conns = []
    try:
        subprocess.run([sys.executable, STACK, "up", "--dir", d], check=True,
                       stdout=subprocess.DEVNULL)
        env = env_of(os.path.join(d, "env"))
        pids = {int(env[k]) for k in ("REDIS_PID", "KAFKA_PID", "APACHE_PID", "ODOO_PID")}
        procs = pids | descendants(pids)
        u = urllib.parse.urlparse(env["DAV_URL"])
        auth = base64.b64encode(("%s:%s" % (env["DAV_USER"], env["DAV_PASSWORD"])).encode())
        s = socket.create_connection((u.hostname, u.port))
        s.sendall(b"PUT " + u.path.encode() + b"stalled.bin HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Basic " + auth + b"\r\nContent-Length: 100000\r\n\r\n0123")
        conns.append(s)
        for hp in env["KAFKA_BOOTSTRAP"].split(",") + [
                "127.0.0.1:" + env["REDIS_PORT"],
                urllib.parse.urlparse(env["ODOO_URL"]).netloc]:
            h, p = hp.rsplit(":", 1)
            conns.append(socket.create_connection((h, int(p))))
        # the stack's directories outside d (Apache's lock database in /dev/shm)
        outside = []
        with open(os.path.join(d, "apache", "httpd.conf")) as f:
            for line in f:
                if line.startswith("DavLockDB "):
                    lockdir = os.path.dirname(line.split(None, 1)[1].strip().strip('"'))
                    if not lockdir.startswith(d + os.sep):
                        outside.append(lockdir)
        time.sleep(1.0)  # Apache's worker is now reading the body
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, STACK, "down", "--dir", d],
                           capture_output=True, text=True)
        took = time.monotonic() - t0
        left = sorted(p for p in procs if alive(p))
        print("stack down: exit %d in %.1f s; %s" % (r.returncode, took, r.stderr.strip()))
        ok = True
        if r.returncode != 0:
            print("FAIL: stack down exited %d" % r.returncode)
            ok = False
        if took > LIMIT_S:
            print("FAIL: stack down took %.1f s (limit %.0f s)" % (took, LIMIT_S))
            ok = False
        if left:
            print("FAIL: still running after stack down: %s" % left)
            ok = False
        if os.path.exists(d) or os.path.exists(d + ".pids"):
            print("FAIL: %s (or its .pids) is left" % d)
            ok = False
        for x in outside:
            if os.path.exists(x):
                print("FAIL: %s (Apache's lock database) is left" % x)
                ok = False
        return 0 if ok else 1
    finally:
        for c in conns:
            c.close()
        subprocess.run([sys.executable, STACK, "down", "--dir", d],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
