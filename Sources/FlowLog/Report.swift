import GRDB

/// What an operator asks for: a time window, filters and the dimensions to group by.
public struct ReportQuery: Sendable {
    public enum Dimension: String, Sendable, CaseIterable {
        case drone, vendor, category, destination, day
    }

    public var sinceMicros: Int64?
    public var untilMicros: Int64?
    public var drones: [String] = []
    public var vendors: [String] = []
    public var categories: [String] = []
    public var groupBy: [Dimension] = []

    public init() {}
}

/// One flow record as reports show it.
public struct FlowRow: Sendable, Hashable {
    public var drone: String
    public var vendor: String?
    public var category: String
    public var verdict: FlowVerdict
    public var proto: FlowProtocol
    public var source: String
    public var destination: String
    public var port: Int?
    public var host: String?
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var packets: Int64
    public var bytes: Int64
    public var attempts: Int64
}

/// One group of a grouped report: the dimension values and the sums.
public struct GroupRow: Sendable, Hashable {
    public var values: [String]
    public var flows: Int64
    public var attempts: Int64
    public var packets: Int64
    public var bytes: Int64
    public var firstSeen: Int64
    public var lastSeen: Int64
}

/// Attempts per drone per time bucket, for the HTML chart.
public struct TimeBucket: Sendable, Hashable {
    public var drone: String
    public var bucketStart: Int64
    public var attempts: Int64
}

/// The answer to a query.
public struct Report: Sendable {
    public var query: ReportQuery
    public var rows: [FlowRow]
    public var groups: [GroupRow]
    public var totals: GroupRow
    /// Events the log lost in the window (sequence gaps), and receive-buffer overruns.
    public var lostEvents: Int64
    public var overruns: Int64
    /// Exact packets counted by the kernel in the window (blocked, would-block), for the
    /// drones and categories asked for.
    public var kernelBlockedPackets: Int64
    public var kernelWouldBlockPackets: Int64
    public var buckets: [TimeBucket]
    public var generatedMicros: Int64
}

