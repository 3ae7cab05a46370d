#!/usr/bin/env python3
"""Benchmark driftwatch `hash_diff` against reladiff and a full-table-checksum floor.

One command: generates N identical rows in MariaDB (`test.bench_legacy`) and PostgreSQL
(`test.bench_modern`), injects K seeded differences on the legacy side, then measures on the
same tables, each after a warm-up run:

  driftwatch   `driftwatch check` with one `hash_diff` check
  reladiff     `reladiff` CLI, default algorithm (hashdiff across databases)
  floor        one full-table checksum query per database, both at once

and prints wall time, peak RSS, rows transferred to the client, differences found and
whether they match the ground truth, the ratios, and PASS/FAIL per acceptance target.

Only the standard library is needed to run it; reladiff is installed into bench/.venv on first
use. The database CLIs `psql` and `mariadb` (or `mysql`) and `/usr/bin/time` must be on the
machine. See bench/README.md.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv"
OUT = BENCH / ".out"
GROUND_TRUTH = OUT / "ground_truth.json"

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
MY_URL = os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
PG_TABLE = "bench_modern"
MY_TABLE = "bench_legacy"
COLUMNS = ["amount", "name", "updated_at"]
KINDS = ("missing_in_legacy", "missing_in_modern", "changed")

# Acceptance targets (from the issue).
TARGET_FLOOR_RATIO = 1.5
TARGET_RSS_MIB = 64.0
TARGET_ROWS_SHARE = 0.01

# --------------------------------------------------------------------------------------------
# The data: every value a deterministic function of the id `g`, written once per dialect.

NAMES = ["Zoë", "Łódź", "Anna", "José", "Müller", "王芳", "Smith", "O''Brien", "Ærøskøbing", "Nguyễn"]
NAMES_PY = [n.replace("''", "'") for n in NAMES]


def name_of(g):
    """The generated `name` of id g (mirrors the SQL below)."""
    if g % 25 in (3, 11):
        return None  # 8 %
    if g % 97 == 5:
        return ""  # ~1 %
    return f"{NAMES_PY[(g * 31) % 10]} {g}"


PG_SELECT = """
SELECT g,
       ((((g * 7919) % 200000001) - 100000000) / 100.0)::numeric(12,2),
       CASE WHEN g % 25 IN (3, 11) THEN NULL
            WHEN g % 97 = 5 THEN ''
            ELSE (ARRAY[{names}])[1 + (g * 31) % 10] || ' ' || g END,
       timestamp '2020-01-01 00:00:00' + (g * 37) * interval '1 second'
                                       + ((g * 7877) % 1000000) * interval '1 microsecond'
FROM generate_series(1::bigint, {n}::bigint) AS s(g)
""".replace("{names}", ", ".join(f"'{n}'::text" for n in NAMES))

MY_EXPRS = """
       g,
       CAST((((g * 7919) % 200000001) - 100000000) / 100 AS DECIMAL(12,2)),
       CASE WHEN g % 25 IN (3, 11) THEN NULL
            WHEN g % 97 = 5 THEN ''
            ELSE CONCAT(ELT(1 + (g * 31) % 10, {names}), ' ', g) END,
       TIMESTAMP'2020-01-01 00:00:00' + INTERVAL g * 37 SECOND
                                      + INTERVAL (g * 7877) % 1000000 MICROSECOND
