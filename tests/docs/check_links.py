#!/usr/bin/env python3
"""Every relative link in the repository's Markdown files resolves inside the
repository: a clone must hold every page and file its documentation points at.

Checks inline links and images `[text](target)` / `![alt](target)` and reference
definitions `[label]: target` in every .md file (git ls-files when the tree is a git
checkout, else a walk), outside fenced code blocks and inline code. Skipped: urls with
a scheme (http:, https:, mailto:, ...) and pure #anchors. A target is resolved from
the file's own folder (or from the root for a leading '/'), after dropping its
#fragment and ?query and percent-decoding it; it must exist and stay inside the root.

Usage: check_links.py [ROOT]   (default: two levels above this file)
Exit 0 when every link resolves, 1 otherwise (one line per broken link).
"""
import os
import re
import subprocess
import sys
import urllib.parse

INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+[\"'(][^)]*)?\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def md_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard", "--", "*.md"],
                             capture_output=True, check=True).stdout
        files = [f for f in out.decode().split("\0") if f]
        if files:
            return sorted(files)
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".") and x != "node_modules"
                   and not x.startswith("build")]
        files += [os.path.relpath(os.path.join(d, n), root) for n in names if n.endswith(".md")]
    return sorted(files)


def links(text):
    """(line number, target) of every link outside code."""
    fence = None
    for no, line in enumerate(text.splitlines(), 1):
        s = line.lstrip()
        m = re.match(r"(```+|~~~+)", s)
        if m:
            if fence is None:
                fence = m.group(1)[0] * len(m.group(1))
            elif s.startswith(fence):
                fence = None
            continue
        if fence is not None:
            continue
        line = CODE_SPAN.sub("", line)
        for m in INLINE.finditer(line):
            yield no, m.group(1)
        m = REFDEF.match(line)
        if m:
            yield no, m.group(1)


def broken(root, rel, target):
    t = target.strip("<>")
    if not t or t.startswith("#") or SCHEME.match(t):
        return None
    t = urllib.parse.unquote(t.split("#", 1)[0].split("?", 1)[0])
    if not t:
        return None
    base = root if t.startswith("/") else os.path.join(root, os.path.dirname(rel))
    path = os.path.normpath(os.path.join(base, t.lstrip("/")))
    real_root = os.path.realpath(root)
    if os.path.commonpath([os.path.realpath(path), real_root]) != real_root:
        return "points outside the repository"
    if not os.path.exists(path):
        return "does not exist"
    return None


def main(argv):
    root = os.path.abspath(argv[1] if len(argv) > 1 else
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    bad, n = [], 0
    files = md_files(root)
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        for no, target in links(text):
            n += 1
            why = broken(root, rel, target)
            if why:
                bad.append("%s:%d: link %r %s" % (rel, no, target, why))
    for line in bad:
        print(line)
    print("%d links in %d Markdown files: %d broken" % (n, len(files), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