extension FlowStore {
    /// Runs `query` in one read transaction (a consistent snapshot, even while the daemon writes).
    /// Sums come from the hourly rollups where the log has them (whole hours inside the window;
    /// raw rows for the hours at its edges), else from raw rows; `useRollups: false` forces raw
    /// rows (benchmarks compare the two, the raw side as reports were made before rollups). Both
    /// give the same report. `withBuckets: false` leaves out the chart's time buckets (only html
    /// shows them).
    public func report(_ query: ReportQuery, nowMicros: Int64, withRows: Bool = true,
                       bucketMicros: Int64 = 3_600_000_000, useRollups: Bool = true,
                       withBuckets: Bool = true) throws -> Report {
        var flows = WhereClause()
        flows.atLeast("last_seen", query.sinceMicros)
        flows.atMost("first_seen", query.untilMicros)
        flows.in("drone", query.drones)
        flows.in("vendor", query.vendors)
        flows.in("category", query.categories)
        // Loss and kernel counts are dated points, not spans.
        var points = WhereClause()
        points.atLeast("time", query.sinceMicros)
        points.atMost("time", query.untilMicros)
        let lossClause = points
        points.in("drone", query.drones)
        points.in("category", query.categories)
        let countClause = points

        return try writer.read { db in
            let bounds = try FlowRollup.bounds(db)
            // A log with bounds has no last_seen index: the window_start index finds the window's rows
            // (last_seen >= since means window_start >= since - after; first_seen <= until, window_start <= until + ahead).
            var listed = flows
            if let bounds {
                listed.atLeast("window_start", query.sinceMicros.map { FlowRollup.adding($0, -bounds.after) })
                listed.atMost("window_start", query.untilMicros.map { FlowRollup.adding($0, bounds.ahead) })
            }
            var rows: [FlowRow] = []
            if withRows {
                rows = try Row.fetchAll(db, sql: """
                    SELECT \(FlowStore.rowColumns) FROM flow \(listed.sql) ORDER BY first_seen, drone, destination, port
                    """, arguments: listed.arguments).map(FlowStore.flowRow)
            }
            let rollup = useRollups ? bounds.map { RollupSource(query: query, bounds: $0) } : nil
            let sums = "count(*), coalesce(sum(attempts), 0), coalesce(sum(packets), 0), coalesce(sum(bytes), 0), coalesce(min(first_seen), 0), coalesce(max(last_seen), 0)"
            let rollupSums = "coalesce(sum(flows), 0), coalesce(sum(attempts), 0), coalesce(sum(packets), 0), coalesce(sum(bytes), 0), coalesce(min(first_seen), 0), coalesce(max(last_seen), 0)"
            func group(_ r: Row, _ offset: Int) -> GroupRow {
                GroupRow(values: (0..<offset).map { (r[$0] as String?) ?? "-" }, flows: r[offset],
                         attempts: r[offset + 1], packets: r[offset + 2], bytes: r[offset + 3],
                         firstSeen: r[offset + 4], lastSeen: r[offset + 5])
            }
            var groups: [GroupRow] = []
            if !query.groupBy.isEmpty {
                let n = query.groupBy.count
                // Ties in attempts are ordered by every grouping value: the same report prints the same.
                let order = "ORDER BY \(n + 2) DESC, \((1...n).map(String.init).joined(separator: ", "))"
                let groupSQL = "GROUP BY \((1...n).map(String.init).joined(separator: ", ")) \(order)"
                if let rollup, !query.groupBy.contains(.destination) {
                    let (source, args) = rollup.source(query.groupBy.map(ReportQuery.rollupExpression),
                                                       raw: query.groupBy.map(ReportQuery.sqlExpression))
                    let cols = (0..<n).map { "d\($0)" }
                    groups = try Row.fetchAll(db, sql: "SELECT \(cols.joined(separator: ", ")), \(rollupSums) FROM (\(source)) \(groupSQL)",
                                              arguments: args).map { group($0, n) }
                } else {
                    let cols = query.groupBy.map(ReportQuery.sqlExpression)
                    groups = try Row.fetchAll(db, sql: """
                        SELECT \(cols.joined(separator: ", ")), \(sums) FROM flow \(listed.sql) \(groupSQL)
                        """, arguments: listed.arguments).map { group($0, n) }
                }
            }
            let totals: GroupRow
            if rollup != nil, !query.groupBy.isEmpty {
                // The groups partition the window's flows: their sums are the totals.
                totals = GroupRow(values: [], flows: groups.reduce(0) { $0 + $1.flows }, attempts: groups.reduce(0) { $0 + $1.attempts },
                                  packets: groups.reduce(0) { $0 + $1.packets }, bytes: groups.reduce(0) { $0 + $1.bytes },
                                  firstSeen: groups.map(\.firstSeen).min() ?? 0, lastSeen: groups.map(\.lastSeen).max() ?? 0)
            } else if let rollup {
                let (source, args) = rollup.source([], raw: [])
                totals = group(try Row.fetchOne(db, sql: "SELECT \(rollupSums) FROM (\(source))", arguments: args)!, 0)
            } else {
                totals = group(try Row.fetchOne(db, sql: "SELECT \(sums) FROM flow \(listed.sql)", arguments: listed.arguments)!, 0)
            }
            let loss = try Row.fetchOne(db, sql: """
                SELECT coalesce(sum(lost), 0), coalesce(sum(overruns), 0) FROM loss \(lossClause.sql)
                """, arguments: lossClause.arguments)!
            // Vendors are not known per counter: with a vendor filter the kernel totals do not apply.
            let kernel = query.vendors.isEmpty ? try Row.fetchOne(db, sql: """
                SELECT coalesce(sum(CASE WHEN verdict = 'blocked' THEN packets END), 0),
                       coalesce(sum(CASE WHEN verdict = 'would-block' THEN packets END), 0)
                FROM kernel_count \(countClause.sql)
                """, arguments: countClause.arguments) : nil
            var buckets: [TimeBucket] = []
            if rollup != nil && !withBuckets {
                // Not asked for.
            } else if let rollup, bucketMicros > 0, bucketMicros % FlowRollup.hourMicros == 0 {
                let (source, args) = rollup.source(["drone", "(hour_start / \(bucketMicros)) * \(bucketMicros)"],
                                                   raw: ["drone", "(first_seen / \(bucketMicros)) * \(bucketMicros)"])
                buckets = try Row.fetchAll(db, sql: """
                    SELECT d0, d1, sum(attempts) FROM (\(source)) GROUP BY 1, 2 ORDER BY 2, 1
                    """, arguments: args).map { TimeBucket(drone: $0[0], bucketStart: $0[1], attempts: $0[2]) }
            } else {
                buckets = try Row.fetchAll(db, sql: """
                    SELECT drone, (first_seen / ?) * ?, sum(attempts) FROM flow \(listed.sql)
                    GROUP BY 1, 2 ORDER BY 2, 1
                    """, arguments: StatementArguments([bucketMicros, bucketMicros]) + listed.arguments).map {
                    TimeBucket(drone: $0[0], bucketStart: $0[1], attempts: $0[2])
                }
            }
            return Report(query: query, rows: rows, groups: groups, totals: totals, lostEvents: loss[0],
                          overruns: loss[1], kernelBlockedPackets: kernel?[0] ?? -1,
                          kernelWouldBlockPackets: kernel?[1] ?? -1, buckets: buckets, generatedMicros: nowMicros)
        }
    }
}

