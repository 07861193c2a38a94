"""Workloads shared by the benchmarks.

    python3 bench/workloads.py w1 DIR
        W1's tree: 20,000 files x 4 KiB in 200 directories (one random block, rotated by each
        file's number).
    python3 bench/workloads.py w3-plan ROOT
        What w3 will do to ROOT (before it does it), one operation a line, for
        bench/apply_floor.c: "W path" (written), "R from to", "D path".
    python3 bench/workloads.py w3 ROOT STATE_DIR...
        W3's change: waits until each running worker (given by its state directory) is idle in
        the Changelog Crawl, changes 1 % of W1's tree under ROOT (200 files modified, 50
        renamed, 50 deleted, 50 created), and waits until each worker's last-synced mark
        (advanced only by the destination's durable Ack) passes the last change. Prints one
        line per worker: "STATE_DIR CONVERGED_MS PASS_SCANNED AFTER_LAST_MS" (-1 when it did
        not converge within 120 s): CONVERGED_MS timed from the first change, AFTER_LAST_MS
        from the last -- the wait after the changes are made, as a rescan's time is.
"""
import json
import os
import random
import sys
import time


def status(state):
    try:
        with open(f"{state}/status.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def make_w1(root):
    block = os.urandom(4096)
    for d in range(200):
        p = f"{root}/d{d:03}"
        os.makedirs(p)
        for f in range(100):
            with open(f"{p}/f{f:03}", "wb") as out:
                out.write(block[(d * 100 + f) % 4096:] + block[:(d * 100 + f) % 4096])


def w3_picks(root):
    """The files W3 changes (its random state, to go on with): the same for the same tree."""
    rng = random.Random(3)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    return rng, rng.sample(files, 300)


def plan_w3(root):
    """What W3 will do to ROOT's tree, for bench/apply_floor.c (paths relative to ROOT)."""
    _, picked = w3_picks(root)
    rel = [os.path.relpath(p, root) for p in picked]
    for p in rel[:200]:
        print("W", p)
    for i, p in enumerate(rel[200:250]):
        print("R", p, p + f".renamed{i}")
    for p in rel[250:300]:
        print("D", p)
    for i in range(50):
        print("W", f"d{i:03}/new{i}")


def change_w3(root, states):
    deadline = time.time() + 120
    while time.time() < deadline and not all(
            status(s).get("crawl") == "Changelog Crawl" for s in states):
        time.sleep(0.05)
    time.sleep(0.5)  # the first pass's last status write is done
    rng, picked = w3_picks(root)
    start = time.time()
    for p in picked[:200]:
        with open(p, "r+b") as f:
            f.seek(rng.randrange(4096))
            f.write(os.urandom(64))
    for i, p in enumerate(picked[200:250]):
        os.rename(p, p + f".renamed{i}")
    for p in picked[250:300]:
        os.remove(p)
    for i in range(50):
        with open(os.path.join(root, f"d{i:03}", f"new{i}"), "wb") as f:
            f.write(os.urandom(4096))
    end = time.time()
    done = {}
    while len(done) < len(states) and time.time() < end + 120:
        for s in states:
            if s not in done and status(s).get("last_synced_ms", 0) / 1000 >= end:
                done[s] = int((time.time() - start) * 1000)
        time.sleep(0.002)
    for s in states:
        after = done[s] - int((end - start) * 1000) if s in done else -1
        print(s, done.get(s, -1), status(s).get("pass_scanned", 0), after)
    print(f"changes made in {int((end - start) * 1000)} ms", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "w1":
        make_w1(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "w3-plan":
        plan_w3(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "w3":
        change_w3(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