""".replace("{names}", ", ".join(f"'{n}'" for n in NAMES))


def my_select(lo, hi, where=""):
    # seq is BIGINT UNSIGNED: make it signed so that the arithmetic may go negative.
    return (f"SELECT {MY_EXPRS} FROM (SELECT CAST(seq AS SIGNED) AS g FROM seq_{lo}_to_{hi}) s"
            + (f" WHERE {where}" if where else ""))


# A canonical text rendering per row, to prove both sides hold the same data before injecting.
PG_CANON = ("concat_ws('|', id, amount, coalesce(name, '<NULL>'), "
            "to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US'))")
MY_CANON = ("CONCAT_WS('|', id, amount, IFNULL(name, '<NULL>'), "
            "DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f'))")

# The floor, exactly as the issue words it.
PG_FLOOR = (f"SELECT COUNT(*), SUM(('x' || substr(md5(concat_ws('|', id, amount, name, updated_at)), 1, 15))"
            f"::bit(60)::bigint) FROM {PG_TABLE}")
MY_FLOOR = (f"SELECT COUNT(*), SUM(CONV(SUBSTRING(MD5(CONCAT_WS('|', id, amount, name, updated_at)), 1, 15), 16, 10)) "
            f"FROM {MY_TABLE}")


# --------------------------------------------------------------------------------------------
# Database access through the CLIs (fast, no driver needed).

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fail(msg, code=2):
    log(f"hash_diff bench: {msg}")
    sys.exit(code)


def pg_cmd():
    return ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", PG_URL]


def my_cmd():
    u = urllib.parse.urlparse(MY_URL)
    exe = shutil.which("mariadb") or shutil.which("mysql") or fail("neither `mariadb` nor `mysql` is on PATH")
    cmd = [exe, "-h", u.hostname or "127.0.0.1", "-P", str(u.port or 3306), "-u", urllib.parse.unquote(u.username or "root"),
           "--default-character-set=utf8mb4", "-N", "-B"]
    if u.password:
        cmd.append("-p" + urllib.parse.unquote(u.password))
    cmd.append(u.path.lstrip("/") or "test")
    return cmd


def run_sql(cmd, sql, what):
    p = subprocess.run(cmd, input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"{what} failed (exit {p.returncode}):\n{p.stderr.strip()}")
    return p.stdout


def pg(sql, what="PostgreSQL"):
    return run_sql(pg_cmd(), sql, what)


def my(sql, what="MariaDB"):
    return run_sql(my_cmd(), sql, what)


# --------------------------------------------------------------------------------------------
# Generation, verification, injection

def generate(n):
    pg_sql = f"""
SET client_min_messages = warning;
DROP TABLE IF EXISTS {PG_TABLE};
CREATE TABLE {PG_TABLE} (id bigint NOT NULL, amount numeric(12,2), name varchar(100),
                         updated_at timestamp(6) without time zone);
INSERT INTO {PG_TABLE} {PG_SELECT.replace('{n}', str(n))};
ALTER TABLE {PG_TABLE} ADD PRIMARY KEY (id);
VACUUM ANALYZE {PG_TABLE};
"""
    my_sql = f"""