/// The flows of a report's window as one row source: the rollup rows of the whole hours inside
/// the window, and the raw rows of the hours at its edges (found through the `window_start`
/// index, which `FlowRollup.Bounds` make exact). Each row: dimension values d0..., then
/// flows, attempts, packets, bytes, first_seen, last_seen.
struct RollupSource {
    let query: ReportQuery
    let bounds: FlowRollup.Bounds

    init(query: ReportQuery, bounds: FlowRollup.Bounds) {
        self.query = query
        self.bounds = bounds
    }

    func source(_ rollupDims: [String], raw rawDims: [String]) -> (String, StatementArguments) {
        let h = FlowRollup.hourMicros
        let since = query.sinceMicros, until = query.untilMicros
        // Whole hours inside the window: each flow in them has since <= first_seen <= last_seen and
        // first_seen <= until. lo: the first hour starting at or after `since`; hiEnd: the end of
        // the last hour ending at or before `until`.
        let lo = since.map { FlowRollup.hourStart($0) == $0 ? $0 : FlowRollup.hourStart($0) + h }
        let hiEnd = until.map { $0 == .max ? $0 : FlowRollup.hourStart($0 + 1) }
        let rollupPart = (lo ?? .min) < (hiEnd ?? .max)
        var parts: [String] = []
        var args = StatementArguments()
        func dims(_ list: [String]) -> String { list.enumerated().map { "\($1) AS d\($0)" }.map { $0 + ", " }.joined() }

        if rollupPart {
            var w = WhereClause()
            w.atLeast("hour_start", lo)
            if let hiEnd { w.below("hour_start", hiEnd) }
            w.in("drone", query.drones)
            w.in("nullif(vendor, '')", query.vendors)
            w.in("category", query.categories)
            parts.append("SELECT \(dims(rollupDims))flows, attempts, packets, bytes, first_seen, last_seen FROM flow_hour \(w.sql)")
            args += w.arguments
        }
        // Raw rows whose first_seen lies in [from, to) (nil: unbounded), in the window and the filters.
        func raw(from: Int64?, to: Int64?) {
            var w = WhereClause()
            // window_start lies within [first_seen - behind, first_seen + ahead] in every row.
            w.atLeast("window_start", from.map { FlowRollup.adding($0, -bounds.behind) })
            w.below("window_start", to.map { FlowRollup.adding($0, bounds.ahead) })
            w.atLeast("first_seen", from)
            w.below("first_seen", to)
            w.atLeast("last_seen", since)
            w.atMost("first_seen", until)
            w.in("drone", query.drones)
            w.in("vendor", query.vendors)
            w.in("category", query.categories)
            parts.append("SELECT \(dims(rawDims))1 AS flows, attempts, packets, bytes, first_seen, last_seen FROM flow \(w.sql)")
            args += w.arguments
        }
        // A flow in the window has first_seen >= since - span (its last_seen is at least since).
        let earliest = since.map { FlowRollup.adding($0, -bounds.span) }
        let afterUntil = until.flatMap { $0 == .max ? nil : $0 + 1 }
        if rollupPart {
            if let lo { raw(from: earliest, to: lo) }
            if let hiEnd, until != nil { raw(from: hiEnd, to: afterUntil) }
        } else {
            raw(from: earliest, to: afterUntil)
        }
        return (parts.joined(separator: " UNION ALL "), args)
    }
}

extension ReportQuery {
    static func sqlExpression(_ d: Dimension) -> String {
        switch d {
        case .drone: return "drone"
        case .vendor: return "vendor"
        case .category: return "category"
        case .destination: return "destination"
        case .day: return "date(first_seen / 1000000, 'unixepoch')"
        }
    }

    /// The same on `flow_hour` (not for destination, which it does not keep); an hour lies in one day.
    static func rollupExpression(_ d: Dimension) -> String {
        switch d {
        case .drone: return "drone"
        case .vendor: return "nullif(vendor, '')"
        case .category: return "category"
        case .destination: return "NULL"
        case .day: return "date(hour_start / 1000000, 'unixepoch')"
        }
    }
}

