#!/usr/bin/env python3
"""Checks that the fake CVAT server keeps CVAT's rules (so the C tests that
run against it prove something about the real server): content negotiation,
auth, exact paths, pagination, validation.  Stdlib only; run by meson."""

import json
import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

FAKE = os.environ.get("CVAT_FAKE") or os.path.join(
    os.path.dirname(__file__), "..", "..", "fakes", "cvat_server.py")
TOKEN = "tok-xyz"


class FakeCvatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([sys.executable, FAKE, "--port", "0", "--token", TOKEN],
                                    stdout=subprocess.PIPE)
        cls.base = "http://127.0.0.1:%d" % int(cls.proc.stdout.readline())

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait()
        cls.proc.stdout.close()

    def call(self, method, path, body=None, ctype="application/json", auth=True,
             accept="application/vnd.cvat+json"):
        headers = {}
        if accept:
            headers["Accept"] = accept
        if auth:
            headers["Authorization"] = "Token " + TOKEN
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = ctype
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode()

    def test_accept_json_alone_is_406(self):
        st, body = self.call("GET", "/api/server/about", auth=False, accept="application/json")
        self.assertEqual(st, 406)
        st, body = self.call("GET", "/api/server/about", auth=False, accept="*/*")
        self.assertEqual(st, 200)
        self.assertEqual(body["version"], "2.52.0")

    def test_auth(self):
        self.assertEqual(self.call("GET", "/api/users/self", auth=False)[0], 401)
        req = urllib.request.Request(self.base + "/api/users/self",
                                     headers={"Authorization": "Bearer nope"})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req)
        self.assertEqual(cm.exception.code, 401)
        self.assertEqual(json.loads(cm.exception.read()), {"detail": "Invalid token."})
        cm.exception.close()
        self.assertEqual(self.call("GET", "/api/users/self")[0], 200)

    def test_project_task_data_rules(self):
        st, body = self.call("POST", "/api/projects", {"labels": []})
        self.assertEqual((st, body), (400, {"name": ["This field is required."]}))
        st, body = self.call("POST", "/api/projects", b"name=x", ctype="text/plain")
        self.assertEqual(st, 415)
        st, p = self.call("POST", "/api/projects",
                          {"name": "rules", "labels": [{"name": "a", "type": "rectangle"}]})
        self.assertEqual(st, 201)
        st, t = self.call("POST", "/api/tasks", {"name": "t", "project_id": p["id"]})
        self.assertEqual(st, 201)
        path = "/api/tasks/%d/data" % t["id"]
        # no trailing slash: not the endpoint
        self.assertEqual(self.call("POST", path, {"image_quality": 70})[0], 404)
        st, body = self.call("POST", path + "/", {"server_files": ["a.jpg"]})
        self.assertEqual((st, body), (400, {"image_quality": ["This field is required."]}))
        st, body = self.call("POST", path + "/", {"image_quality": 170, "remote_files": ["x"]})
        self.assertEqual(st, 400)
        self.assertIn("image_quality", body)

    def test_pagination(self):
        for i in range(3):
            self.assertEqual(self.call("POST", "/api/projects", {"name": "pg%d" % i})[0], 201)
        st, all_ = self.call("GET", "/api/projects?page_size=all")
        self.assertEqual(st, 200)
        n = all_["count"]
        self.assertEqual(len(all_["results"]), n)
        self.assertIsNone(all_["next"])
        ids = [p["id"] for p in all_["results"]]
        self.assertEqual(ids, sorted(ids, reverse=True))  # default order -id
        st, p1 = self.call("GET", "/api/projects?page_size=2")
        self.assertEqual(len(p1["results"]), 2)
        self.assertIn("page=2", p1["next"])
        self.assertTrue(p1["next"].startswith("http://"))
        last = (n + 1) // 2
        self.assertEqual(self.call("GET", "/api/projects?page_size=2&page=%d" % last)[0], 200)
        st, body = self.call("GET", "/api/projects?page_size=2&page=%d" % (last + 1))
        self.assertEqual((st, body), (404, {"detail": "Invalid page."}))
        st, body = self.call("GET", "/api/projects?name=pg1")
        self.assertEqual([p["name"] for p in body["results"]], ["pg1"])


if __name__ == "__main__":
    unittest.main()
