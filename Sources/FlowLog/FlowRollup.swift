import GRDB

/// Hourly sums of the flow log (`flow_hour`), kept exact by triggers on `flow`: every insert,
/// update (the writer's upsert) and delete (pruning) changes them in the same transaction, so
/// a grouped report reads a few rows per drone and category per hour instead of every flow
/// record. Raw rows stay for listings and drill-down.
///
/// A rollup row sums the flows whose `first_seen` falls in its hour, per drone, vendor ('' for
/// none) and category. `flow_bounds` keeps how far, at most, `first_seen` lies from
/// `window_start` and `last_seen` from `first_seen` in any row ever written: with them a query
/// finds the raw rows at the edges of a window through the `window_start` index.
enum FlowRollup {
    static let hourMicros: Int64 = 3_600_000_000

    /// The start of the hour `x` (microseconds) falls in; floor, also before 1970.
    static func hourStart(_ x: Int64) -> Int64 { x - ((x % hourMicros) + hourMicros) % hourMicros }

    /// a + b, held at the ends of Int64 instead of overflowing.
    static func adding(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    /// `hourStart` in SQL.
    static func hourSQL(_ x: String) -> String { "(\(x) - ((\(x) % 3600000000) + 3600000000) % 3600000000)" }

    static func key(_ row: String) -> String {
        "hour_start = \(hourSQL("\(row).first_seen")) AND drone = \(row).drone AND vendor = coalesce(\(row).vendor, '') "
            + "AND category = \(row).category"
    }

    static func add(_ row: String) -> String {
        """
        INSERT INTO flow_hour (hour_start, drone, vendor, category, flows, attempts, packets, bytes, first_seen, last_seen)
            VALUES (\(hourSQL("\(row).first_seen")), \(row).drone, coalesce(\(row).vendor, ''), \(row).category, 1,
                    \(row).attempts, \(row).packets, \(row).bytes, \(row).first_seen, \(row).last_seen)
            ON CONFLICT DO UPDATE SET flows = flows + 1, attempts = attempts + excluded.attempts,
                packets = packets + excluded.packets, bytes = bytes + excluded.bytes,
                first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen);
        UPDATE flow_bounds SET ahead = max(ahead, \(row).window_start - \(row).first_seen),
                               behind = max(behind, \(row).first_seen - \(row).window_start),
                               span = max(span, \(row).last_seen - \(row).first_seen)
            WHERE \(row).window_start - \(row).first_seen > ahead OR \(row).first_seen - \(row).window_start > behind
               OR \(row).last_seen - \(row).first_seen > span;
        """
    }

    /// Takes `old` out of its hour; when it held the hour's first or last time, those are
    /// read again from the raw rows left (index `flow_drone_time`).
    static let remove = """
        UPDATE flow_hour SET flows = flows - 1, attempts = attempts - old.attempts, packets = packets - old.packets,
                             bytes = bytes - old.bytes
            WHERE \(key("old"));
        DELETE FROM flow_hour WHERE \(key("old")) AND flows <= 0;
        UPDATE flow_hour SET
                first_seen = (SELECT min(f.first_seen) FROM flow f WHERE \(sameKey)),
                last_seen = (SELECT max(f.last_seen) FROM flow f WHERE \(sameKey))
            WHERE \(key("old")) AND (first_seen = old.first_seen OR last_seen = old.last_seen);
        """

    private static let sameKey = """
        f.drone = old.drone AND f.first_seen >= \(hourSQL("old.first_seen")) \
        AND f.first_seen < \(hourSQL("old.first_seen")) + 3600000000 \
        AND f.category = old.category AND coalesce(f.vendor, '') = coalesce(old.vendor, '')
        """

    /// The writer's upsert only adds to a row and widens its times: then the hour's sums grow
    /// by the difference and nothing has to be read again.
    private static let grows = """
        \(hourSQL("new.first_seen")) = \(hourSQL("old.first_seen")) AND new.drone = old.drone \
        AND new.category = old.category AND coalesce(new.vendor, '') = coalesce(old.vendor, '') \
        AND new.first_seen <= old.first_seen AND new.last_seen >= old.last_seen
        """

    /// Creates the rollup, its triggers and bounds, and fills them from the rows already there.
    static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE flow_hour (
                hour_start INTEGER NOT NULL,
                drone TEXT NOT NULL,
                vendor TEXT NOT NULL,
                category TEXT NOT NULL,
                flows INTEGER NOT NULL,
                attempts INTEGER NOT NULL,
                packets INTEGER NOT NULL,
                bytes INTEGER NOT NULL,
                first_seen INTEGER NOT NULL,
                last_seen INTEGER NOT NULL,
                PRIMARY KEY (hour_start, drone, vendor, category)
            ) WITHOUT ROWID;
            -- The window_start index and flow_bounds find rows by last_seen (pruning, dronewall log):
            -- its own index took some 20 bytes per record.
            DROP INDEX flow_last_seen;
            CREATE TABLE flow_bounds (ahead INTEGER NOT NULL, behind INTEGER NOT NULL, span INTEGER NOT NULL);
            INSERT INTO flow_bounds
                SELECT max(0, coalesce(max(window_start - first_seen), 0)), max(0, coalesce(max(first_seen - window_start), 0)),
                       max(0, coalesce(max(last_seen - first_seen), 0)) FROM flow;
            INSERT INTO flow_hour (hour_start, drone, vendor, category, flows, attempts, packets, bytes, first_seen, last_seen)
                SELECT \(hourSQL("first_seen")), drone, coalesce(vendor, ''), category, count(*), sum(attempts), sum(packets),
                       sum(bytes), min(first_seen), max(last_seen)
                FROM flow GROUP BY 1, 2, 3, 4;
            CREATE TRIGGER flow_hour_insert AFTER INSERT ON flow BEGIN
                \(add("new"))
            END;
            CREATE TRIGGER flow_hour_grow AFTER UPDATE ON flow WHEN \(grows) BEGIN
                UPDATE flow_hour SET attempts = attempts + new.attempts - old.attempts,
                                     packets = packets + new.packets - old.packets, bytes = bytes + new.bytes - old.bytes,
                                     first_seen = min(first_seen, new.first_seen), last_seen = max(last_seen, new.last_seen)
                    WHERE \(key("new"));
                UPDATE flow_bounds SET ahead = max(ahead, new.window_start - new.first_seen),
                                       behind = max(behind, new.first_seen - new.window_start),
                                       span = max(span, new.last_seen - new.first_seen)
                    WHERE new.window_start - new.first_seen > ahead OR new.first_seen - new.window_start > behind
                       OR new.last_seen - new.first_seen > span;
            END;
            CREATE TRIGGER flow_hour_change AFTER UPDATE ON flow WHEN NOT (\(grows)) BEGIN
                \(remove)
                \(add("new"))
            END;
            CREATE TRIGGER flow_hour_delete AFTER DELETE ON flow BEGIN
                \(remove)
            END;
            """)
    }

    /// How far times in raw rows can lie apart (see the type's comment); nil on a database
    /// without rollups (written by an older dronewalld: reports read raw rows).
    struct Bounds {
        var ahead: Int64, behind: Int64, span: Int64
        /// At most how far `last_seen` lies after `window_start`.
        var after: Int64 { behind.addingReportingOverflow(span).overflow ? .max : behind + span }
    }

    static func bounds(_ db: Database) throws -> Bounds? {
        guard try db.tableExists("flow_bounds"), try db.tableExists("flow_hour"),
              let r = try Row.fetchOne(db, sql: "SELECT ahead, behind, span FROM flow_bounds") else { return nil }
        return Bounds(ahead: r[0], behind: r[1], span: r[2])
    }
}
