#!/usr/bin/env python3
"""Benchmark driftwatch `ref_integrity` across two systems: time and peak memory.

One command: generates C child rows in PostgreSQL (`test.bench_ri_child`, default 1,000,000)
referencing P parents in MariaDB (`test.bench_ri_parent`, default 100,000), injects orphans
(children whose parent is deleted, and children pointing past the last parent), then measures,
each after a warm-up run:

  driftwatch   `driftwatch check` with one cross-system `ref_integrity` check
  distinct     one `SELECT DISTINCT` of the reference keys on each side, both at once

and prints wall time, peak RSS, orphans found against the ground truth, and the ratio of the
two times. Memory must not grow with the number of keys: run with `--children 3000000` to see.
Needs what bench/hash_diff.py needs (psql, mariadb, /usr/bin/time); see bench/README.md.
"""

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hash_diff as hd  # noqa: E402  (shares the database and timing helpers)

CHILD = "bench_ri_child"
PARENT = "bench_ri_parent"
TARGET_RSS_MIB = 64.0


def generate(children, parents, deleted, beyond):
    hd.log(f"generating {children:,} children (PostgreSQL) and {parents:,} parents (MariaDB)")
    t = time.monotonic()
    pg_sql = f"""
DROP TABLE IF EXISTS {CHILD};
CREATE TABLE {CHILD} (id BIGINT PRIMARY KEY, parent_id BIGINT, note TEXT);
INSERT INTO {CHILD}
  SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE 1 + (g::bigint * 7919) % {parents} END, 'n' || g
  FROM generate_series(1, {children}) g;
INSERT INTO {CHILD} SELECT {children} + g, {parents} + g, 'beyond' FROM generate_series(1, {beyond}) g;
ANALYZE {CHILD};
"""
    my_sql = f"""
DROP TABLE IF EXISTS {PARENT};
CREATE TABLE {PARENT} (id BIGINT PRIMARY KEY, name VARCHAR(40));
INSERT INTO {PARENT} SELECT seq, CONCAT('p', seq) FROM seq_1_to_{parents};
DELETE FROM {PARENT} WHERE id IN ({", ".join(str(i) for i in deleted)});
"""
    failed = []

    def run(fn, sql):
        try:
            fn(sql)
        except SystemExit:  # hd.fail() logged the reason
            failed.append(fn.__name__)

    threads = [threading.Thread(target=run, args=(hd.pg, pg_sql)), threading.Thread(target=run, args=(hd.my, my_sql))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if failed:
        hd.fail(f"generating the tables failed on {', '.join(failed)}")
    hd.log(f"  generated in {time.monotonic() - t:.1f}s")


def ground_truth(parents, deleted):
    ids = ", ".join(str(i) for i in deleted)
    out = hd.pg(f"SELECT parent_id, COUNT(*) FROM {CHILD} WHERE parent_id IN ({ids}) OR parent_id > {parents} "
                f"GROUP BY parent_id ORDER BY parent_id")
    truth = {}
    for line in out.split():
        k, n = line.split("|")
        truth[int(k)] = int(n)
    return truth


def config():
    d = hd.OUT / "ref_integrity"
    (d / "checks").mkdir(parents=True, exist_ok=True)
    (d / "driftwatch.yaml").write_text(f"""\
# Written by bench/ref_integrity.py
state: sqlite://state.db
checks: [checks/]
systems:
  legacy:
    url: "{hd.MY_URL}"
    max_connections: 2
    statement_timeout: 30m
  modern:
    url: "{hd.PG_URL}"
    max_connections: 2
    statement_timeout: 30m
""")
    (d / "checks" / "bench.yaml").write_text(f"""\
checks:
  - name: bench_refs
    kind: ref_integrity
    schedule: "@hourly"
    timeout: 30m
    child:  {{system: modern, table: {CHILD}, column: parent_id}}
    parent: {{system: legacy, table: {PARENT}, column: id}}
""")
    return d / "driftwatch.yaml"


def run_driftwatch(binary, cfg):
    wall, rss, code, out, err = hd.timed([str(binary), "check", "-c", str(cfg), "--format", "json",
                                          "--samples", "all"])
    r = {"tool": "driftwatch", "wall": wall, "rss": rss, "exit": code}
    try:
        check = json.loads(out)["checks"][0]
    except (ValueError, KeyError, IndexError):
        r["error"] = f"driftwatch exited {code} without result JSON: {err.strip()[-2000:]}"
        return r
    if check.get("error"):
        r["error"] = check["error"]
        return r
    r["orphans"] = check.get("orphans")
    r["found"] = {int(s["key"]["parent_id"]): int(s.get("rows") or 0) for s in check.get("samples") or []}
    return r


def run_distinct():
    res = {}

    def one(side, cmd, sql):
        res[side] = hd.timed(cmd + ["-e" if side == "my" else "-c", sql])

    t = time.monotonic()
    ths = [threading.Thread(target=one, args=("pg", hd.pg_cmd(), f"SELECT DISTINCT parent_id FROM {CHILD}")),
           threading.Thread(target=one, args=("my", hd.my_cmd(), f"SELECT DISTINCT id FROM {PARENT}"))]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    r = {"tool": "distinct", "wall": time.monotonic() - t,
         "per_side": {k: round(v[0], 2) for k, v in res.items()},
         "rows": {k: len(v[3].split()) for k, v in res.items()}}
    for k, v in res.items():
        if v[2] != 0:
            r["error"] = f"SELECT DISTINCT on {k} failed: {v[4].strip()}"
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--children", type=int, default=1_000_000)
    ap.add_argument("--parents", type=int, default=100_000)
    ap.add_argument("--deleted", type=int, default=40, help="parents deleted (their children become orphans)")
    ap.add_argument("--beyond", type=int, default=60, help="children pointing past the last parent")
    ap.add_argument("--driftwatch", default=str(hd.REPO / "target" / "release" / "driftwatch"))
    ap.add_argument("--keep", action="store_true", help="do not drop the tables at the end")
    ap.add_argument("--seed", type=int, default=20261122)
    args = ap.parse_args()
    hd.OUT.mkdir(exist_ok=True)
    hd.ensure_time()
    binary = Path(args.driftwatch)
    if not binary.exists():
        hd.log("building target/release/driftwatch")
        subprocess.run(["cargo", "build", "--release"], cwd=hd.REPO, check=True)
    import random
    rng = random.Random(args.seed)
    deleted = sorted(rng.sample(range(1, args.parents + 1), args.deleted))
    generate(args.children, args.parents, deleted, args.beyond)
    truth = ground_truth(args.parents, deleted)
    want = sum(truth.values())
    hd.log(f"  ground truth: {want} orphan rows under {len(truth)} keys")
    cfg = config()
    dw = hd.measure("driftwatch", lambda: run_driftwatch(binary, cfg))
    fl = hd.measure("distinct", run_distinct)
    print(f"\nref_integrity across systems: {args.children + args.beyond:,} child rows (PostgreSQL), "
          f"{args.parents - args.deleted:,} parents (MariaDB)")
    ok = True
    if dw.get("error"):
        print(f"driftwatch: ERROR {dw['error']}")
        ok = False
    else:
        exact = dw["found"] == truth and dw["orphans"] == want
        ok &= exact
        print(f"driftwatch: {dw['wall']:.2f}s  peak RSS {dw['rss']:.1f} MiB  orphans {dw['orphans']} "
              f"under {len(dw['found'])} keys  ({'exactly the injected ones' if exact else 'WRONG: expected ' + str(want)})")
    if fl.get("error"):
        print(f"SELECT DISTINCT: ERROR {fl['error']}")
    else:
        print(f"SELECT DISTINCT of the keys, both sides at once: {fl['wall']:.2f}s "
              f"(PostgreSQL {fl['per_side']['pg']}s for {fl['rows']['pg']:,} keys, "
              f"MariaDB {fl['per_side']['my']}s for {fl['rows']['my']:,} keys)")
        if not dw.get("error"):
            print(f"driftwatch / SELECT DISTINCT wall time: {dw['wall'] / fl['wall']:.2f}x")
    if not dw.get("error"):
        rss_ok = dw["rss"] <= TARGET_RSS_MIB
        ok &= rss_ok
        print(f"[{'PASS' if rss_ok else 'FAIL'}] peak RSS <= {TARGET_RSS_MIB:.0f} MiB ({dw['rss']:.1f} MiB)")
    (hd.OUT / "ref_integrity.json").write_text(json.dumps({"driftwatch": {k: v for k, v in dw.items() if k != "found"},
                                                            "distinct": fl, "truth_rows": want}, indent=2))
    if not args.keep:
        hd.pg(f"DROP TABLE IF EXISTS {CHILD}")
        hd.my(f"DROP TABLE IF EXISTS {PARENT}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