DROP TABLE IF EXISTS {MY_TABLE};
CREATE TABLE {MY_TABLE} (id BIGINT NOT NULL PRIMARY KEY, amount DECIMAL(12,2), name VARCHAR(100),
                         updated_at DATETIME(6)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO {MY_TABLE} {my_select(1, n)};
ANALYZE TABLE {MY_TABLE};
"""
    timings = {}

    def one(name, fn, sql):
        t = time.monotonic()
        fn(sql, f"generating {name}")
        timings[name] = time.monotonic() - t

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=("PostgreSQL", pg, pg_sql)),
               threading.Thread(target=one, args=("MariaDB", my, my_sql))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if len(timings) != 2:
        sys.exit(2)
    timings["both"] = time.monotonic() - t0
    return timings


def canonical_checksums():
    """(count, sum) of a 60-bit MD5 prefix of a canonical row rendering, per side (exact)."""
    res = {}

    def pg_sum():
        out = pg(f"SELECT COUNT(*), COALESCE(SUM(('x' || substr(md5({PG_CANON}), 1, 15))::bit(60)::bigint), 0) "
                 f"FROM {PG_TABLE}", "canonical checksum (PostgreSQL)")
        res["pg"] = tuple(out.strip().split("|"))

    def my_sum():
        out = my(f"SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTRING(MD5({MY_CANON}), 1, 15), 16, 10) AS UNSIGNED)), 0) "
                 f"FROM {MY_TABLE}", "canonical checksum (MariaDB)")
        res["my"] = tuple(out.strip().split("\t"))

    ths = [threading.Thread(target=pg_sum), threading.Thread(target=my_sum)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    if len(res) != 2:
        sys.exit(2)
    return res["pg"], res["my"]


# Update variants, cycled through; each: (name, column, predicate on the generated row, SQL SET).
UPDATE_VARIANTS = [
    ("amount_plus_cent", "amount", lambda g: True, "amount = amount + 0.01"),
    ("name_to_null", "name", lambda g: bool(name_of(g)), "name = NULL"),
    ("updated_at_plus_1us", "updated_at", lambda g: True, "updated_at = updated_at + INTERVAL 1 MICROSECOND"),
    ("name_null_to_empty", "name", lambda g: name_of(g) is None, "name = ''"),
    ("amount_plus_100", "amount", lambda g: True, "amount = amount + 100"),
    ("name_empty_to_null", "name", lambda g: name_of(g) == "", "name = NULL"),
    ("name_case_only", "name", lambda g: bool(name_of(g)) and name_of(g) != name_of(g).upper(), "name = UPPER(name)"),
    ("updated_at_minus_1us", "updated_at", lambda g: True, "updated_at = updated_at - INTERVAL 1 MICROSECOND"),
    ("name_trailing_space", "name", lambda g: bool(name_of(g)), "name = CONCAT(name, ' ')"),
    ("name_null_to_value", "name", lambda g: name_of(g) is None, "name = 'Zoë'"),
    ("name_accent_only", "name", lambda g: (name_of(g) or "").startswith("Zoë"), "name = REPLACE(name, 'ë', 'e')"),
]


def plan_injection(n, k, seed):
    rng = random.Random(seed)
    n_del = k // 3
    n_ins = k // 3
    n_upd = k - n_del - n_ins
    if n_upd + n_del > n // 2:
        fail(f"--diffs {k} is too many for --rows {n}")
    used = set()

    def pick(pred):
        for _ in range(100000):
            g = rng.randint(1, n)
            if g not in used and pred(g):
                used.add(g)
                return g
        fail("could not find a key for an injected difference; use more rows")

    truth = {}
    statements = []
    for i in range(n_upd):
        variant, column, pred, set_sql = UPDATE_VARIANTS[i % len(UPDATE_VARIANTS)]
        g = pick(pred)
        truth[g] = {"kind": "changed", "columns": [column], "variant": variant}
        statements.append(f"UPDATE {MY_TABLE} SET {set_sql} WHERE id = {g};")
    for _ in range(n_del):
        g = pick(lambda g: True)
        truth[g] = {"kind": "missing_in_legacy", "variant": "delete"}
        statements.append(f"DELETE FROM {MY_TABLE} WHERE id = {g};")
    new_ids = sorted(rng.sample(range(n + 1, n + 1 + max(10 * n_ins, 1)), n_ins))
    for g in new_ids:
        truth[g] = {"kind": "missing_in_modern", "variant": "insert"}
    if new_ids:
        statements.append(f"INSERT INTO {MY_TABLE} "
                          + my_select(new_ids[0], new_ids[-1], f"g IN ({', '.join(map(str, new_ids))})") + ";")
    return truth, statements


def inject(statements):
    my("START TRANSACTION;\n" + "\n".join(statements) + "\nCOMMIT;\nANALYZE TABLE " + MY_TABLE + ";\n",
       "injecting differences (MariaDB)")


def expected_counts(truth):
    c = {k: 0 for k in KINDS}
    for t in truth.values():
        c[t["kind"]] += 1
    return c


# --------------------------------------------------------------------------------------------
# Measuring

TIME = "/usr/bin/time"


def ensure_time():
    if os.access(TIME, os.X_OK):
        return
    log("/usr/bin/time is missing; installing the `time` package (apt-get install -y time)")
    subprocess.run(["apt-get", "install", "-y", "time"], check=False, stdout=subprocess.DEVNULL)
    if not os.access(TIME, os.X_OK):
        fail("/usr/bin/time is needed to measure peak RSS: apt-get install -y time")


def timed(cmd, env=None, stdout_path=None):
    """Run cmd under /usr/bin/time -v; returns (wall_s, peak_rss_mib, exit_code, stdout, stderr)."""
    rss_file = OUT / f".time-{os.getpid()}-{threading.get_ident()}"
    full = [TIME, "-v", "-o", str(rss_file)] + cmd
    t = time.monotonic()
    p = subprocess.run(full, capture_output=True, text=True, env=env)
    wall = time.monotonic() - t
    rss = None
    try:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", rss_file.read_text())
        rss = int(m.group(1)) / 1024 if m else None
        rss_file.unlink()
    except OSError:
        pass
    if stdout_path:
        Path(stdout_path).write_text(p.stdout)
    return wall, rss, p.returncode, p.stdout, p.stderr


def measure(name, fn, warmup=True):
    if warmup:
        log(f"{name}: warm-up run")
        first = fn()
        if first.get("skip"):
            return first
    log(f"{name}: measured run")
    return fn()


# ---- driftwatch

def driftwatch_files():
    d = OUT / "driftwatch"
    (d / "checks").mkdir(parents=True, exist_ok=True)
    (d / "driftwatch.yaml").write_text(f"""\
# Written by bench/hash_diff.py
state: sqlite://state.db
checks: [checks/]
systems:
  legacy:
    url: "{MY_URL}"
    max_connections: 4
    statement_timeout: 30m
  modern:
    url: "{PG_URL}"
    max_connections: 4
    statement_timeout: 30m
""")
    (d / "checks" / "bench.yaml").write_text(f"""\
checks:
  - name: bench_content
    kind: hash_diff
    schedule: "@hourly"
    timeout: 30m
    legacy: {{table: {MY_TABLE}, key: [id]}}
    modern: {{table: {PG_TABLE}, key: [id]}}
    columns:
      amount: {{legacy: amount, modern: amount, type: "decimal(2)"}}
      name: {{legacy: name, modern: name, type: text}}
      updated_at: {{legacy: updated_at, modern: updated_at, type: "timestamp(6)"}}
""")
    return d / "driftwatch.yaml"


def run_driftwatch(binary, config):
    out_path = OUT / "driftwatch.json"
    wall, rss, code, out, err = timed([str(binary), "check", "-c", str(config), "--format", "json",
                                       "--samples", "all"], stdout_path=out_path)
    r = {"tool": "driftwatch", "wall": wall, "rss": rss, "exit": code}
    if code == 2 and re.search(r"unknown kind `hash_diff`|unknown kind", err):
        r.update(skip=True, error="this driftwatch binary does not know the `hash_diff` kind yet: "
                 + err.strip().splitlines()[0])
        return r
    try:
        doc = json.loads(out)
        check = doc["checks"][0]
    except (ValueError, KeyError, IndexError):
        r.update(skip=True, error=f"driftwatch exited {code} without result JSON: {err.strip()[-2000:]}")
        return r
    if check.get("error") or check.get("status") == "error":
        r.update(skip=True, error=f"the check errored: {check.get('error')}")
        return r
    r["reported"] = {k: int((check.get("differences") or {}).get(k, 0)) for k in KINDS}
    found = {}
    dupes = 0
    for s in check.get("samples") or []:
        key = s.get("key") or {}
        try:
            g = int(key.get("id"))
        except (TypeError, ValueError):
            g = repr(key)
        if g in found:
            dupes += 1
        found[g] = {"kind": s.get("kind"), "columns": s.get("columns")}
    r["found"] = found
    r["duplicate_samples"] = dupes
    load = check.get("load")
    if isinstance(load, dict) and load:
        r["rows_transferred"] = sum(int(v.get("rows", 0)) for v in load.values())
        r["queries"] = sum(int(v.get("queries", 0)) for v in load.values())
        r["load"] = load
    r["status"] = check.get("status")
    return r


# ---- reladiff

def ensure_reladiff():
    exe = VENV / "bin" / "python"
    if not exe.exists():
        log(f"creating {VENV} and installing reladiff[postgresql,mysql] (once)")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(exe), "-c", "import reladiff, psycopg2, mysql.connector"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(exe), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "reladiff[postgresql,mysql]"], check=True)
    return exe


# Runs the reladiff CLI in-process, counting the rows every query returns to it (by wrapping
# sqeleton's cursor call), and writes the counts to $BENCH_RELADIFF_LOAD at exit.
RELADIFF_RUNNER = r"""
import atexit, json, os, sys, threading
from sqeleton.databases import base
_lock = threading.Lock()
_load = {}
_orig = base.Database._query_cursor
def _counting(self, c, sql_code):
    res = _orig(self, c, sql_code)
    n = len(res.rows) if res is not None and getattr(res, 'rows', None) is not None else 0
    with _lock:
        d = _load.setdefault(self.name, {'queries': 0, 'rows': 0})
        d['queries'] += 1
        d['rows'] += n
    return res
base.Database._query_cursor = _counting
atexit.register(lambda: open(os.environ['BENCH_RELADIFF_LOAD'], 'w').write(json.dumps(_load)))
import reladiff.__main__ as _m
_TS = _m.TableSegment
def _segment(db, path, key_columns, update_column, columns, **kw):
    # reladiff orders the compared columns as a Python set does: record the order it chose.
    _load['__columns__'] = list(key_columns) + ([update_column] if update_column else []) + list(columns)
    return _TS(db, path, key_columns, update_column, columns, **kw)
_m.TableSegment = _segment
from reladiff.__main__ import main
sys.argv[0] = 'reladiff'
sys.exit(main())
"""


def reladiff_urls():
    pgu = urllib.parse.urlparse(PG_URL)
    pg_uri = urllib.parse.urlunparse(pgu._replace(scheme="postgresql"))
    myu = urllib.parse.urlparse(MY_URL)
    my_uri = urllib.parse.urlunparse(myu._replace(scheme="mysql"))
    return my_uri, pg_uri


def run_reladiff(python):
    my_uri, pg_uri = reladiff_urls()
    load_path = OUT / "reladiff-load.json"
    load_path.unlink(missing_ok=True)
    env = dict(os.environ, BENCH_RELADIFF_LOAD=str(load_path), COLUMNS="100000", NO_COLOR="1", TERM="dumb")
    # --skip-sort-results: without it reladiff 0.6.0 sorts each segment's differing rows by the
    # whole row tuple, which raises TypeError ('<' between str and None) as soon as a changed
    # row has a NULL on one side; it then logs "ERROR", prints only part of the differences
    # and still exits 0. The option is documented and only skips that sort.
    cmd = [str(python), "-c", RELADIFF_RUNNER, my_uri, MY_TABLE, pg_uri, PG_TABLE,
           "-k", "id", "-c", "amount", "-c", "name", "-c", "updated_at", "--json", "--skip-sort-results"]
    wall, rss, code, out, err = timed(cmd, env=env, stdout_path=OUT / "reladiff.jsonl")
    (OUT / "reladiff.stderr").write_text(err)
    r = {"tool": "reladiff", "wall": wall, "rss": rss, "exit": code}
    errors = [l for l in err.splitlines() if " ERROR " in l or "Traceback" in l]
    if code != 0:
        r.update(skip=True, error=f"reladiff exited {code}: {err.strip()[-2000:]}")
        return r
    if errors:
        # Exit 0 with an ERROR logged means reladiff gave up part-way: its output is incomplete.
        r["errors"] = errors
    try:
        load = json.loads(load_path.read_text())
    except (OSError, ValueError):
        load = {}
    columns = load.pop("__columns__", None)
    if columns is None:
        r.update(skip=True, error="could not learn which column order reladiff used")
        return r
    minus, plus = {}, {}
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("["):
            continue
        op, values = json.loads(line)
        row = dict(zip(columns, values))
        (minus if op == "-" else plus)[int(row["id"])] = row
    found = {}
    # Table 1 is legacy, table 2 modern: "-" = the row as legacy has it, "+" = as modern has it.
    for g in set(minus) | set(plus):
        if g in minus and g in plus:
            cols = [c for c in COLUMNS if minus[g].get(c) != plus[g].get(c)]
            found[g] = {"kind": "changed", "columns": cols}
        elif g in minus:
            found[g] = {"kind": "missing_in_modern", "columns": None}
        else:
            found[g] = {"kind": "missing_in_legacy", "columns": None}
    r["found"] = found
    r["reported"] = {k: sum(1 for f in found.values() if f["kind"] == k) for k in KINDS}
    if load:
        r["load"] = load
        r["rows_transferred"] = sum(v["rows"] for v in load.values())
        r["queries"] = sum(v["queries"] for v in load.values())
    return r


# ---- floor

def run_floor():
    res = {}

    def one(side, cmd, sql):
        res[side] = timed(cmd + ["-e" if side == "my" else "-c", sql])

    t = time.monotonic()
    ths = [threading.Thread(target=one, args=("pg", pg_cmd(), PG_FLOOR)),
           threading.Thread(target=one, args=("my", my_cmd(), MY_FLOOR))]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    wall = time.monotonic() - t
    r = {"tool": "floor", "wall": wall, "rows_transferred": 2, "queries": 2,
         "rss": sum(v[1] or 0 for v in res.values()),
         "per_side": {k: {"wall": v[0], "rss": v[1], "out": v[3].strip()} for k, v in res.items()}}
    for k, v in res.items():
        if v[2] != 0:
            r.update(skip=True, error=f"floor query on {k} failed: {v[4].strip()}")
    return r


# --------------------------------------------------------------------------------------------
# Judging

def judge(found, truth):
    """Compare findings with the ground truth: found/missed/false positives/misclassified."""
    ok, missed, fps, wrong = [], [], [], []
    for g, t in truth.items():
        g = int(g)
        f = found.get(g)
        if f is None:
            missed.append((g, t["variant"]))
        elif f["kind"] != t["kind"] or (t["kind"] == "changed" and f.get("columns") is not None
                                         and sorted(f["columns"]) != sorted(t["columns"])):
            wrong.append((g, t["variant"], f))
        else:
            ok.append(g)
    tkeys = {int(g) for g in truth}
    for g, f in found.items():
        if g not in tkeys:
            fps.append((g, f))
    return {"correct": len(ok), "missed": missed, "false_positives": fps, "misclassified": wrong,
            "all_correct": not missed and not fps and not wrong}


def fmt_diffs(rep):
    if not rep:
        return "-"
    return f"{rep['missing_in_legacy']}/{rep['missing_in_modern']}/{rep['changed']}"


def describe_problems(name, j, limit=10):
    lines = []
    for label, items in (("missed", j["missed"]), ("false positives", j["false_positives"]),
                         ("misclassified", j["misclassified"])):
        if items:
            shown = ", ".join(str(x) for x in items[:limit])
            more = f" ... (+{len(items) - limit})" if len(items) > limit else ""
            lines.append(f"  {name} {label} ({len(items)}): {shown}{more}")
    return lines


def report(n, k, truth, results):
    exp = expected_counts(truth)
    print()
    print(f"hash_diff benchmark: N={n:,} rows, K={k} injected differences "
          f"(missing_in_legacy/missing_in_modern/changed = {fmt_diffs(exp)})")
    print()
    hdr = f"{'tool':<12} {'wall s':>9} {'peak RSS MiB':>13} {'rows to client':>15} {'queries':>8} " \
          f"{'found ml/mm/ch':>15}  correct?"
    print(hdr)
    print("-" * len(hdr))
    problems = []
    for r in results:
        if r.get("skip"):
            print(f"{r['tool']:<12} {'-':>9} {'-':>13} {'-':>15} {'-':>8} {'-':>15}  NOT RUN: {r['error']}")
            continue
        rows = f"{r['rows_transferred']:,}" if r.get("rows_transferred") is not None else "n/a"
        q = f"{r['queries']:,}" if r.get("queries") is not None else "n/a"
        rss = f"{r['rss']:.1f}" if r.get("rss") is not None else "n/a"
        if "judge" in r:
            j = r["judge"]
            correct = "yes" if j["all_correct"] else (
                f"NO: {j['correct']} right, {len(j['missed'])} missed, {len(j['false_positives'])} false pos, "
                f"{len(j['misclassified'])} misclassified")
            if r.get("counts_mismatch"):
                correct += f"; differences{{}} says {fmt_diffs(r['reported'])} but samples say {fmt_diffs(r['sample_counts'])}"
            problems += describe_problems(r["tool"], j)
        else:
            correct = "n/a"
        if r.get("errors"):
            correct += f"; logged {len(r['errors'])} ERROR line(s), output may be incomplete: {r['errors'][0].strip()}"
        print(f"{r['tool']:<12} {r['wall']:>9.2f} {rss:>13} {rows:>15} {q:>8} {fmt_diffs(r.get('reported')):>15}  {correct}")
    print()
    if problems:
        print("Problems:")
        print("\n".join(problems))
        print()

    by = {r["tool"]: r for r in results if not r.get("skip")}
    dw, rd, fl = by.get("driftwatch"), by.get("reladiff"), by.get("floor")
    targets = []

    def target(name, ok, detail):
        targets.append((name, ok, detail))

    if fl:
        fl_sides = ", ".join(f"{k} {v['wall']:.2f}s" for k, v in sorted(fl["per_side"].items()))
        print(f"floor per side: {fl_sides}")
    if dw and fl:
        ratio = dw["wall"] / fl["wall"]
        print(f"driftwatch / floor wall time:    {ratio:.2f}x")
        target(f"wall time <= {TARGET_FLOOR_RATIO}x floor", ratio <= TARGET_FLOOR_RATIO, f"{ratio:.2f}x")
    if dw and rd:
        ratio = dw["wall"] / rd["wall"]
        print(f"driftwatch / reladiff wall time: {ratio:.2f}x")
        target("wall time below reladiff's", dw["wall"] < rd["wall"], f"{dw['wall']:.2f}s vs {rd['wall']:.2f}s")
    for r in (dw, rd):
        if r and r.get("rows_transferred") is not None:
            print(f"{r['tool']} rows transferred:   {r['rows_transferred']:,} = {100 * r['rows_transferred'] / n:.3f}% of N")
    if dw:
        target("every difference found and classified, no false positives", dw["judge"]["all_correct"]
               and not dw.get("counts_mismatch"),
               f"{dw['judge']['correct']}/{len(truth)} right, {len(dw['judge']['false_positives'])} false positives")
        target(f"peak RSS <= {TARGET_RSS_MIB:.0f} MiB", dw["rss"] is not None and dw["rss"] <= TARGET_RSS_MIB,
               f"{dw['rss']:.1f} MiB" if dw["rss"] is not None else "not measured")
        if dw.get("rows_transferred") is not None:
            share = dw["rows_transferred"] / n
            target(f"rows transferred < {100 * TARGET_ROWS_SHARE:g}% of N", share < TARGET_ROWS_SHARE,
                   f"{dw['rows_transferred']:,} = {100 * share:.3f}%")
        else:
            target(f"rows transferred < {100 * TARGET_ROWS_SHARE:g}% of N", False,
                   "not measurable: the result JSON has no `load`")
    print()
    if targets:
        print("Acceptance targets (driftwatch):")
        for name, ok, detail in targets:
            print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    else:
        print("Acceptance targets: not evaluated (driftwatch did not run)")
    return targets


# --------------------------------------------------------------------------------------------

def main():
    global PG_URL, MY_URL
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="N, generated rows (default 1,000,000)")
    ap.add_argument("--diffs", type=int, default=100, help="K, injected differences (default 100)")
    ap.add_argument("--driftwatch", default=str(REPO / "target" / "release" / "driftwatch"),
                    help="the driftwatch binary (default target/release/driftwatch, built if missing)")
    ap.add_argument("--skip-generate", action="store_true",
                    help="reuse the tables and ground truth of a previous --keep run")
    ap.add_argument("--keep", action="store_true", help="do not drop the tables at the end")
    ap.add_argument("--seed", type=int, default=20261121, help="seed of the injected differences")
    ap.add_argument("--only", action="append", choices=["driftwatch", "reladiff", "floor"],
                    help="measure only these (repeatable; default all three)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the warm-up runs")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 also when a performance target fails (default: only on wrong differences)")
    ap.add_argument("--pg-url", default=PG_URL, help=f"PostgreSQL URL (default {PG_URL}, or $BENCH_PG_URL)")
    ap.add_argument("--mysql-url", default=MY_URL, help=f"MariaDB URL (default {MY_URL}, or $BENCH_MYSQL_URL)")
    args = ap.parse_args()
    PG_URL, MY_URL = args.pg_url, args.mysql_url
    only = set(args.only or ["driftwatch", "reladiff", "floor"])
    OUT.mkdir(exist_ok=True)
    ensure_time()

    binary = Path(args.driftwatch)
    if "driftwatch" in only and not binary.exists():
        default = REPO / "target" / "release" / "driftwatch"
        if binary.resolve() == default:
            log("target/release/driftwatch is missing: cargo build --release")
            subprocess.run(["cargo", "build", "--release"], cwd=REPO, check=True)
        if not binary.exists():
            fail(f"driftwatch binary `{binary}` does not exist")

    python = ensure_reladiff() if "reladiff" in only else None

    # ---- data
    if args.skip_generate:
        if not GROUND_TRUTH.exists():
            fail(f"--skip-generate needs {GROUND_TRUTH} from an earlier run with --keep")
        gt = json.loads(GROUND_TRUTH.read_text())
        n, k = gt["rows"], gt["diffs"]
        truth = {int(g): t for g, t in gt["truth"].items()}
        exp = expected_counts(truth)
        pgc = int(pg(f"SELECT COUNT(*) FROM {PG_TABLE}").strip())
        myc = int(my(f"SELECT COUNT(*) FROM {MY_TABLE}").strip())
        if pgc != n or myc != n - exp["missing_in_legacy"] + exp["missing_in_modern"]:
            fail(f"the tables do not match {GROUND_TRUTH} (PostgreSQL {pgc} rows, MariaDB {myc}); "
                 "run without --skip-generate")
        log(f"reusing {PG_TABLE} / {MY_TABLE}: N={n:,}, K={k}")
    else:
        n, k = args.rows, args.diffs
        if n < 100 or k < 0:
            fail("--rows must be at least 100 and --diffs not negative")
        log(f"generating {n:,} rows in PostgreSQL ({PG_TABLE}) and MariaDB ({MY_TABLE}), concurrently")
        gen = generate(n)
        log("  generated in {both:.1f}s (PostgreSQL {PostgreSQL:.1f}s, MariaDB {MariaDB:.1f}s)".format(**gen))
        t = time.monotonic()
        pgs, mys = canonical_checksums()
        log(f"  verified identical in {time.monotonic() - t:.1f}s: count {pgs[0]}, checksum {pgs[1]}")
        if pgs != mys:
            fail(f"the generated tables differ: PostgreSQL {pgs}, MariaDB {mys}")
        if int(pgs[0]) != n:
            fail(f"expected {n} rows, PostgreSQL has {pgs[0]}")
        truth, statements = plan_injection(n, k, args.seed)
        t = time.monotonic()
        inject(statements)
        exp = expected_counts(truth)
        log(f"  injected {k} differences into MariaDB in {time.monotonic() - t:.1f}s "
            f"(missing_in_legacy/missing_in_modern/changed = {fmt_diffs(exp)})")
        GROUND_TRUTH.write_text(json.dumps({"rows": n, "diffs": k, "seed": args.seed,
                                            "generation_seconds": gen,
                                            "truth": {str(g): t for g, t in sorted(truth.items())}}, indent=1))
        log(f"  ground truth: {GROUND_TRUTH}")

    # ---- measurements, sequentially, each after a warm-up
    results = []
    warm = not args.no_warmup
    if "driftwatch" in only:
        config = driftwatch_files()
        r = measure("driftwatch", lambda: run_driftwatch(binary, config), warm)
        if r.get("skip"):
            log(f"driftwatch: NOT MEASURED — {r['error']}")
        results.append(r)
    if "reladiff" in only:
        results.append(measure("reladiff", lambda: run_reladiff(python), warm))
    if "floor" in only:
        results.append(measure("floor", run_floor, warm))

    for r in results:
        if not r.get("skip") and "found" in r:
            r["judge"] = judge(r["found"], truth)
            sc = {kk: sum(1 for f in r["found"].values() if f["kind"] == kk) for kk in KINDS}
            r["sample_counts"] = sc
            r["counts_mismatch"] = sc != r["reported"]

    targets = report(n, k, truth, results)

    (OUT / "results.json").write_text(json.dumps(
        {"rows": n, "diffs": k, "results": [{kk: v for kk, v in r.items() if kk != "found"} for r in results]},
        indent=1, default=str))

    if not args.keep:
        log(f"dropping {PG_TABLE} and {MY_TABLE} (use --keep to keep them)")
        pg(f"DROP TABLE IF EXISTS {PG_TABLE};")
        my(f"DROP TABLE IF EXISTS {MY_TABLE};")
        GROUND_TRUTH.unlink(missing_ok=True)

    dw = next((r for r in results if r["tool"] == "driftwatch"), None)
    if dw is None:
        return 0
    if dw.get("skip"):
        return 3
    if not dw["judge"]["all_correct"] or dw.get("counts_mismatch"):
        return 1
    if args.strict and not all(ok for _, ok, _ in targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
