#!/usr/bin/env python3
"""The cost of one Prometheus scrape of GET /api/v1/metrics, end to end.

  metrics_scrape.py GEOREP_BINARY SESSIONS SCRAPES [--stopped]

Starts `georep serve` in a fresh data directory (SQLite, loopback, monitor every 10 s), creates
SESSIONS directory sessions (each a volume of its own under a temporary directory, one
destination on this machine) and starts them (unless --stopped), waits until every one is
Active, then makes a viewer's scrape token and times SCRAPES scrapes on one keep-alive
connection, as Prometheus makes them. Prints one JSON object: the page's bytes, lines and
series, and the scrape's latency (median, p90, max, in ms), with the engine's CPU time per
scrape; and, for scale, the size and median time of GET /api/v1/sessions (the same sessions as
JSON).
"""
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def call(conn, method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data and r.getheader("Content-Type", "").startswith("application/json") else data


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    binary, sessions, scrapes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    start_them = "--stopped" not in sys.argv
    work = tempfile.mkdtemp(prefix="georep-metrics-bench.")
    engine = None
    try:
        out = open(os.path.join(work, "out"), "w+")
        err = open(os.path.join(work, "err"), "w")
        engine = subprocess.Popen(
            [binary, "serve", "--data", os.path.join(work, "data"), "--listen", "127.0.0.1:0",
             "--monitor-interval", "10", "--volume-root", work],
            stdout=out, stderr=err)
        port = password = None
        for _ in range(300):
            out.seek(0)
            text = out.read()
            for line in text.splitlines():
                if line.startswith("  password: "):
                    password = line.split(": ", 1)[1]
                if "listening on http://127.0.0.1:" in line:
                    port = int(line.rsplit(":", 1)[1])
            if port:
                break
            if engine.poll() is not None:
                raise SystemExit("the engine exited: " + open(os.path.join(work, "err")).read())
            time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        admin = call(conn, "POST", "/api/v1/auth/login", body={"username": "admin", "password": password})["token"]
        cid = call(conn, "POST", "/api/v1/clusters", admin, {"name": "local"})["id"]
        host = call(conn, "POST", f"/api/v1/clusters/{cid}/hosts", admin,
                    {"name": "localhost", "transport": "local"})["id"]
        dest = call(conn, "POST", f"/api/v1/clusters/{cid}/destinations", admin,
                    {"source_host_id": host, "host": "localhost"})["id"]
        ids = []
        for i in range(sessions):
            src, dst = os.path.join(work, f"src{i:03}"), os.path.join(work, f"dst{i:03}")
            os.makedirs(src)
            with open(os.path.join(src, "file"), "w") as f:
                f.write("georep\n" * 100)
            vol = call(conn, "POST", f"/api/v1/clusters/{cid}/volumes", admin,
                       {"name": f"vol{i:03}", "host_id": host, "path": src})["id"]
            s = call(conn, "POST", "/api/v1/sessions", admin,
                     {"destination_id": dest, "source_volume_id": vol, "destination_volume": dst})
            ids.append(s["id"])
            if start_them:
                call(conn, "POST", f"/api/v1/sessions/{s['id']}/start", admin, {})
        want = "Active" if start_them else "Created"
        deadline = time.time() + 300
        while True:
            listed = call(conn, "GET", "/api/v1/sessions", admin)["items"]
            if sum(1 for s in listed if s["status"] == want) == sessions:
                break
            if time.time() > deadline:
                raise SystemExit(f"not every session became {want}")
            time.sleep(1)
        call(conn, "POST", "/api/v1/users", admin,
             {"name": "prometheus", "password": "a long scrape password", "role": "viewer"})
        viewer = call(conn, "POST", "/api/v1/auth/login", body={"username": "prometheus", "password": "a long scrape password"})["token"]
        scrape = call(conn, "POST", "/api/v1/tokens", viewer, {"name": "scrape", "ttl_seconds": 3600})["token"]

        def one():
            conn.request("GET", "/api/v1/metrics", headers={"Authorization": "Bearer " + scrape})
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise SystemExit(f"scrape: {r.status} {body[:300]!r}")
            return body

        for _ in range(5):
            page = one()  # warm-up
        times = []
        cpu_before = cpu_seconds(engine.pid)
        for _ in range(scrapes):
            t0 = time.perf_counter()
            page = one()
            times.append((time.perf_counter() - t0) * 1000)
        cpu = cpu_seconds(engine.pid) - cpu_before
        # For scale: the same sessions as the API lists them (JSON), as often.
        json_times = []
        for _ in range(scrapes):
            t0 = time.perf_counter()
            conn.request("GET", "/api/v1/sessions", headers={"Authorization": "Bearer " + scrape})
            r = conn.getresponse()
            listed = r.read()
            json_times.append((time.perf_counter() - t0) * 1000)
        lines = page.decode().splitlines()
        times.sort()
        print(json.dumps({
            "binary": binary, "sessions": sessions, "started": start_them, "scrapes": scrapes,
            "bytes": len(page), "lines": len(lines),
            "series": sum(1 for line in lines if not line.startswith("#")),
            "ms_median": round(statistics.median(times), 2),
            "ms_p90": round(times[int(len(times) * 0.9) - 1], 2),
            "ms_max": round(times[-1], 2),
            "engine_cpu_ms_per_scrape": round(cpu * 1000 / scrapes, 2),
            "sessions_json_bytes": len(listed),
            "sessions_json_ms_median": round(statistics.median(json_times), 2),
        }))
    finally:
        if engine and engine.poll() is None:
            engine.terminate()
            engine.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
