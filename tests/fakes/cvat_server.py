#!/usr/bin/env python3
"""A fake CVAT server for dsfs tests (Python 3 standard library only).

It implements the slice of the CVAT v2.52 REST API that dsfs's sync/cvat
client uses (see /work/shared/api/CVAT.md and cvat-openapi-subset.yaml):
same paths (with their exact trailing slashes), methods, status codes,
DRF-style error bodies, DRF pagination, Token/Bearer/Basic auth, multipart
data upload, asynchronous task creation and export through /api/requests,
and the legacy (< 2.16) status/export endpoints when started with an older
--version.  All state lives in memory.

Background work is driven by polls, not by wall-clock time, so tests are
deterministic: a new background request is "queued"; each GET of it moves it
one step (queued -> started -> finished), and the work (frames, jobs, export
archive) is done when it reaches "finished".  --polls N changes the number of
polls needed.

Test hooks live under /_fake/ (no auth):
  POST /_fake/tasks/<id>/complete   body {"stage": "acceptance"} optional:
                                    every annotation job -> state completed
  POST /_fake/tasks/<id>/annotate   body = COCO JSON: boxes matched to frames
                                    by file_name, categories by name
  POST /_fake/faults                body {"kind": "status"|"delay"|"garbage"|
                                    "body"|"truncated_zip"|"reset", "count": N,
                                    "status": 500, "delay": 0.5, "body": "<text>",
                                    "path": "<regex on path+query>",
                                    "method": "GET"}: the next N matching
                                    requests misbehave (count -1 = forever)
  DELETE /_fake/faults              clear every fault
  GET  /_fake/state                 projects, tasks, jobs, requests
  GET  /_fake/log                   every request seen: method, path, the
                                    Accept and Content-Type headers, the
                                    auth scheme (never the secret)

Usage:
  python3 tests/fakes/cvat_server.py --port 0 --token SECRET \
      [--version 2.52.0] [--user admin --password PW] [--share DIR] \
      [--auto-annotate coco.json] [--auto-complete] [--auto-accept] \
      [--public-host HOST:PORT] [--polls 2]
The first stdout line is the port it listens on (127.0.0.1).
"""

import argparse
import base64
import io
import json
import os
import random
import re
import struct
import sys
import threading
import time
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CVAT_JSON = "application/vnd.cvat+json"
LABEL_TYPES = ["any", "cuboid", "ellipse", "mask", "points", "polygon",
               "polyline", "rectangle", "skeleton", "tag"]
INPUT_TYPES = ["checkbox", "radio", "number", "text", "select"]
SORTING = ["lexicographical", "natural", "predefined", "random"]
STAGES = ["annotation", "validation", "acceptance"]
STATES = ["new", "in progress", "completed", "rejected"]


