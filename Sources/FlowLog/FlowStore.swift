import GRDB
import GRDBSQLite
#if canImport(Glibc)
import Glibc
#endif

/// The blocked-flow database (SQLite in WAL mode): flow records, lost-event counts and
/// kernel counter snapshots. The daemon writes; reports read.
public final class FlowStore: Sendable {
    public static let defaultPath = "/var/lib/dronewall/flows.db"

    let writer: any DatabaseWriter
    public let path: String

    /// True when the database was opened immutable (no -wal/-shm to share; see `init(readOnlyPath:)`).
    public let immutable: Bool

    /// Opens (creating and migrating) the database for writing. `log` hears about long
    /// upgrades (building the hourly rollups of an existing log).
    public init(path: String, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        // Readers without write access to the directory cannot create -wal and -shm: keep them
        // when the daemon's last connection closes (every connection of the pool, since any may be last).
        config.prepareDatabase { db in
            var on: Int32 = 1
            _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &on)
        }
        let pool = try DatabasePool(path: path, configuration: config)
        try FlowStore.migrator(log: log).migrate(pool)
        writer = pool
        self.path = path
        immutable = false
    }

    /// Opens an existing database read-only (reports; no write access needed to the file).
    ///
    /// A WAL reader needs -wal and -shm to exist or be creatable. When another tool (a backup with
    /// sqlite3) was the last to close the database, SQLite removed them; a group member cannot create
    /// them in the 0750 directory. With no -wal the database was checkpointed on close and no writer
    /// is active, so it is read as immutable (no locks, no -shm).
    public init(readOnlyPath path: String) throws {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        // Opening is lazy: the first read tells whether -wal and -shm could be used.
        func open(_ p: String) throws -> DatabaseQueue {
            let q = try DatabaseQueue(path: p, configuration: config)
            try q.read { db in _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            return q
        }
        let queue: DatabaseQueue
        var immutable = false
        do {
            queue = try open(path)
        } catch let error as DatabaseError
                    where (error.resultCode == .SQLITE_READONLY || error.resultCode == .SQLITE_CANTOPEN)
                    && access(path, R_OK) == 0 && access(path + "-wal", F_OK) != 0 {
            // Needs SQLite's URI filenames (Debian builds it with SQLITE_USE_URI); else the first error stands.
            guard let q = try? open(FlowStore.immutableURI(path)) else { throw error }
            queue = q
            immutable = true
        }
        writer = queue
        self.path = path
        self.immutable = immutable
    }

    /// `file:PATH?immutable=1`, with the characters URIs reserve escaped.
    static func immutableURI(_ path: String) -> String {
        var out = "file:"
        for b in path.utf8 {
            switch b {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"):
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
            default:
                out += String(decoding: [b], as: UTF8.self)
            }
        }
        return out + "?immutable=1"
    }

    static func migrator(log: @escaping @Sendable (String) -> Void = { _ in }) -> DatabaseMigrator {
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
        m.registerMigration("v3-kernel-reading") { db in
            // The absolute counter values behind the last stored deltas, and which table instance
            // they came from: a restarted daemon stores what was blocked while it was down.
            try db.execute(sql: """
                CREATE TABLE kernel_reading (
                    identity TEXT NOT NULL,
                    drone TEXT NOT NULL,
                    category TEXT NOT NULL,
                    verdict TEXT NOT NULL,
                    packets INTEGER NOT NULL,
                    bytes INTEGER NOT NULL
                );
                """)
        }
        m.registerMigration("v4-hourly-rollup") { db in
            // Grouped reports read hourly sums (see FlowRollup); a log written before gets them
            // built once, in this transaction: readers meanwhile see the old log, then the new.
            let rows = try Int.fetchOne(db, sql: "SELECT count(*) FROM flow") ?? 0
            if rows > 0 { log("flow log: building hourly sums of \(rows) flow record(s) for reports (once, after an upgrade)") }
            let start = ContinuousClock.now
            try FlowRollup.create(db)
            if rows > 0 { log("flow log: hourly sums built in \(start.duration(to: .now))") }
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

    /// Absolute counter values of one table instance (`identity`), as last stored.
    public struct CounterReading: Sendable, Hashable {
        public var identity: String
        /// Per drone, category and verdict; packets and bytes are totals since the table was made.
        public var values: [KernelCount]
        public init(identity: String, values: [KernelCount]) {
            self.identity = identity
            self.values = values
        }
    }

    /// Stores counter deltas, each batch at its time, and the reading they bring the log up to,
    /// in one transaction: the stored reading always matches the stored deltas.
    public func recordKernelCounts(_ batches: [(timeMicros: Int64, counts: [KernelCount])],
                                   reading: CounterReading?) throws {
        guard batches.contains(where: { $0.counts.contains { $0.packets > 0 } }) || reading != nil else { return }
        try writer.write { db in
            for (time, counts) in batches {
                for c in counts where c.packets > 0 {
                    try db.execute(sql: """
                        INSERT INTO kernel_count (time, drone, category, verdict, packets, bytes) VALUES (?, ?, ?, ?, ?, ?)
                        """, arguments: [time, c.drone, c.category, c.verdict.rawValue, c.packets, c.bytes])
                }
            }
            if let reading {
                try db.execute(sql: "DELETE FROM kernel_reading")
                for v in reading.values {
                    try db.execute(sql: """
                        INSERT INTO kernel_reading (identity, drone, category, verdict, packets, bytes) VALUES (?, ?, ?, ?, ?, ?)
                        """, arguments: [reading.identity, v.drone, v.category, v.verdict.rawValue, v.packets, v.bytes])
                }
            }
        }
    }

    public func recordKernelCounts(_ counts: [KernelCount], timeMicros: Int64) throws {
        try recordKernelCounts([(timeMicros, counts)], reading: nil)
    }

    /// The counter reading the stored deltas add up to; nil before the first.
    public func lastCounterReading() throws -> CounterReading? {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT identity, drone, category, verdict, packets, bytes FROM kernel_reading")
            guard let identity: String = rows.first?["identity"] else { return nil }
            return CounterReading(identity: identity, values: rows.map { r in
                KernelCount(drone: r["drone"], category: r["category"],
                            verdict: FlowVerdict(rawValue: r["verdict"]) ?? .blocked, packets: r["packets"], bytes: r["bytes"])
            })
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
                try stmt.execute(arguments: [k.drone, r.vendor, k.reason.word, k.verdict.rawValue, k.proto.description, k.source,
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
    /// held up for long, until none is left (or `maxBatches`). Returns the number of flows deleted.
    @discardableResult
    public func prune(olderThan cutoffMicros: Int64, batch: Int = 2000, maxBatches: Int = .max) throws -> Int {
        var total = 0
        for _ in 0..<maxBatches {
            let n = try pruneBatch(olderThan: cutoffMicros, batch: batch)
            total += n
            if n < batch { break }
        }
        return total
    }

    /// One transaction of `prune`: at most `batch` flows. Fewer than `batch` means done.
    public func pruneBatch(olderThan cutoffMicros: Int64, batch: Int = 2000) throws -> Int {
        try writer.write { db -> Int in
            // A row last seen before the cutoff started its window before cutoff + ahead.
            let ahead = try FlowRollup.bounds(db)?.ahead ?? .max
            try db.execute(sql: """
                DELETE FROM flow WHERE id IN (SELECT id FROM flow WHERE window_start < ? AND last_seen < ? LIMIT ?)
                """, arguments: [FlowRollup.adding(cutoffMicros, ahead), cutoffMicros, batch])
            let deleted = db.changesCount
            try db.execute(sql: "DELETE FROM loss WHERE time < ?", arguments: [cutoffMicros])
            try db.execute(sql: "DELETE FROM kernel_count WHERE time < ?", arguments: [cutoffMicros])
            return deleted
        }
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

    /// Deletes the oldest flows, a batch at a time, until the live data fits in `maxBytes` (or
    /// `maxBatches`, or nothing is left). Returns the number of flows deleted.
    @discardableResult
    public func pruneToFit(maxBytes: Int64, batch: Int = 2000, maxBatches: Int = .max) throws -> Int {
        var deleted = 0
        for _ in 0..<maxBatches {
            guard let n = try pruneToFitBatch(maxBytes: maxBytes, batch: batch), n > 0 else { break }
            deleted += n
        }
        return deleted
    }

    /// One transaction of `pruneToFit`: nil when the data already fits, else the flows deleted
    /// (0: nothing left to delete).
    public func pruneToFitBatch(maxBytes: Int64, batch: Int = 2000) throws -> Int? {
        guard try usedBytes() > maxBytes else { return nil }
        return try writer.write { db -> Int in
            try db.execute(sql: "DELETE FROM flow WHERE id IN (\(try FlowStore.lastSeenFirst(db, count: batch, newest: false)))",
                           arguments: [batch])
            return db.changesCount
        }
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
