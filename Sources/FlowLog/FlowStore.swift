import GRDB

/// The blocked-flow database (SQLite in WAL mode): flow records, lost-event counts and
/// kernel counter snapshots. The daemon writes; reports read.
public final class FlowStore: Sendable {
    public static let defaultPath = "/var/lib/dronewall/flows.db"

    let writer: any DatabaseWriter
    public let path: String

    /// Opens (creating and migrating) the database for writing.
    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        let pool = try DatabasePool(path: path, configuration: config)
        try FlowStore.migrator.migrate(pool)
        writer = pool
        self.path = path
    }

    /// Opens an existing database read-only (reports; no write access needed to the file).
    public init(readOnlyPath path: String) throws {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        writer = try DatabaseQueue(path: path, configuration: config)
        self.path = path
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE flow (
                    id INTEGER PRIMARY KEY,
                    drone TEXT NOT NULL,
                    vendor TEXT,
                    category TEXT NOT NULL,
                    verdict TEXT NOT NULL,
                    protocol TEXT NOT NULL,
                    source TEXT NOT NULL,
                    destination TEXT NOT NULL,
                    port INTEGER NOT NULL,
                    host TEXT,
                    window_start INTEGER NOT NULL,
                    first_seen INTEGER NOT NULL,
                    last_seen INTEGER NOT NULL,
                    packets INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    attempts INTEGER NOT NULL,
                    UNIQUE (window_start, drone, verdict, category, protocol, source, destination, port)
                );
                CREATE INDEX flow_last_seen ON flow(last_seen);
                CREATE INDEX flow_drone_time ON flow(drone, first_seen);
                -- Events the log could not record: NFLOG sequence gaps and receive-buffer overruns.
                CREATE TABLE loss (
                    time INTEGER NOT NULL,
                    lost INTEGER NOT NULL,
                    overruns INTEGER NOT NULL
                );
                CREATE INDEX loss_time ON loss(time);
                """)
        }
        m.registerMigration("v2-kernel-counts") { db in
            // Deltas of the kernel's per-rule counters: exact totals even where logging was
            // rate-limited or events were lost.
            try db.execute(sql: """
                CREATE TABLE kernel_count (
                    time INTEGER NOT NULL,
                    drone TEXT NOT NULL,
                    category TEXT NOT NULL,
                    verdict TEXT NOT NULL,
                    packets INTEGER NOT NULL,
                    bytes INTEGER NOT NULL
                );
                CREATE INDEX kernel_count_time ON kernel_count(time);
                """)
        }
        return m
    }

    // MARK: writing

    /// One counter delta of a logging rule group (drone, category, verdict).
    public struct KernelCount: Sendable, Hashable {
        public var drone: String
        public var category: String
        public var verdict: FlowVerdict
        public var packets: Int64
        public var bytes: Int64
        public init(drone: String, category: String, verdict: FlowVerdict, packets: Int64, bytes: Int64) {
            self.drone = drone
            self.category = category
            self.verdict = verdict
            self.packets = packets
            self.bytes = bytes
        }
    }

    public func recordKernelCounts(_ counts: [KernelCount], timeMicros: Int64) throws {
        let nonzero = counts.filter { $0.packets > 0 }
        guard !nonzero.isEmpty else { return }
        try writer.write { db in
            for c in nonzero {
                try db.execute(sql: """
                    INSERT INTO kernel_count (time, drone, category, verdict, packets, bytes) VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [timeMicros, c.drone, c.category, c.verdict.rawValue, c.packets, c.bytes])
            }
        }
    }

    /// Adds the deltas in one transaction (one write per batch, not per packet).
    public func write(_ records: [FlowRecord]) throws {
        guard !records.isEmpty else { return }
        try writer.write { db in
            let stmt = try db.cachedStatement(sql: """
                INSERT INTO flow (drone, vendor, category, verdict, protocol, source, destination, port, host,
                                  window_start, first_seen, last_seen, packets, bytes, attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (window_start, drone, verdict, category, protocol, source, destination, port) DO UPDATE SET
                    vendor = coalesce(flow.vendor, excluded.vendor),
                    host = coalesce(flow.host, excluded.host),
                    first_seen = min(flow.first_seen, excluded.first_seen),
                    last_seen = max(flow.last_seen, excluded.last_seen),
                    packets = flow.packets + excluded.packets,
                    bytes = flow.bytes + excluded.bytes,
                    attempts = flow.attempts + excluded.attempts
                """)
            for r in records {
                let k = r.key
                try stmt.execute(arguments: [k.drone, r.vendor, k.category, k.verdict.rawValue, k.proto, k.source,
                                             k.destination, k.port, r.host, k.windowStart, r.firstSeen, r.lastSeen,
                                             r.packets, r.bytes, r.attempts])
            }
        }
    }

    /// Records events that were lost (never hidden: reports show the sum).
    public func recordLoss(timeMicros: Int64, lost: Int64, overruns: Int64) throws {
        guard lost > 0 || overruns > 0 else { return }
        try writer.write { db in
            try db.execute(sql: "INSERT INTO loss (time, lost, overruns) VALUES (?, ?, ?)",
                           arguments: [timeMicros, lost, overruns])
        }
    }

    /// Deletes flows last seen before `cutoffMicros`, in small transactions so ingest is never
    /// held up for long. Returns the number of flows deleted.
    @discardableResult
    public func prune(olderThan cutoffMicros: Int64, batch: Int = 2000, maxBatches: Int = .max) throws -> Int {
        var total = 0
        for _ in 0..<maxBatches {
            let n = try writer.write { db -> Int in
                try db.execute(sql: """
                    DELETE FROM flow WHERE id IN (SELECT id FROM flow WHERE last_seen < ? LIMIT ?)
                    """, arguments: [cutoffMicros, batch])
                let deleted = db.changesCount
                try db.execute(sql: "DELETE FROM loss WHERE time < ?", arguments: [cutoffMicros])
                try db.execute(sql: "DELETE FROM kernel_count WHERE time < ?", arguments: [cutoffMicros])
                return deleted
            }
            total += n
            if n < batch { break }
        }
        return total
    }

    /// Bytes the database's live pages take (freed pages are reused, so this is what grows).
    public func usedBytes() throws -> Int64 {
        try writer.read { db in
            let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            let size = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
            return (pages - free) * size
        }
    }

    /// Deletes the oldest flows, a batch at a time (at most `maxBatches`), until the live data
    /// fits in `maxBytes`. Returns the number of flows deleted.
    @discardableResult
    public func pruneToFit(maxBytes: Int64, batch: Int = 2000, maxBatches: Int = 10) throws -> Int {
        var deleted = 0
        for _ in 0..<maxBatches {
            guard try usedBytes() > maxBytes else { break }
            let n = try writer.write { db -> Int in
                try db.execute(sql: "DELETE FROM flow WHERE id IN (SELECT id FROM flow ORDER BY last_seen LIMIT ?)",
                               arguments: [batch])
                return db.changesCount
            }
            deleted += n
            if n == 0 { break }
        }
        return deleted
    }

    // MARK: reading

    /// Lost events and overruns recorded since `sinceMicros` (for `dronewall status`).
    public func lossSince(_ sinceMicros: Int64) throws -> (lost: Int64, overruns: Int64) {
        try writer.read { db in
            let r = try Row.fetchOne(db, sql: "SELECT coalesce(sum(lost), 0), coalesce(sum(overruns), 0) FROM loss WHERE time >= ?",
                                     arguments: [sinceMicros])!
            return (r[0], r[1])
        }
    }

    public func flowCount() throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM flow") ?? 0 }
    }
}
