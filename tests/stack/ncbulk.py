"""Nextcloud's bulk upload request (POST /remote.php/dav/bulk), parsed as Nextcloud 27's
MultipartRequestParser does: for the test servers (ncdav.py, the stack's Nextcloud-like
server, and tests/integration/dav_fault_server.py). Standard library only.

parse(content_type, body) -> (status, parts): parts is a list of (headers, content) with
lower-case header names, in order, when status is 200; otherwise status is the error the
endpoint answers (400 for a malformed body or a wrong md5, 411 for a part without
Content-Length) and parts are those read before it. Each part must carry X-File-MD5,
the md5 of its content, else 400. What the endpoint then does with a part (Nextcloud:
Folder::newFile, which replaces an existing file; "Could not create path" when its
folder is missing) is the server's.
"""
import hashlib


def parse(content_type, body):
    parts = []
    try:
        mime, bnd = (content_type or "").split(";")
        key, val = bnd.split("=")
    except ValueError:
        return 400, parts
    val = val.strip()
    if val.startswith('"') and val.endswith('"'):
        val = val[1:-1]
    if mime.strip() != "multipart/related" or key.strip() != "boundary":
        return 400, parts
    boundary = ("--" + val + "\r\n").encode()
    last = ("--" + val + "--\r\n").encode()
    pos = 0
    while body[pos:pos + len(last)] != last:
        if body[pos:pos + len(boundary)] != boundary:
            return 400, parts  # "Boundary not found where it should be."
        pos += len(boundary)
        headers = {}
        while True:
            eol = body.find(b"\n", pos)
            if eol < 0:
                return 400, parts
            line = body[pos:eol + 1]
            pos = eol + 1
            if line == b"\r\n":
                break
            if b":" not in line:
                return 400, parts
            k, v = line.decode("utf-8", "surrogateescape").split(":", 1)
            headers[k.strip().lower()] = v.strip()
        if "content-length" not in headers:
            return 411, parts
        if "x-file-md5" not in headers:
            return 400, parts
        n = int(headers["content-length"])
        content = body[pos:pos + n]
        if hashlib.md5(content).hexdigest() != headers["x-file-md5"]:
            return 400, parts  # "Computed md5 hash is incorrect."
        if n and pos + n >= len(body):
            return 400, parts  # "Unexpected EOF while reading stream."
        pos += n + 2
        parts.append((headers, content))
    return 200, parts