class HttpError(Exception):
    """An error answer: status + JSON body (or raw bytes)."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def parse_version(s):
    parts = (s.split(".") + ["0", "0", "0"])[:3]
    return tuple(int(re.match(r"\d*", p).group() or 0) for p in parts)


def image_size(data):
    """(width, height) of a PNG/JPEG/GIF/BMP header, else (640, 480)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return w, abs(h)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker = data[i + 1]
            seglen = struct.unpack(">H", data[i + 2:i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7,
                          0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                h, w = struct.unpack(">HH", data[i + 5:i + 9])
                return w, h
            i += 2 + seglen
    return 640, 480


def natural_key(s):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def parse_multipart(body, boundary):
    """Parse multipart/form-data by hand: list of (name, filename|None, bytes)."""
    delim = b"--" + boundary
    parts = []
    pos = body.find(delim)
    if pos < 0:
        raise ValueError("no boundary in body")
    while True:
        pos += len(delim)
        if body[pos:pos + 2] == b"--":
            return parts
        if body[pos:pos + 2] != b"\r\n":
            raise ValueError("malformed boundary line")
        pos += 2
        hend = body.find(b"\r\n\r\n", pos)
        if hend < 0:
            raise ValueError("part headers not terminated")
        headers = {}
        for line in body[pos:hend].split(b"\r\n"):
            k, _, v = line.decode("utf-8", "replace").partition(":")
            headers[k.strip().lower()] = v.strip()
        nxt = body.find(b"\r\n" + delim, hend + 4)
        if nxt < 0:
            raise ValueError("part not terminated")
        data = body[hend + 4:nxt]
        disp = headers.get("content-disposition", "")
        params = dict(m.group(1, 3) if m.group(3) is not None else (m.group(1), m.group(2))
                      for m in re.finditer(r';\s*([\w*]+)=(?:"((?:[^"\\]|\\.)*)"|([^;]*))', disp))
        name = params.get("name")
        if name is None:
            raise ValueError("part without a name")
        parts.append((name, params.get("filename"), data))
        pos = nxt + 2


class State:
    """Everything the server knows; one lock guards it all."""

    def __init__(self, args):
        self.args = args
        self.version = args.version
        self.vt = parse_version(args.version)
        self.lock = threading.RLock()
        self.next_id = {"project": 1, "label": 1, "task": 1, "job": 1}
        self.projects = {}
        self.labels = {}
        self.tasks = {}
        self.jobs = {}
        self.requests = {}
        self.faults = []
        self.log = []
        self.auto_coco = None
        if args.auto_annotate:
            with open(args.auto_annotate, "rb") as f:
                self.auto_coco = json.load(f)

    def new_id(self, kind):
        i = self.next_id[kind]
        self.next_id[kind] += 1
        return i

    def has_requests_api(self):
        return self.vt >= (2, 16, 0)

    def rq_id(self, action, target, target_id, extra=None):
        if self.vt >= (2, 38, 0):
            s = "action=%s&target=%s&target_id=%d" % (action, target, target_id)
            for k, v in (extra or []):
                s += "&%s=%s" % (k, v)
            return s
        # older servers used colon-separated ids that may hold spaces
        s = "%s:%s-%d" % (action, target, target_id)
        for _, v in (extra or []):
            s += "-" + v
        return s


STATE = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""

    def log_message(self, fmt, *args):
        if STATE.args.verbose:
            sys.stderr.write("fake-cvat: " + (fmt % args) + "\n")

    # -- plumbing ---------------------------------------------------------
    def base_url(self):
        host = STATE.args.public_host or self.headers.get("Host") or "127.0.0.1"
        return "http://" + host

    def send_raw(self, status, body, ctype, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept, Origin")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_raw(status, body, CVAT_JSON, headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(n) if n else b""

    def json_body(self, body, required=True):
        ctype = self.headers.get("Content-Type", "")
        if not body and not required:
            return {}
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise HttpError(415, {"detail": 'Unsupported media type "%s" in request.'
                                  % ctype.split(";")[0].strip()})
        try:
            obj = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise HttpError(400, {"detail": "JSON parse error - %s" % e})
        if not isinstance(obj, dict):
            raise HttpError(400, {"non_field_errors": [
                "Invalid data. Expected a dictionary, but got %s." % type(obj).__name__]})
        return obj

    def check_accept(self):
        accept = self.headers.get("Accept")
        if not accept:
            return
        for item in accept.split(","):
            mt = item.split(";")[0].strip().lower()
            if mt in ("*/*", "application/*", CVAT_JSON):
                return
        raise HttpError(406, {"detail": "Could not satisfy the request Accept header."})

    def auth_scheme(self):
        """Return the scheme that authenticated, None if no credentials.
        Raises 401 for bad ones."""
        h = self.headers.get("Authorization")
        if not h:
            return None
        scheme, _, cred = h.partition(" ")
        scheme = scheme.lower()
        cred = cred.strip()
        if scheme in ("token", "bearer"):
            if cred == STATE.args.token:
                return scheme
            raise HttpError(401, {"detail": "Invalid token."},
                            {"WWW-Authenticate": 'Token'})
        if scheme == "basic":
            try:
                user, _, pw = base64.b64decode(cred).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise HttpError(401, {"detail": "Invalid basic header. Credentials not correctly base64 encoded."})
            if user == STATE.args.user and pw == (STATE.args.password or STATE.args.token):
                return "basic"
            raise HttpError(401, {"detail": "Invalid username/password."},
                            {"WWW-Authenticate": 'Basic realm="api"'})
        raise HttpError(401, {"detail": "Authentication credentials were not provided."},
                        {"WWW-Authenticate": 'Token'})

    def take_fault(self, full_path):
        with STATE.lock:
            for f in STATE.faults:
                if f["count"] == 0:
                    continue
                if f.get("method") and f["method"].upper() != self.command:
                    continue
                if f.get("path") and not re.search(f["path"], full_path):
                    continue
                if f["kind"] == "truncated_zip" and "download" not in full_path \
                        and "action=download" not in full_path:
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                return dict(f)
        return None

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        q = {k: v[-1] for k, v in query.items()}
        body = self.read_body()
        self._truncate_zip = False   # one handler serves every request of a connection
        auth = self.headers.get("Authorization", "")
        with STATE.lock:
            STATE.log.append({"method": self.command, "path": path, "query": url.query,
                              "accept": self.headers.get("Accept"),
                              "content_type": self.headers.get("Content-Type"),
                              "auth": auth.split(" ")[0] if auth else None,
                              "x_organization": self.headers.get("X-Organization")})
        try:
            if path.startswith("/_fake/"):
                return self.fake_hook(path, body)
            fault = self.take_fault(self.path)
            if fault:
                kind = fault["kind"]
                if kind == "delay":
                    time.sleep(float(fault.get("delay", 1.0)))
                elif kind == "status":
                    st = int(fault.get("status", 500))
                    if st >= 500:
                        page = ("<html><head><title>%d</title></head><body><center><h1>%d</h1>"
                                "</center><hr><center>nginx</center></body></html>" % (st, st)).encode()
                        return self.send_raw(st, page, "text/html")
                    if st == 401:
                        return self.send_json(401, {"detail": "Invalid token."},
                                              {"WWW-Authenticate": "Token"})
                    if st == 429:
                        return self.send_json(429, {"detail": "Request was throttled."},
                                              {"Retry-After": "0"})
                    return self.send_json(st, {"detail": "Injected error."})
                elif kind == "body":
                    return self.send_raw(int(fault.get("status", 200)),
                                         fault.get("body", "").encode(), CVAT_JSON)
                elif kind == "garbage":
                    return self.send_raw(200, b'{"count": 3, "results": [{"id": <<garbage',
                                         CVAT_JSON)
                elif kind == "reset":
                    self.close_connection = True
                    try:
                        self.wfile.flush()
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return None
                elif kind == "truncated_zip":
                    self._truncate_zip = True
            self.check_accept()
            scheme = self.auth_scheme()
            route = self.route(path)
            if route is None:
                raise HttpError(404, {"detail": "Not found."})
            fn, args, needs_auth = route
            if needs_auth and scheme is None:
                raise HttpError(401, {"detail": "Authentication credentials were not provided."},
                                {"WWW-Authenticate": 'Token'})
            return fn(q, body, *args)
        except HttpError as e:
            if isinstance(e.body, (bytes, str)):
                b = e.body.encode() if isinstance(e.body, str) else e.body
                return self.send_raw(e.status, b, "text/plain", e.headers)
            return self.send_json(e.status, e.body, e.headers)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = handle_any

    # -- routing ----------------------------------------------------------
    def route(self, path):
        m = self.command
        table = [
            ("POST", r"/api/auth/login", self.auth_login, False),
            ("GET", r"/api/users/self", self.users_self, True),
            ("GET", r"/api/server/about", self.server_about, False),
            ("GET", r"/api/server/annotation/formats", self.server_formats, True),
            ("GET", r"/api/projects", self.projects_list, True),
            ("POST", r"/api/projects", self.projects_create, True),
            ("GET", r"/api/projects/(\d+)", self.projects_get, True),
            ("PATCH", r"/api/projects/(\d+)", self.projects_patch, True),
            ("DELETE", r"/api/projects/(\d+)", self.projects_delete, True),
            ("GET", r"/api/labels", self.labels_list, True),
            ("GET", r"/api/tasks", self.tasks_list, True),
            ("POST", r"/api/tasks", self.tasks_create, True),
            ("GET", r"/api/tasks/(\d+)", self.tasks_get, True),
            ("DELETE", r"/api/tasks/(\d+)", self.tasks_delete, True),
            ("POST", r"/api/tasks/(\d+)/data/", self.tasks_data, True),
            ("GET", r"/api/tasks/(\d+)/data/meta", self.tasks_meta, True),
            ("GET", r"/api/tasks/(\d+)/status", self.tasks_status, True),
            ("POST", r"/api/tasks/(\d+)/dataset/export", self.tasks_export, True),
            ("GET", r"/api/tasks/(\d+)/dataset/download", self.tasks_download, True),
            ("GET", r"/api/tasks/(\d+)/annotations/", self.tasks_annotations, True),
            ("GET", r"/api/jobs", self.jobs_list, True),
            ("GET", r"/api/jobs/(\d+)", self.jobs_get, True),
            ("PATCH", r"/api/jobs/(\d+)", self.jobs_patch, True),
            ("GET", r"/api/requests", self.requests_list, True),
            ("GET", r"/api/requests/([^/]+)", self.requests_get, True),
        ]
        legacy_only = {self.tasks_status}
        new_only = {self.tasks_export, self.tasks_download, self.requests_get, self.requests_list}
        path_matched = False
        for meth, pat, fn, needs_auth in table:
            mm = re.fullmatch(pat, path)
            if not mm:
                continue
            if fn in new_only and not STATE.has_requests_api():
                continue
            if fn in legacy_only and STATE.vt >= (2, 38, 0):
                continue
            path_matched = True
            if meth == m or (m == "HEAD" and meth == "GET"):
                args = tuple(urllib.parse.unquote(g) if not g.isdigit() else int(g)
                             for g in mm.groups())
                return fn, args, needs_auth
        if path_matched:
            raise HttpError(405, {"detail": 'Method "%s" not allowed.' % m})
        return None

    # -- pagination -------------------------------------------------------
    def paginate(self, q, items):
        """DRF PageNumberPagination as CVAT configures it (page_size=all)."""
        items = sorted(items, key=lambda o: -o["id"]) if "sort" not in q else items
        raw_size = q.get("page_size", "")
        if raw_size == "all":
            size = max(len(items), 1)
            all_mode = True
        else:
            all_mode = False
            try:
                size = int(raw_size)
                if size <= 0:
                    size = 10
            except ValueError:
                size = 10
            size = min(size, 1000)
        raw_page = q.get("page", "1")
        count = len(items)
        pages = max(1, (count + size - 1) // size)
        try:
            page = pages if raw_page == "last" else int(raw_page)
        except ValueError:
            raise HttpError(404, {"detail": "Invalid page."})
        if page < 1 or page > pages:
            raise HttpError(404, {"detail": "Invalid page."})
        chunk = items[(page - 1) * size: page * size]

        def link(p):
            qq = {k: v for k, v in q.items() if k != "sort" or "sort" in self.path}
            qq.pop("page", None)
            if p > 1:   # DRF drops page=1 from "previous"
                qq["page"] = str(p)
            if all_mode:
                qq["page_size"] = "all"
            return "%s%s?%s" % (self.base_url(), urllib.parse.urlsplit(self.path).path,
                                urllib.parse.urlencode(sorted(qq.items())))
        nxt = link(page + 1) if page < pages else None
        if page > 1:
            prev = link(page - 1)
        else:
            prev = None
        return {"count": count, "next": nxt, "previous": prev, "results": chunk}

    @staticmethod
    def filter_eq(q, items, fields):
        out = []
        for o in items:
            ok = True
            for qname, getter in fields.items():
                if qname in q and str(getter(o)) != q[qname]:
                    ok = False
            if ok:
                out.append(o)
        return out

    # -- serializers ------------------------------------------------------
    def user_json(self):
        return {"url": self.base_url() + "/api/users/1", "id": 1,
                "username": STATE.args.user, "first_name": "", "last_name": ""}

    def project_json(self, p):
        b = self.base_url()
        ntasks = sum(1 for t in STATE.tasks.values() if t["project_id"] == p["id"])
        return {"url": "%s/api/projects/%d" % (b, p["id"]), "id": p["id"], "name": p["name"],
                "owner": self.user_json(), "assignee": None, "guide_id": None,
                "bug_tracker": "", "task_subsets": [], "created_date": p["created"],
                "updated_date": p["created"], "status": "annotation", "dimension": None,
                "organization": None, "organization_id": None, "target_storage": None,
                "source_storage": None,
                "tasks": {"count": ntasks, "url": "%s/api/tasks?project_id=%d" % (b, p["id"])},
                "labels": {"url": "%s/api/labels?project_id=%d" % (b, p["id"])},
                "assignee_updated_date": None}

    def task_json(self, t):
        b = self.base_url()
        jobs = [STATE.jobs[j] for j in t["jobs"]]
        completed = sum(1 for j in jobs if j["stage"] == "acceptance" and j["state"] == "completed")
        validation = sum(1 for j in jobs if j["stage"] == "validation")
        return {"url": "%s/api/tasks/%d" % (b, t["id"]), "id": t["id"], "name": t["name"],
                "project_id": t["project_id"], "mode": "annotation" if t["frames"] else "",
                "owner": self.user_json(), "assignee": None, "bug_tracker": "",
                "created_date": t["created"], "updated_date": t["created"],
                "overlap": 0 if t["frames"] else None, "segment_size": t["segment_size"],
                "status": "annotation", "data_chunk_size": 72 if t["frames"] else None,
                "data_original_chunk_type": "imageset", "data_compressed_chunk_type": "imageset",
                "data_cloud_storage_id": None, "guide_id": None, "size": len(t["frames"]),
                "image_quality": t["image_quality"], "data": t["id"] if t["frames"] else None,
                "dimension": "2d", "subset": t["subset"], "organization_id": None,
                "organization": None, "target_storage": None, "source_storage": None,
                "jobs": {"count": len(jobs), "completed": completed, "validation": validation,
                         "url": "%s/api/jobs?task_id=%d" % (b, t["id"])},
                "labels": {"url": "%s/api/labels?task_id=%d" % (b, t["id"])},
                "assignee_updated_date": None, "validation_mode": None,
                "consensus_enabled": False}

    def job_json(self, j):
        b = self.base_url()
        t = STATE.tasks[j["task_id"]]
        if j["stage"] == "annotation":
            status = "annotation"
        elif j["stage"] == "acceptance" and j["state"] == "completed":
            status = "completed"
        else:
            status = "validation"
        return {"url": "%s/api/jobs/%d" % (b, j["id"]), "id": j["id"], "task_id": t["id"],
                "project_id": t["project_id"], "assignee": None, "guide_id": None,
                "dimension": "2d", "bug_tracker": None, "status": status,
                "stage": j["stage"], "state": j["state"], "mode": "annotation",
                "frame_count": j["stop_frame"] - j["start_frame"] + 1,
                "start_frame": j["start_frame"], "stop_frame": j["stop_frame"],
                "data_chunk_size": 72, "data_compressed_chunk_type": "imageset",
                "data_original_chunk_type": "imageset", "created_date": j["created"],
                "updated_date": j["created"],
                "issues": {"url": "%s/api/issues?job_id=%d" % (b, j["id"]), "count": 0},
                "labels": {"url": "%s/api/labels?job_id=%d" % (b, j["id"])},
                "type": j["type"], "organization": None, "target_storage": None,
                "source_storage": None, "assignee_updated_date": None,
                "parent_job_id": None, "consensus_replicas": 0}

    def label_json(self, lab):
        return {"id": lab["id"], "name": lab["name"], "color": lab["color"],
                "attributes": lab["attributes"], "type": lab["type"], "svg": "",
                "sublabels": [], "project_id": lab["project_id"], "task_id": lab["task_id"],
                "parent_id": None, "has_parent": False}

    def request_json(self, r):
        op = {"type": r["op_type"], "target": "task", "project_id": None,
              "task_id": r["task_id"], "job_id": None, "format": r.get("format"),
              "function_id": None, "lightweight": None}
        res = None
        if r["status"] == "finished" and r.get("zip") is not None:
            res = "%s/api/tasks/%d/dataset/download?rq_id=%s" % (
                self.base_url(), r["task_id"], urllib.parse.quote(r["id"], safe=""))
        return {"status": r["status"], "message": r.get("message", ""), "id": r["id"],
                "operation": op, "progress": 1.0 if r["status"] == "finished" else 0.0,
                "created_date": r["created"], "started_date": None, "finished_date": None,
                "expiry_date": None, "owner": {"id": 1, "username": STATE.args.user},
                "result_url": res, "result_id": None}

    # -- endpoints --------------------------------------------------------
    def auth_login(self, q, body):
        d = self.json_body(body)
        if "password" not in d:
            raise HttpError(400, {"password": ["This field is required."]})
        user = d.get("username") or d.get("email")
        pw = STATE.args.password or STATE.args.token
        if user != STATE.args.user or d["password"] != pw:
            raise HttpError(400, {"non_field_errors": ["Unable to log in with provided credentials."]})
        self.send_json(200, {"key": STATE.args.token})

    def users_self(self, q, body):
        u = self.user_json()
        u.update({"email": "%s@example.com" % STATE.args.user, "groups": ["admin"],
                  "is_staff": True, "is_superuser": True, "is_active": True,
                  "last_login": now_iso(), "date_joined": now_iso(),
                  "has_analytics_access": True})
        self.send_json(200, u)

    def server_about(self, q, body):
        self.send_json(200, {"name": "Computer Vision Annotation Tool",
                             "description": "CVAT (fake for dsfs tests)",
                             "version": STATE.version, "logo_url": "", "subtitle": ""})

    def server_formats(self, q, body):
        fmts = [{"name": "COCO 1.0", "ext": "ZIP", "version": "1.0", "enabled": True,
                 "dimension": "2d"},
                {"name": "YOLO 1.1", "ext": "ZIP", "version": "1.1", "enabled": True,
                 "dimension": "2d"}]
        self.send_json(200, {"importers": fmts, "exporters": fmts})

    def validate_labels(self, labels):
        if not isinstance(labels, list):
            raise HttpError(400, {"labels": ['Expected a list of items but got type "%s".'
                                             % type(labels).__name__]})
        errors = []
        names = set()
        for lab in labels:
            e = {}
            if not isinstance(lab, dict):
                errors.append({"non_field_errors": ["Invalid data."]})
                continue
            name = lab.get("name")
            if not isinstance(name, str) or not name:
                e["name"] = ["This field is required."]
            elif len(name) > 64:
                e["name"] = ["Ensure this field has no more than 64 characters."]
            elif name in names:
                raise HttpError(400, ["All label names must be unique"])
            else:
                names.add(name)
            if lab.get("type", "any") not in LABEL_TYPES:
                e["type"] = ['"%s" is not a valid choice.' % lab.get("type")]
            for a in lab.get("attributes", []) or []:
                for k in ("name", "mutable", "input_type", "values"):
                    if not isinstance(a, dict) or k not in a:
                        e.setdefault("attributes", []).append({k: ["This field is required."]})
                if isinstance(a, dict) and a.get("input_type") not in INPUT_TYPES:
                    e.setdefault("attributes", []).append(
                        {"input_type": ['"%s" is not a valid choice.' % a.get("input_type")]})
            errors.append(e)
        if any(errors):
            raise HttpError(400, {"labels": errors})

    def projects_list(self, q, body):
        with STATE.lock:
            items = [self.project_json(p) for p in STATE.projects.values()]
        items = self.filter_eq(q, items, {"name": lambda o: o["name"], "id": lambda o: o["id"]})
        if "search" in q:
            items = [o for o in items if q["search"].lower() in o["name"].lower()]
        self.send_json(200, self.paginate(q, items))

    def projects_create(self, q, body):
        d = self.json_body(body)
        name = d.get("name")
        if not isinstance(name, str) or not name.strip():
            raise HttpError(400, {"name": ["This field is required." if name is None
                                           else "This field may not be blank."]})
        labels = d.get("labels", [])
        self.validate_labels(labels)
        with STATE.lock:
            pid = STATE.new_id("project")
            p = {"id": pid, "name": name, "created": now_iso()}
            STATE.projects[pid] = p
            self.add_labels(pid, labels)
            self.send_json(201, self.project_json(p))

    def get_project(self, pid):
        p = STATE.projects.get(pid)
        if p is None:
            raise HttpError(404, {"detail": "Not found."})
        return p

    def projects_get(self, q, body, pid):
        with STATE.lock:
            self.send_json(200, self.project_json(self.get_project(pid)))

    def add_labels(self, pid, labels):
        for lab in labels:
            lid = STATE.new_id("label")
            STATE.labels[lid] = {"id": lid, "name": lab["name"],
                                 "type": lab.get("type", "any"),
                                 "color": lab.get("color") or "#%06x" % random.randrange(1 << 24),
                                 "attributes": [dict(a, id=i + 1) for i, a in
                                                enumerate(lab.get("attributes", []) or [])],
                                 "project_id": pid, "task_id": None}

    def projects_patch(self, q, body, pid):
        d = self.json_body(body)
        with STATE.lock:
            p = self.get_project(pid)
            if "name" in d:
                if not isinstance(d["name"], str) or not d["name"].strip():
                    raise HttpError(400, {"name": ["This field may not be blank."]})
                p["name"] = d["name"]
            labels = d.get("labels", [])
            self.validate_labels(labels)
            existing = {lab["name"] for lab in STATE.labels.values() if lab["project_id"] == pid}
            new = [lab for lab in labels if "id" not in lab]
            for lab in new:
                if lab["name"] in existing:
                    raise HttpError(400, ["All label names must be unique"])
            self.add_labels(pid, new)
            self.send_json(200, self.project_json(p))

    def projects_delete(self, q, body, pid):
        with STATE.lock:
            self.get_project(pid)
            del STATE.projects[pid]
            for tid in [t["id"] for t in STATE.tasks.values() if t["project_id"] == pid]:
                self.drop_task(tid)
            for lid in [lab["id"] for lab in STATE.labels.values() if lab["project_id"] == pid]:
                del STATE.labels[lid]
        self.send_json(204, None)

    def labels_list(self, q, body):
        with STATE.lock:
            items = [self.label_json(lab) for lab in STATE.labels.values()]
            if "task_id" in q:
                t = STATE.tasks.get(int(q["task_id"]) if q["task_id"].isdigit() else -1)
                pid = t["project_id"] if t else None
                items = [o for o in items if (o["task_id"] is not None and str(o["task_id"]) == q["task_id"])
                         or (pid is not None and o["project_id"] == pid)]
        items = self.filter_eq(q, items, {"project_id": lambda o: o["project_id"],
                                          "name": lambda o: o["name"],
                                          "type": lambda o: o["type"]})
        self.send_json(200, self.paginate(q, items))

    def tasks_list(self, q, body):
        with STATE.lock:
            items = [self.task_json(t) for t in STATE.tasks.values()]
        items = self.filter_eq(q, items, {"name": lambda o: o["name"],
                                          "project_id": lambda o: o["project_id"],
                                          "id": lambda o: o["id"]})
        self.send_json(200, self.paginate(q, items))

    def tasks_create(self, q, body):
        d = self.json_body(body)
        name = d.get("name")
        if not isinstance(name, str) or not name.strip():
            raise HttpError(400, {"name": ["This field is required." if name is None
                                           else "This field may not be blank."]})
        pid = d.get("project_id")
        seg = d.get("segment_size", 0)
        if seg is None:
            seg = 0
        if not isinstance(seg, int) or isinstance(seg, bool) or seg < 0:
            raise HttpError(400, {"segment_size": ["A valid integer is required."
                                                   if not isinstance(seg, int) else
                                                   "Ensure this value is greater than or equal to 0."]})
        labels = d.get("labels")
        with STATE.lock:
            if pid is not None:
                if not isinstance(pid, int) or pid not in STATE.projects:
                    raise HttpError(400, {"project_id": ['Invalid pk "%s" - object does not exist.' % pid]})
                if labels:
                    raise HttpError(400, {"project_id": ["Can't set labels for a task inside a project"]})
            else:
                if labels is not None:
                    self.validate_labels(labels)
            tid = STATE.new_id("task")
            t = {"id": tid, "name": name, "project_id": pid, "segment_size": seg,
                 "subset": d.get("subset", "") or "", "frames": [], "files": [],
                 "jobs": [], "image_quality": 0, "created": now_iso(), "has_data": False,
                 "shapes": [], "job_polls": 0, "legacy_status": None,
                 "legacy_export": None}
            STATE.tasks[tid] = t
            if pid is None:
                for lab in labels or []:
                    lid = STATE.new_id("label")
                    STATE.labels[lid] = {"id": lid, "name": lab["name"],
                                         "type": lab.get("type", "any"),
                                         "color": lab.get("color") or "#000000",
                                         "attributes": lab.get("attributes", []) or [],
                                         "project_id": None, "task_id": tid}
            self.send_json(201, self.task_json(t))

    def get_task(self, tid):
        t = STATE.tasks.get(tid)
        if t is None:
            raise HttpError(404, {"detail": "Not found."})
        return t

    def tasks_get(self, q, body, tid):
        with STATE.lock:
            self.send_json(200, self.task_json(self.get_task(tid)))

    def drop_task(self, tid):
        t = STATE.tasks.pop(tid)
        for j in t["jobs"]:
            STATE.jobs.pop(j, None)

    def tasks_delete(self, q, body, tid):
        with STATE.lock:
            self.get_task(tid)
            self.drop_task(tid)
        self.send_json(204, None)

    def tasks_data(self, q, body, tid):
        ctype = self.headers.get("Content-Type", "")
        mt = ctype.split(";")[0].strip().lower()
        fields = {}
        files = []
        if self.headers.get("Upload-Start") or self.headers.get("Upload-Multiple") \
                or self.headers.get("Upload-Finish"):
            raise HttpError(400, ["This fake does not implement chunked uploads"])
        if mt == "multipart/form-data":
            m = re.search(r'boundary="?([^";]+)"?', ctype)
            if not m:
                raise HttpError(400, {"detail": "Multipart form parse error - Invalid boundary in multipart: None"})
            try:
                parts = parse_multipart(body, m.group(1).encode())
            except ValueError as e:
                raise HttpError(400, {"detail": "Multipart form parse error - %s" % e})
            for name, filename, data in parts:
                fm = re.fullmatch(r"client_files\[(\d+)\]", name)
                if fm:
                    if filename is None:
                        raise HttpError(400, {"client_files": [
                            "The submitted data was not a file. Check the encoding type on the form."]})
                    files.append((int(fm.group(1)), os.path.basename(filename), data))
                elif re.fullmatch(r"(server_files|remote_files|upload_file_order)\[(\d+)\]", name):
                    key = name.split("[")[0]
                    fields.setdefault(key, []).append(data.decode())
                else:
                    fields[name] = data.decode("utf-8", "replace")
            files.sort(key=lambda f: f[0])
        elif mt == "application/json":
            fields = self.json_body(body)
        else:
            raise HttpError(415, {"detail": 'Unsupported media type "%s" in request.' % mt})

        errors = {}
        iq = fields.get("image_quality")
        try:
            iq = int(iq) if iq is not None and not isinstance(iq, bool) else None
        except (TypeError, ValueError):
            errors["image_quality"] = ["A valid integer is required."]
            iq = -1
        if iq is None:
            errors["image_quality"] = ["This field is required."]
        elif not errors and not 0 <= iq <= 100:
            errors["image_quality"] = ["Ensure this value is %s." %
                                       ("greater than or equal to 0" if iq < 0 else "less than or equal to 100")]
        sm = fields.get("sorting_method", "lexicographical")
        if sm not in SORTING:
            errors["sorting_method"] = ['"%s" is not a valid choice.' % sm]
        if "storage" in fields and STATE.vt >= (2, 49, 0):
            pass  # removed field: ignored by DRF like any unknown field
        if errors:
            raise HttpError(400, errors)
        server_files = fields.get("server_files") or []
        remote_files = fields.get("remote_files") or []
        if not isinstance(server_files, list) or not isinstance(remote_files, list):
            raise HttpError(400, {"server_files": ['Expected a list of items but got type "str".']})
        if sum(1 for x in (files, server_files, remote_files) if x) != 1:
            raise HttpError(400, ["Only one of client_files, server_files, remote_files "
                                  "can be specified" if (files or server_files or remote_files)
                                  else "No media data found"])
        with STATE.lock:
            t = self.get_task(tid)
            if t["has_data"]:
                raise HttpError(400, "Adding more data is not supported")
            media = []
            if files:
                seen = {}
                for _, name, data in files:
                    if name in seen:
                        # Django appends a second upload with the same basename
                        media[seen[name]] = (name, media[seen[name]][1] + data)
                    else:
                        seen[name] = len(media)
                        media.append((name, data))
            elif server_files:
                share = STATE.args.share
                if not share:
                    raise HttpError(400, ["No share is mounted on this server"])
                root = os.path.realpath(share)
                for rel in server_files:
                    p = os.path.realpath(os.path.join(root, rel))
                    if not p.startswith(root + os.sep) and p != root:
                        raise HttpError(400, ["Path %s is outside the share" % rel])
                    if os.path.isdir(p):
                        for dp, _, fns in os.walk(p):
                            for fn in fns:
                                fp = os.path.join(dp, fn)
                                with open(fp, "rb") as f:
                                    media.append((os.path.relpath(fp, root), f.read(64 * 1024)))
                    elif os.path.isfile(p):
                        with open(p, "rb") as f:
                            media.append((os.path.relpath(p, root), f.read(64 * 1024)))
                    else:
                        raise HttpError(400, ["The file %s was not found" % rel])
            else:
                for u in remote_files:
                    media.append((os.path.basename(urllib.parse.urlsplit(u).path), b""))
            if sm == "lexicographical":
                media.sort(key=lambda m: m[0])
            elif sm == "natural":
                media.sort(key=lambda m: natural_key(m[0]))
            elif sm == "random":
                random.shuffle(media)
            else:
                order = fields.get("upload_file_order") or []
                if order:
                    pos = {n: i for i, n in enumerate(order)}
                    media.sort(key=lambda m: pos.get(m[0], len(pos)))
            t["has_data"] = True
            t["image_quality"] = iq
            t["pending_media"] = media
            if STATE.has_requests_api():
                rid = STATE.rq_id("create", "task", tid)
                STATE.requests[rid] = {"id": rid, "status": "queued", "polls": 0,
                                       "op_type": "create:task", "task_id": tid,
                                       "created": now_iso(), "kind": "create"}
                self.send_json(202, {"rq_id": rid})
            else:
                t["legacy_status"] = {"state": "Queued", "polls": 0}
                self.send_raw(202, b"", CVAT_JSON)

    def finish_task_data(self, t):
        """The background part of task creation: frames and jobs."""
        media = t.pop("pending_media", [])
        t["frames"] = []
        for name, data in media:
            w, h = image_size(data)
            t["frames"].append({"width": w, "height": h, "name": name, "related_files": 0,
                                "has_related_context": False})
        n = len(t["frames"])
        seg = t["segment_size"] or n
        for start in range(0, n, max(seg, 1)):
            jid = STATE.new_id("job")
            STATE.jobs[jid] = {"id": jid, "task_id": t["id"], "start_frame": start,
                               "stop_frame": min(start + seg, n) - 1, "stage": "annotation",
                               "state": "new", "type": "annotation", "created": now_iso()}
            t["jobs"].append(jid)
        if STATE.auto_coco is not None:
            try:
                self.annotate(t, STATE.auto_coco)
            except HttpError:
                pass

    def advance(self, r):
        """One poll of a background request."""
        if r["status"] in ("finished", "failed"):
            return
        r["polls"] += 1
        if r["status"] == "queued":
            r["status"] = "started"
        if r["polls"] >= STATE.args.polls:
            t = STATE.tasks.get(r["task_id"])
            if t is None:
                r["status"] = "failed"
                r["message"] = "Task %d was deleted" % r["task_id"]
            elif r["kind"] == "create":
                self.finish_task_data(t)
                r["status"] = "finished"
            else:
                r["zip"] = self.coco_zip(t)
                r["status"] = "finished"

    def tasks_meta(self, q, body, tid):
        with STATE.lock:
            t = self.get_task(tid)
            n = len(t["frames"])
            self.send_json(200, {"chunks_updated_date": t["created"], "chunk_size": 72,
                                 "size": n, "image_quality": t["image_quality"],
                                 "start_frame": 0, "stop_frame": max(n - 1, 0),
                                 "frame_filter": "", "frames": t["frames"],
                                 "deleted_frames": [], "included_frames": None,
                                 "storage": "local", "cloud_storage_id": None,
                                 "chapters": None})

    def tasks_status(self, q, body, tid):
        with STATE.lock:
            t = self.get_task(tid)
            st = t["legacy_status"]
            if st is None:
                # CVAT's pitfall: no record looks like "Finished"
                return self.send_json(200, {"state": "Finished", "message": "", "progress": 0})
            if st["state"] not in ("Finished", "Failed"):
                st["polls"] += 1
                st["state"] = "Started"
                if st["polls"] >= STATE.args.polls:
                    self.finish_task_data(t)
                    st["state"] = "Finished"
            self.send_json(200, {"state": st["state"], "message": "", "progress": 0})

    def tasks_export(self, q, body, tid):
        fmt = q.get("format")
        if not fmt:
            raise HttpError(400, {"format": ["This field is required."]})
        if fmt != "COCO 1.0":
            raise HttpError(400, ["Unknown format specified for the request"])
        if q.get("save_images", "false").lower() not in ("false", "0"):
            raise HttpError(400, ["This fake exports annotations only"])
        with STATE.lock:
            t = self.get_task(tid)
            if not t["frames"]:
                raise HttpError(400, ["Exporting without data is not allowed"])
            rid = STATE.rq_id("export", "task", tid, [("format", fmt), ("subresource", "annotations"),
                                                      ("user_id", "1")])
            old = STATE.requests.get(rid)
            if old is not None and old["status"] in ("queued", "started"):
                return self.send_json(409, {"rq_id": rid})
            STATE.requests[rid] = {"id": rid, "status": "queued", "polls": 0,
                                   "op_type": "export:annotations", "task_id": tid,
                                   "format": fmt, "created": now_iso(), "kind": "export"}
            self.send_json(202, {"rq_id": rid})

    def send_zip(self, data, tid):
        if getattr(self, "_truncate_zip", False):
            data = data[:len(data) // 2]
        self.send_raw(200, data, "application/zip",
                      {"Content-Disposition": 'attachment; filename="task_%d_coco.zip"' % tid})

    def tasks_download(self, q, body, tid):
        rid = q.get("rq_id")
        with STATE.lock:
            self.get_task(tid)
            r = STATE.requests.get(rid) if rid else None
            if r is None or r["kind"] != "export" or r["task_id"] != tid:
                raise HttpError(400, "Unknown export request id")
            if r["status"] != "finished":
                raise HttpError(400, "The export process is not finished")
            data = r["zip"]
        self.send_zip(data, tid)

    def tasks_annotations(self, q, body, tid):
        with STATE.lock:
            t = self.get_task(tid)
            if "format" not in q:
                shapes = [dict(s, id=i + 1, type="rectangle", occluded=False, outside=False,
                               z_order=0, rotation=0.0, group=0, source="manual",
                               attributes=[], elements=[])
                          for i, s in enumerate(t["shapes"])]
                return self.send_json(200, {"version": 0, "tags": [], "shapes": shapes,
                                            "tracks": []})
            if STATE.vt >= (2, 32, 0):
                raise HttpError(410, "This endpoint no longer supports exporting data")
            if q["format"] != "COCO 1.0":
                raise HttpError(400, ["Unknown format specified for the request"])
            if not t["frames"]:
                raise HttpError(400, "Exporting without data is not allowed")
            ex = t["legacy_export"]
            if q.get("action") == "download":
                if ex is None or ex["state"] != "done":
                    raise HttpError(400, "Exporting is not finished")
                data = ex["zip"]
                t["legacy_export"] = None
            else:
                if ex is None:
                    t["legacy_export"] = {"state": "queued", "polls": 0}
                    return self.send_raw(202, b"", CVAT_JSON)
                if ex["state"] == "queued":
                    ex["polls"] += 1
                    if ex["polls"] >= STATE.args.polls:
                        ex["state"] = "done"
                        ex["zip"] = self.coco_zip(t)
                        return self.send_raw(201, b"", CVAT_JSON)
                    return self.send_raw(202, b"", CVAT_JSON)
                return self.send_raw(201, b"", CVAT_JSON)
        self.send_zip(data, tid)

    def jobs_list(self, q, body):
        with STATE.lock:
            if "task_id" in q and q["task_id"].isdigit() and STATE.args.auto_complete \
                    and q.get("page", "1") == "1":
                t = STATE.tasks.get(int(q["task_id"]))
                if t is not None and t["jobs"]:
                    t["job_polls"] += 1
                    # the first listing sees unfinished jobs, later ones finished
                    if t["job_polls"] >= 2:
                        self.complete(t, "acceptance" if STATE.args.auto_accept else None)
            items = [self.job_json(j) for j in STATE.jobs.values()]
        items = self.filter_eq(q, items, {"task_id": lambda o: o["task_id"],
                                          "type": lambda o: o["type"],
                                          "state": lambda o: o["state"],
                                          "stage": lambda o: o["stage"],
                                          "project_id": lambda o: o["project_id"]})
        self.send_json(200, self.paginate(q, items))

    def get_job(self, jid):
        j = STATE.jobs.get(jid)
        if j is None:
            raise HttpError(404, {"detail": "Not found."})
        return j

    def jobs_get(self, q, body, jid):
        with STATE.lock:
            self.send_json(200, self.job_json(self.get_job(jid)))

    def jobs_patch(self, q, body, jid):
        d = self.json_body(body)
        errors = {}
        if "stage" in d and d["stage"] not in STAGES:
            errors["stage"] = ['"%s" is not a valid choice.' % d["stage"]]
        if "state" in d and d["state"] not in STATES:
            errors["state"] = ['"%s" is not a valid choice.' % d["state"]]
        if errors:
            raise HttpError(400, errors)
        with STATE.lock:
            j = self.get_job(jid)
            if "stage" in d and d["stage"] != j["stage"]:
                j["stage"] = d["stage"]
                j["state"] = "new"   # a stage change without a state resets it
            if "state" in d:
                j["state"] = d["state"]
            self.send_json(200, self.job_json(j))

    def requests_list(self, q, body):
        with STATE.lock:
            items = [self.request_json(r) for r in reversed(list(STATE.requests.values()))]
        # newest first, like CVAT's default; "sort" stops paginate() re-sorting by id
        self.send_json(200, self.paginate(dict(q, sort="-created_date"), items))

    def requests_get(self, q, body, rid):
        with STATE.lock:
            r = STATE.requests.get(rid)
            if r is None:
                raise HttpError(404, {"detail": "Not found."})
            self.advance(r)
            self.send_json(200, self.request_json(r))

    # -- COCO -------------------------------------------------------------
    def project_labels(self, t):
        labs = [lab for lab in STATE.labels.values()
                if (t["project_id"] is not None and lab["project_id"] == t["project_id"])
                or lab["task_id"] == t["id"]]
        return sorted(labs, key=lambda lab: lab["id"])

    def coco_zip(self, t):
        labs = self.project_labels(t)
        cat_of = {lab["id"]: i + 1 for i, lab in enumerate(labs)}
        doc = {"licenses": [{"name": "", "id": 0, "url": ""}],
               "info": {"contributor": "", "date_created": "", "description": "", "url": "",
                        "version": "", "year": ""},
               "categories": [{"id": i + 1, "name": lab["name"], "supercategory": ""}
                              for i, lab in enumerate(labs)],
               "images": [{"id": i + 1, "width": f["width"], "height": f["height"],
                           "file_name": f["name"], "license": 0, "flickr_url": "",
                           "coco_url": "", "date_captured": 0}
                          for i, f in enumerate(t["frames"])],
               "annotations": []}
        for s in sorted(t["shapes"], key=lambda s: s["frame"]):
            x1, y1, x2, y2 = s["points"]
            w, h = x2 - x1, y2 - y1
            doc["annotations"].append({
                "id": len(doc["annotations"]) + 1, "image_id": s["frame"] + 1,
                "category_id": cat_of[s["label_id"]], "segmentation": [],
                "area": float(round(w * h, 2)),
                "bbox": [float(round(x1, 2)), float(round(y1, 2)),
                         float(round(w, 2)), float(round(h, 2))],
                "iscrowd": 0, "attributes": {"occluded": False, "rotation": 0.0}})
        out = io.BytesIO()
        subset = t["subset"] or "default"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("annotations/instances_%s.json" % subset, json.dumps(doc))
        return out.getvalue()

    def annotate(self, t, coco):
        if not isinstance(coco, dict) or not isinstance(coco.get("images"), list) \
                or not isinstance(coco.get("annotations"), list):
            raise HttpError(400, {"detail": "not a COCO document"})
        by_name = {lab["name"]: lab["id"] for lab in self.project_labels(t)}
        cats = {c["id"]: c["name"] for c in coco.get("categories", [])}
        frame_of = {f["name"]: i for i, f in enumerate(t["frames"])}
        img_frame = {}
        for im in coco["images"]:
            fn = im.get("file_name")
            if fn in frame_of:
                img_frame[im["id"]] = frame_of[fn]
            elif os.path.basename(fn or "") in frame_of:
                img_frame[im["id"]] = frame_of[os.path.basename(fn)]
        added = 0
        for a in coco["annotations"]:
            fr = img_frame.get(a.get("image_id"))
            lid = by_name.get(cats.get(a.get("category_id")))
            if fr is None or lid is None:
                continue
            x, y, w, h = [float(v) for v in a["bbox"]]
            t["shapes"].append({"frame": fr, "label_id": lid, "points": [x, y, x + w, y + h]})
            added += 1
        return added

    def complete(self, t, stage):
        for jid in t["jobs"]:
            j = STATE.jobs[jid]
            if j["type"] != "annotation":
                continue
            if stage:
                j["stage"] = stage
            j["state"] = "completed"

    # -- hooks ------------------------------------------------------------
    def fake_hook(self, path, body):
        try:
            d = json.loads(body.decode() or "{}") if body else {}
        except ValueError:
            raise HttpError(400, {"detail": "hook body is not JSON"})
        m = re.fullmatch(r"/_fake/tasks/(\d+)/(complete|annotate)", path)
        with STATE.lock:
            if m and self.command == "POST":
                t = self.get_task(int(m.group(1)))
                if m.group(2) == "complete":
                    self.complete(t, d.get("stage"))
                    return self.send_json(200, {"jobs": len(t["jobs"])})
                return self.send_json(200, {"added": self.annotate(t, d)})
            if path == "/_fake/faults" and self.command == "POST":
                f = {"kind": d.get("kind", "status"), "count": int(d.get("count", 1)),
                     "status": int(d.get("status", 200 if d.get("kind") == "body" else 500)),
                     "delay": float(d.get("delay", 1.0)),
                     "path": d.get("path"), "method": d.get("method"),
                     "body": d.get("body", "")}
                if f["kind"] not in ("status", "delay", "garbage", "body", "truncated_zip",
                                     "reset"):
                    raise HttpError(400, {"kind": ["unknown fault kind"]})
                STATE.faults.append(f)
                return self.send_json(201, f)
            if path == "/_fake/faults" and self.command == "DELETE":
                STATE.faults.clear()
                return self.send_json(200, {})
            if path == "/_fake/state" and self.command == "GET":
                return self.send_json(200, {
                    "version": STATE.version,
                    "projects": list(STATE.projects.values()),
                    "labels": list(STATE.labels.values()),
                    "tasks": [{k: v for k, v in t.items() if k != "pending_media"}
                              for t in STATE.tasks.values()],
                    "jobs": list(STATE.jobs.values()),
                    "requests": [{k: v for k, v in r.items() if k != "zip"}
                                 for r in STATE.requests.values()]})
            if path == "/_fake/log" and self.command == "GET":
                return self.send_json(200, STATE.log)
        raise HttpError(404, {"detail": "Not found."})


def main():
    global STATE
    ap = argparse.ArgumentParser(description="fake CVAT server for tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", required=True, help="accepted Token/Bearer secret")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default=None, help="basic-auth password (default: the token)")
    ap.add_argument("--version", default="2.52.0")
    ap.add_argument("--share", default=None, help="directory served as the share for server_files")
    ap.add_argument("--auto-annotate", default=None, metavar="COCO_JSON")
    ap.add_argument("--auto-complete", action="store_true",
                    help="jobs of a task read as completed from the second jobs listing on")
    ap.add_argument("--auto-accept", action="store_true",
                    help="with --auto-complete, also move jobs to stage acceptance")
    ap.add_argument("--public-host", default=None,
                    help="host:port to put in absolute URLs (simulates a proxy)")
    ap.add_argument("--polls", type=int, default=2,
                    help="polls a background request needs before it finishes")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    STATE = State(args)
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
