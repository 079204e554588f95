#!/usr/bin/env python3
"""Flow-log benchmark: for each size N, builds a flow log of N records the way an upgraded station
has one (the raw rows written in the previous release's schema, then dronewalld opens it and
builds the hourly sums with its own migration), and prints database bytes per record and the time
of three `dronewall report` runs, each next to the same report summed from raw rows
(DRONEWALL_REPORT_RAW=1, what every report did before rollups), interleaved over ROUNDS rounds.

Usage: bench/flowlog.py [N...] (default 1000000 10000000). Root (dronewalld runs in a network
namespace this script creates and removes). Needs release builds of dronewall and dronewalld
(DRONEWALL, DRONEWALLD). ROUNDS (default 5) rounds; RAW_ROUNDS_MAX (default 1 above 2M records)
caps the rounds of the raw side, which takes ~5 s per million records for a grouped report.
Output lines `sample KEY VALUE` feed bench/summarize.py."""
import os, signal, subprocess, sys, tempfile, time, shutil, sqlite3

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
dw = os.environ.get("DRONEWALL", os.path.join(root, ".build", "release", "dronewall"))
dwd = os.environ.get("DRONEWALLD", os.path.join(root, ".build", "release", "dronewalld"))
sizes = [int(a) for a in sys.argv[1:]] or [1_000_000, 10_000_000]
rounds = int(os.environ.get("ROUNDS", "5"))
tmp = tempfile.mkdtemp(prefix="dwbench-flowlog-")
ns = f"dw-flowlog-{os.getpid()}"


def cleanup(*_):
    subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    shutil.rmtree(tmp, ignore_errors=True)


def on_signal(signum, _):
    cleanup()
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)

# The previous release's schema (FlowStore migrations v1 to v3), marked applied as GRDB marks them.
OLD_SCHEMA = """
CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
INSERT INTO grdb_migrations VALUES ('v1'), ('v2-kernel-counts'), ('v3-kernel-reading');
CREATE TABLE flow (id INTEGER PRIMARY KEY, drone TEXT NOT NULL, vendor TEXT, category TEXT NOT NULL,
  verdict TEXT NOT NULL, protocol TEXT NOT NULL, source TEXT NOT NULL, destination TEXT NOT NULL,
  port INTEGER NOT NULL, host TEXT, window_start INTEGER NOT NULL, first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL, packets INTEGER NOT NULL, bytes INTEGER NOT NULL, attempts INTEGER NOT NULL,
  UNIQUE (window_start, drone, verdict, category, protocol, source, destination, port));
CREATE INDEX flow_last_seen ON flow(last_seen);
CREATE INDEX flow_drone_time ON flow(drone, first_seen);
CREATE TABLE loss (time INTEGER NOT NULL, lost INTEGER NOT NULL, overruns INTEGER NOT NULL);
CREATE INDEX loss_time ON loss(time);
CREATE TABLE kernel_count (time INTEGER NOT NULL, drone TEXT NOT NULL, category TEXT NOT NULL,
  verdict TEXT NOT NULL, packets INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE INDEX kernel_count_time ON kernel_count(time);
CREATE TABLE kernel_reading (identity TEXT NOT NULL, drone TEXT NOT NULL, category TEXT NOT NULL,
  verdict TEXT NOT NULL, packets INTEGER NOT NULL, bytes INTEGER NOT NULL);
"""


def build(n, db):
    """N raw rows over the last 30 days, 50 drones, 6 categories, 80% IPv4 destinations, in
    time order; values from a multiplicative hash of the row number (deterministic), generated
    inside SQLite (Python tuples would take minutes at 10M)."""
    con = sqlite3.connect(db)
    # Bulk load: no journal, no syncs, a 1 GB page cache (the file is the same; WAL is set after).
    con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;")
    con.executescript(OLD_SCHEMA)
    now = int(time.time()) * 1_000_000
    step = 30 * 86_400_000_000 // n
    con.execute(f"""
        WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {n - 1}),
        r AS (SELECT i, ({now} - ({n} - i) * {step}) / 60000000 * 60000000 AS w,
                     (i * 2654435761) % 4294967296 AS h1, (i * 40503 + 17) % 65521 AS h2 FROM c)
        INSERT OR IGNORE INTO flow (drone, vendor, category, verdict, protocol, source, destination, port, host,
                                    window_start, first_seen, last_seen, packets, bytes, attempts)
        SELECT printf('drone-%03d', h1 % 50), 'dji',
               CASE h2 % 6 WHEN 0 THEN 'flight-logs' WHEN 1 THEN 'telemetry' WHEN 2 THEN 'geofence'
                           WHEN 3 THEN 'account' WHEN 4 THEN 'other' ELSE 'media' END,
               'blocked', 'tcp', '192.0.2.' || (h1 % 50 + 1),
               CASE WHEN (h1 / 50) % 5 < 4 THEN '203.0.113.' || (1 + (h1 / 250) % 254)
                    ELSE printf('2001:db8:c::%x', 1 + (h1 / 250) % 4095) END,
               443, NULL, w, w + 1000000, w + 20000000, 4, 240, 2
        FROM r""")
    con.commit()
    con.execute("PRAGMA journal_mode=WAL")
    con.close()