extension FlowStore {
    /// The `limit` flows seen last, oldest first (for `dronewall log`).
    public func recent(limit: Int) throws -> [FlowRow] {
        try writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(FlowStore.rowColumns) FROM flow WHERE id IN (\(try FlowStore.lastSeenFirst(db, count: limit, newest: true)))
                ORDER BY last_seen, drone
                """, arguments: [limit]).map(FlowStore.flowRow)
        }
    }

    /// Flows whose last packet came after `micros`, oldest first (for `dronewall log --follow`).
    public func seen(after micros: Int64) throws -> [FlowRow] {
        try writer.read { db in
            // A row last seen after `micros` started its window after micros - after. (An older log
            // without bounds has an index on last_seen.)
            guard let bounds = try FlowRollup.bounds(db) else {
                return try Row.fetchAll(db, sql: """
                    SELECT \(FlowStore.rowColumns) FROM flow WHERE last_seen > ? ORDER BY last_seen, drone
                    """, arguments: [micros]).map(FlowStore.flowRow)
            }
            return try Row.fetchAll(db, sql: """
                SELECT \(FlowStore.rowColumns) FROM flow WHERE window_start > ? AND last_seen > ? ORDER BY last_seen, drone
                """, arguments: [FlowRollup.adding(micros, -bounds.after), micros]).map(FlowStore.flowRow)
        }
    }

    /// SQL selecting the ids of the `count` (bound as the statement's last argument) flows seen
    /// last (`newest`) or first, by last_seen, then id. On a log with rollup bounds the candidates
    /// are narrowed through the window_start index: the `count`-th row by window_start bounds the
    /// `count`-th last_seen to within `ahead` + `after` of it.
    static func lastSeenFirst(_ db: Database, count: Int, newest: Bool) throws -> String {
        let order = newest ? "ORDER BY last_seen DESC, id DESC" : "ORDER BY last_seen, id"
        guard let b = try FlowRollup.bounds(db), count > 0,
              let edge = try Int64.fetchOne(db, sql: """
                  SELECT window_start FROM flow ORDER BY window_start \(newest ? "DESC" : "") LIMIT 1 OFFSET ?
                  """, arguments: [count - 1]) else {
            return "SELECT id FROM flow \(order) LIMIT ?"
        }
        let reach = FlowRollup.adding(b.ahead, b.after)
        let range = newest ? "window_start >= \(FlowRollup.adding(edge, -reach))" : "window_start <= \(FlowRollup.adding(edge, reach))"
        return "SELECT id FROM flow WHERE \(range) \(order) LIMIT ?"
    }

    static let rowColumns = """
        drone, vendor, category, verdict, protocol, source, destination, port, host, first_seen, last_seen, \
        packets, bytes, attempts
        """

    static func flowRow(_ r: Row) -> FlowRow {
        // Only dronewall writes these columns, from the same enums.
        FlowRow(drone: r[0], vendor: r[1], category: r[2], verdict: FlowVerdict(rawValue: r[3]) ?? .blocked,
                proto: FlowProtocol(name: r[4]), source: r[5],
                destination: r[6], port: (r[7] as Int) == 0 ? nil : r[7], host: r[8], firstSeen: r[9],
                lastSeen: r[10], packets: r[11], bytes: r[12], attempts: r[13])
    }
}

extension FlowRow {
    /// One line for `dronewall log`.
    public var logLine: String {
        let dst = destination.contains(":") ? "[\(destination)]" : destination
        let target = (host.map { "\($0) (\(dst))" } ?? dst) + (port.map { ":\($0)" } ?? "")
        return "\(TimeText.iso8601(micros: lastSeen)) \(verdict) \(drone) -> \(target) \(proto) "
            + "\(category) \(vendor ?? "-") (\(attempts) attempt(s), \(packets) packet(s), \(bytes) byte(s))"
    }
}

/// The WHERE clause of a report query and its arguments, built condition by condition.
struct WhereClause {
    private var conditions: [String] = []
    private var values: [any DatabaseValueConvertible] = []

    mutating func atLeast(_ column: String, _ value: Int64?) {
        guard let value else { return }
        conditions.append("\(column) >= ?")
        values.append(value)
    }

    mutating func atMost(_ column: String, _ value: Int64?) {
        guard let value else { return }
        conditions.append("\(column) <= ?")
        values.append(value)
    }

    mutating func below(_ column: String, _ value: Int64?) {
        guard let value else { return }
        conditions.append("\(column) < ?")
        values.append(value)
    }

    /// `column IN (...)`; nothing when `list` is empty (no filter).
    mutating func `in`(_ column: String, _ list: [String]) {
        guard !list.isEmpty else { return }
        conditions.append("\(column) IN (\(list.map { _ in "?" }.joined(separator: ", ")))")
        values += list.map { $0 as any DatabaseValueConvertible }
    }

    var sql: String { conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") }
    var arguments: StatementArguments { StatementArguments(values.map { $0.databaseValue }) }
}
