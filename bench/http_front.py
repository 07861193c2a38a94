#!/usr/bin/env python3
"""The engine's HTTP front against hostile clients, measured end to end.

Run by http_front_bench.sh against a running engine:
  http_front.py slow  PORT TOKEN N    N slow-header connections open (from 127.0.3.x), then
                                      200 GET /api/v1/sessions on one keep-alive connection:
                                      p50/p99/max latency, and how many of N are still open
  http_front.py flood PORT TOKEN SECS 24 clients post logins for unknown users for SECS
                                      seconds while one client times GET /api/v1/me
  http_front.py chunk PORT PID BYTES  a chunked POST /api/v1/auth/login of BYTES (or until the
                                      engine closes): bytes sent, the answer, the engine's RSS
                                      before / after and its peak (VmHWM) growth
Prints one JSON object.
"""
import http.client
import json
import resource
import select
import socket
import sys
import time


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def slow(port, token, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    conns = []
    refused = 0
    for i in range(n):
        s = socket.socket()
        s.settimeout(2)
        s.bind((f"127.0.3.{10 + i // 100}", 0))
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /api/v1/sessions HTTP/1.1\r\nX-Slow: 1\r\n")
        except OSError:
            refused += 1
        conns.append(s)
    latencies = []
    errors = 0
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    deadline = time.monotonic() + 120
    for _ in range(200):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        try:
            c.request("GET", "/api/v1/sessions", headers={"Authorization": "Bearer " + token})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append((time.perf_counter() - t0) * 1000)
    still_open = 0
    for s in conns:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            still_open += 1
        else:
            try:
                if s.recv(1, socket.MSG_PEEK):
                    still_open += 1
            except OSError:
                pass
    for s in conns:
        s.close()
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else None
    return {"slow_connections": n, "refused_at_connect": refused, "still_open_after": still_open,
            "requests": len(latencies), "errors": errors, "p50_ms": pick(0.5),
            "p99_ms": pick(0.99), "max_ms": round(latencies[-1], 2) if latencies else None}


def flood(port, token, seconds):
    import threading
    stop = time.monotonic() + seconds
    statuses = {}
    lock = threading.Lock()

    def guess(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = 0
        while time.monotonic() < stop:
            body = json.dumps({"username": f"nobody-{n}-{i}", "password": "wrong"})
            try:
                c.request("POST", "/api/v1/auth/login", body=body,
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                st = r.status
            except (OSError, http.client.HTTPException):
                st = "error"
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
            i += 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    latencies = []
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        c.request("GET", "/api/v1/me", headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        r.read()
        latencies.append((time.perf_counter() - t0) * 1000)
    for t in threads:
        t.join()
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)
    return {"seconds": seconds, "login_attempts": {str(k): v for k, v in statuses.items()},
            "me_requests": len(latencies), "me_p50_ms": pick(0.5), "me_p99_ms": pick(0.99),
            "me_max_ms": round(latencies[-1], 2)}


def chunk(port, pid, total):
    before = rss_kib(pid)
    peak_before = rss_kib(pid, "VmHWM")
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"10000\r\n" + b" " * 65536 + b"\r\n"
    sent = 0
    t0 = time.monotonic()
    try:
        while sent < total and time.monotonic() - t0 < 300:
            s.sendall(piece)
            sent += 65536
    except OSError:
        pass
    answer = b""
    s.settimeout(10)
    try:
        while b"\r\n\r\n" not in answer:
            got = s.recv(65536)
            if not got:
                break
            answer += got
    except OSError:
        pass
    s.close()
    time.sleep(0.5)  # let the engine free what it held before RSS is read
    after = rss_kib(pid)
    return {"body_bytes_offered": total, "body_bytes_sent": sent,
            "answer": answer.split(b"\r\n", 1)[0].decode(errors="replace"),
            "rss_before_kib": before, "rss_after_kib": after,
            "rss_growth_kib": after - before,
            "peak_growth_kib": rss_kib(pid, "VmHWM") - peak_before,
            "seconds": round(time.monotonic() - t0, 2)}


if __name__ == "__main__":
    if sys.argv[1] == "slow":
        out = slow(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "flood":
        out = flood(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        out = chunk(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    print(json.dumps(out))