def upgrade(db):
    """dronewalld opens the log as on a station after an upgrade: its migration builds the hourly
    sums. In a namespace of our own (it applies its table there), stopped once it is logging."""
    conf = os.path.join(tmp, "dronewall.conf")
    with open(conf, "w") as f:
        f.write("[drone bench]\naddress = 192.0.2.10\npolicy = local-data\n")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    log = os.path.join(tmp, "daemon.log")
    start = time.time()
    with open(log, "w") as out:
        p = subprocess.Popen(["ip", "netns", "exec", ns, dwd, "--config", conf, "--catalogue", os.path.join(root, "rules/vendors"),
                              "--db", db, "--group", "root"], stderr=out)
    try:
        while p.poll() is None and "logging blocked flows" not in open(log).read() and time.time() - start < 600:
            time.sleep(0.2)
        took = time.time() - start
    finally:
        p.terminate()
        p.wait()
        subprocess.run(["ip", "netns", "del", ns], check=True)
    text = open(log).read()
    if "hourly sums built" not in text:
        sys.exit("dronewalld did not build the hourly sums:\n" + text)
    return took, [l for l in text.splitlines() if "hourly sums" in l]


def report(db, args, raw):
    env = dict(os.environ)
    if raw:
        env["DRONEWALL_REPORT_RAW"] = "1"
    s = time.time()
    subprocess.run([dw, "report", "--db", db] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return (time.time() - s) * 1000


def same(db, args):
    """The two ways give the same report (the product's tests check this on random data; here once more)."""
    # One fixed window for both (24h back from two different moments are two windows).
    now = time.time()
    args = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - int(a[:-1]) * {"h": 3600, "d": 86400}[a[-1]]))
            if prev == "--since" else a for prev, a in zip([""] + args, args)]
    outs = []
    for raw in (False, True):
        env = dict(os.environ, **({"DRONEWALL_REPORT_RAW": "1"} if raw else {}))
        outs.append(subprocess.run([dw, "report", "--db", db] + args, capture_output=True, check=True, env=env).stdout
                    .split(b"\n", 1)[1])  # the first line carries the time it was generated
    return outs[0] == outs[1]


REPORTS = [("grouped", "by drone,category, all records", ["--since", "31d", "--by", "drone,category"]),
           ("day", "the last 24 h as a table", ["--since", "24h"]),
           ("drone", "one drone as JSON, all records", ["--since", "31d", "--drone", "drone-007", "--format", "json"])]

try:
    for n in sizes:
        label = f"{n // 1_000_000}M" if n % 1_000_000 == 0 else str(n)
        db = os.path.join(tmp, f"flows-{label}.db")
        s = time.time()
        build(n, db)
        built = time.time() - s
        took, lines = upgrade(db)
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = con.execute("SELECT count(*) FROM flow").fetchone()[0]
        hours = con.execute("SELECT count(*) FROM flow_hour").fetchone()[0]
        # Live pages: the upgrade frees the dropped last_seen index's pages, which new records
        # reuse (a log made by this version has no such free pages); dronewalld's log-max-size
        # counts the same.
        live = (con.execute("PRAGMA page_count").fetchone()[0] - con.execute("PRAGMA freelist_count").fetchone()[0]) \
            * con.execute("PRAGMA page_size").fetchone()[0]
        con.close()
        size = os.path.getsize(db)
        print(f"{label}: {count} flow records ({hours} hourly sums); file {size / 1e6:.1f} MB ({size / count:.1f} bytes per "
              f"record), live pages {live / 1e6:.1f} MB ({live / count:.1f} bytes per record); raw rows generated in {built:.0f} s; "
              f"dronewalld's upgrade: {lines[-1].split('flow log: ', 1)[-1]} (started to logging: {took:.1f} s)", flush=True)
        print(f"sample bytes-{label} {live / count:.1f}")
        for key, _, args in REPORTS:
            if not same(db, args):
                print(f"{label}: DIFFERENT output for report {' '.join(args)} with and without rollups")
                sys.exit(1)
        raw_rounds = min(rounds, int(os.environ.get("RAW_ROUNDS_MAX", "1" if n > 2_000_000 else str(rounds))))
        for r in range(rounds):
            got = []
            for key, _, args in REPORTS:
                t = report(db, args, raw=False)
                print(f"sample {key}-{label} {t:.0f}")
                got.append(f"{key} {t:.0f}")
                if r < raw_rounds:
                    t = report(db, args, raw=True)
                    print(f"sample {key}-raw-{label} {t:.0f}")
                    got.append(f"raw {t:.0f}")
            print(f"{label} round {r + 1}: " + " ".join(got) + " ms", file=sys.stderr, flush=True)
        os.remove(db)
finally:
    cleanup()
