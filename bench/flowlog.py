#!/usr/bin/env python3
"""Flow-log benchmark: builds a flow database of N records (schema as FlowStore creates it),
then prints database bytes per record and the time of typical `dronewall report` queries.
Usage: bench/flowlog.py [N] (default 1,000,000). Needs a built dronewall (DRONEWALL=path)."""
import os, random, shutil, sqlite3, subprocess, sys, tempfile, time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
dw = os.environ.get("DRONEWALL", os.path.join(os.path.dirname(__file__), "..", ".build", "release", "dronewall"))
tmp = tempfile.mkdtemp(prefix="dwbench-")
db = os.path.join(tmp, "flows.db")
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
# The same tables and indexes as FlowStore's migrations v1 and v2.
con.executescript("""
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
""")
rng = random.Random(20261125)
now = int(time.time()) * 1_000_000
cats = ["flight-logs", "telemetry", "geofence", "account", "other", "media"]
rows = []
for i in range(n):
    w = now - (n - i) * 2_500_000 // 1  # spread over ~30 days at 1M records
    w -= w % 60_000_000
    d = rng.randrange(50)
    dst = f"203.0.113.{rng.randrange(1, 255)}" if rng.random() < 0.8 else f"2001:db8:c::{rng.randrange(1, 4096):x}"
    rows.append((f"drone-{d:03d}", "dji", rng.choice(cats), "blocked", "tcp", f"192.0.2.{d + 1}", dst, 443, None,
                 w, w + 1_000_000, w + 20_000_000, 4, 240, 2))
    if len(rows) == 50_000:
        con.executemany("INSERT OR IGNORE INTO flow (drone, vendor, category, verdict, protocol, source, destination, port,"
                        " host, window_start, first_seen, last_seen, packets, bytes, attempts)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        rows = []
con.executemany("INSERT OR IGNORE INTO flow (drone, vendor, category, verdict, protocol, source, destination, port,"
                " host, window_start, first_seen, last_seen, packets, bytes, attempts)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
con.commit()
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
count = con.execute("SELECT count(*) FROM flow").fetchone()[0]
con.close()
size = os.path.getsize(db)
print(f"flow records: {count}, database: {size / 1e6:.1f} MB, {size / count:.0f} bytes per record")

def timed(label, args):
    t = []
    for _ in range(3):
        s = time.time()
        subprocess.run([dw, "report", "--db", db] + args, stdout=subprocess.DEVNULL, check=True)
        t.append(time.time() - s)
    print(f"{label:55s} median {sorted(t)[1] * 1000:7.0f} ms")

timed("report --since 30d --by drone,category (all records)", ["--since", "30d", "--by", "drone,category"])
timed("report --since 24h (table of the last day)", ["--since", "24h"])
timed("report --since 30d --drone drone-007 --format json", ["--since", "30d", "--drone", "drone-007", "--format", "json"])
timed("report --since 30d --format csv (every record)", ["--since", "30d", "--format", "csv"])
shutil.rmtree(tmp)
