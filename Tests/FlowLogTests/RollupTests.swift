import Foundation
import GRDB
import Testing
@testable import FlowLog
import KernelLayout

/// A deterministic generator (SplitMix64), so a failing case can be run again.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let hour: Int64 = 3_600_000_000

/// Flow records spread over three days, as the writer could send them: several writes of the same
/// key (the upsert adds), a vendor learned later, windows of odd lengths that cross hour
/// boundaries, and a few long flows.
func randomRecords(_ n: Int, _ rng: inout SeededRandom, base: Int64 = t0) -> [FlowRecord] {
    let drones = ["alpha", "bravo", "charlie", "*"]
    let reasons = ["geofence", "flight-logs", "telemetry", "all", "host"].compactMap { LogReason(word: $0) }
    var out: [FlowRecord] = []
    for _ in 0..<n {
        let window: Int64 = [60, 420, 3600, 7][Int.random(in: 0..<4, using: &rng)] * 1_000_000
        let t = base + Int64.random(in: 0..<(3 * 24 * hour), using: &rng)
        let start = t - t % window
        let first = start + Int64.random(in: 0..<window, using: &rng)
        let long = Int.random(in: 0..<20, using: &rng) == 0
        let last = first + (long ? Int64.random(in: 0..<(5 * hour), using: &rng) : Int64.random(in: 0..<(start + window - first), using: &rng))
        let key = FlowKey(drone: drones.randomElement(using: &rng)!, reason: reasons.randomElement(using: &rng)!,
                          verdict: Bool.random(using: &rng) ? .blocked : .wouldBlock, proto: .tcp,
                          source: "192.0.2.\(Int.random(in: 1...3, using: &rng))",
                          destination: "203.0.113.\(Int.random(in: 1...6, using: &rng))", port: 443, windowStart: start)
        out.append(FlowRecord(key: key, vendor: [nil, "dji", "autel"].randomElement(using: &rng)!, host: nil,
                              firstSeen: first, lastSeen: last, packets: Int64.random(in: 1...50, using: &rng),
                              bytes: Int64.random(in: 40...9000, using: &rng), attempts: Int64.random(in: 0...5, using: &rng)))
    }
    return out
}

/// The rollup as it should be: summed again from the raw rows.
func rollupMismatch(_ store: FlowStore) throws -> [String] {
    try store.writer.read { db in
        let expected = try Row.fetchAll(db, sql: """
            SELECT \(FlowRollup.hourSQL("first_seen")), drone, coalesce(vendor, ''), category, count(*), sum(attempts),
                   sum(packets), sum(bytes), min(first_seen), max(last_seen) FROM flow GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
            """).map { $0.databaseValues.map(\.description).joined(separator: " ") }
        let actual = try Row.fetchAll(db, sql: """
            SELECT hour_start, drone, vendor, category, flows, attempts, packets, bytes, first_seen, last_seen
            FROM flow_hour ORDER BY 1, 2, 3, 4
            """).map { $0.databaseValues.map(\.description).joined(separator: " ") }
        return expected == actual ? [] : Array(Set(expected).symmetricDifference(actual)).sorted()
    }
}

/// Every `--by` the report command takes, one and two at a time, in both orders.
let groupings: [[ReportQuery.Dimension]] = [[]] + ReportQuery.Dimension.allCases.map { [$0] }
    + ReportQuery.Dimension.allCases.flatMap { a in ReportQuery.Dimension.allCases.filter { $0 != a }.map { [a, $0] } }

@Suite struct RollupTests {
    @Test func theWritersTriggersKeepTheHourlySumsExactThroughUpsertsAndPruning() throws {
        try withStore { store in
            var rng = SeededRandom(state: 1)
            let records = randomRecords(3000, &rng)
            // The same keys written again: upserts add to rows; some learn their vendor only now.
            let again = records.shuffled(using: &rng).prefix(1500).map { r -> FlowRecord in
                var r = r
                r.vendor = r.vendor ?? "parrot"
                r.firstSeen -= Int64.random(in: 0...1_000_000, using: &rng)
                r.lastSeen += Int64.random(in: 0...1_000_000, using: &rng)
                return r
            }
            for chunk in stride(from: 0, to: records.count, by: 500) { try store.write(Array(records[chunk..<min(chunk + 500, records.count)])) }
            try store.write(Array(again))
            #expect(try rollupMismatch(store) == [])
            try store.prune(olderThan: t0 + 30 * hour, batch: 97)
            #expect(try rollupMismatch(store) == [])
            try store.pruneToFit(maxBytes: try store.usedBytes() / 2, batch: 113, maxBatches: 20)
            #expect(try rollupMismatch(store) == [])
            // An update that shrinks a row's times (no writer does; the sums must stay right anyway).
            try store.writer.write { db in
                try db.execute(sql: "UPDATE flow SET first_seen = first_seen + 1000, packets = 1 WHERE id % 7 = 0 AND last_seen > first_seen + 1000")
            }
            #expect(try rollupMismatch(store) == [])
            #expect(try store.flowCount() > 0)
        }
    }

    @Test func reportsFromRollupsEqualReportsFromRawRowsForEveryGroupingWindowAndFormat() throws {
        try withStore { store in
            var rng = SeededRandom(state: 2)
            try store.write(randomRecords(4000, &rng))
            try store.write(randomRecords(500, &rng)) // overlapping keys: upserts
            try store.recordLoss(timeMicros: t0 + 5 * hour, lost: 3, overruns: 1)
            let span = 3 * 24 * hour
            // Windows: open or bounded, hour-aligned edges, edges inside an hour, shorter than an hour.
            var windows: [(Int64?, Int64?)] = [(nil, nil), (t0 - hour, nil), (nil, t0 + span / 2),
                                                (FlowRollup.hourStart(t0) + 5 * hour, FlowRollup.hourStart(t0) + 30 * hour - 1),
                                                (FlowRollup.hourStart(t0) + 5 * hour, FlowRollup.hourStart(t0) + 30 * hour),
                                                (t0 + 10 * hour + 5, t0 + 10 * hour + 1_000_000)]
            for _ in 0..<14 {
                let a = t0 + Int64.random(in: -hour...span, using: &rng)
                windows.append((a, a + Int64.random(in: 1...span, using: &rng)))
            }
            for (since, until) in windows {
                for by in groupings {
                    var q = ReportQuery()
                    q.sinceMicros = since
                    q.untilMicros = until
                    q.groupBy = by
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: q.drones = ["alpha", "*"]
                    case 1: q.vendors = ["dji"]
                    case 2: q.categories = ["telemetry", "all"]
                    default: break
                    }
                    let fast = try store.report(q, nowMicros: t0 + span, withRows: by.isEmpty)
                    let raw = try store.report(q, nowMicros: t0 + span, withRows: by.isEmpty, useRollups: false)
                    let what = "since \(String(describing: since)) until \(String(describing: until)) by \(by)"
                    #expect(fast.groups == raw.groups, "\(what)")
                    #expect(fast.totals == raw.totals, "\(what)")
                    #expect(fast.buckets == raw.buckets, "\(what)")
                    for format in ReportFormat.allCases {
                        #expect(ReportRenderer.render(fast, as: format) == ReportRenderer.render(raw, as: format), "\(what) \(format)")
                    }
                }
            }
            // Not vacuous: the windows found flows, and grouped reports read rollup rows.
            var all = ReportQuery()
            all.groupBy = [.drone, .category]
            #expect(try store.report(all, nowMicros: t0 + span).totals.flows > 3000)
        }
    }

    @Test func aLogWrittenBeforeRollupsGetsThemWhenTheWriterOpensItAndOldReadersStillWork() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dwflow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("flows.db").path
        var rng = SeededRandom(state: 3)
        let records = randomRecords(2000, &rng)
        // The log as the previous release left it: migrations up to v3, no rollups.
        do {
            let pool = try DatabasePool(path: path)
            try FlowStore.migrator().migrate(pool, upTo: "v3-kernel-reading")
        }
        var q = ReportQuery()
        q.groupBy = [.drone, .day]
        q.sinceMicros = t0 + 7 * hour + 123
        let old = try FlowStore(readOnlyPath: path)
        #expect(try old.report(q, nowMicros: t0).groups.isEmpty)
        let legacy = try FlowStoreLegacyWriter(path: path)
        try legacy.write(records)
        let before = try FlowStore(readOnlyPath: path).report(q, nowMicros: t0)
        #expect(!before.groups.isEmpty)

        let lines = LockedLines()
        let store = try FlowStore(path: path, log: { lines.append($0) })
        #expect(lines.lines.contains { $0.contains("building hourly sums of \(try! store.flowCount()) flow record(s)") })
        #expect(try rollupMismatch(store) == [])
        let after = try FlowStore(readOnlyPath: path).report(q, nowMicros: t0)
        #expect(after.groups == before.groups && after.totals == before.totals)
        // A new log says nothing about an upgrade.
        let quiet = LockedLines()
        _ = try FlowStore(path: dir.appendingPathComponent("new.db").path, log: { quiet.append($0) })
        #expect(quiet.lines.isEmpty)
    }
}

/// Writes flow rows the way the previous release did (a plain insert, no rollups).
struct FlowStoreLegacyWriter {
    let queue: DatabaseQueue
    init(path: String) throws { queue = try DatabaseQueue(path: path) }
    func write(_ records: [FlowRecord]) throws {
        try queue.write { db in
            for r in records {
                let k = r.key
                try db.execute(sql: """
                    INSERT OR IGNORE INTO flow (drone, vendor, category, verdict, protocol, source, destination, port, host,
                                                window_start, first_seen, last_seen, packets, bytes, attempts)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [k.drone, r.vendor, k.reason.word, k.verdict.rawValue, k.proto.description, k.source,
                                     k.destination, k.port, r.host, k.windowStart, r.firstSeen, r.lastSeen, r.packets,
                                     r.bytes, r.attempts])
            }
        }
    }
}

@Suite struct LastSeenWithoutItsIndexTests {
    @Test func logAndPruningFindRowsByLastSeenAsExactlyAsASortOfEveryRow() throws {
        try withStore { store in
            var rng = SeededRandom(state: 4)
            try store.write(randomRecords(3000, &rng))
            let all = try store.writer.read { db in
                try Row.fetchAll(db, sql: "SELECT \(FlowStore.rowColumns), id FROM flow ORDER BY last_seen, id").map {
                    (FlowStore.flowRow($0), $0[14] as Int64)
                }
            }
            for n in [1, 7, 500, 2999, 3000, 5000] {
                let expected = all.suffix(n).map(\.0).sorted { ($0.lastSeen, $0.drone) < ($1.lastSeen, $1.drone) }
                #expect(Set(try store.recent(limit: n)) == Set(expected), "recent(\(n))")
            }
            for _ in 0..<20 {
                let m = all.randomElement(using: &rng)!.0.lastSeen + Int64.random(in: -2...2, using: &rng)
                #expect(Set(try store.seen(after: m)) == Set(all.map(\.0).filter { $0.lastSeen > m }))
            }
            let cutoff = all[1000].0.lastSeen
            try store.prune(olderThan: cutoff, batch: 77)
            let left = all.filter { $0.0.lastSeen >= cutoff }
            #expect(Set(try store.recent(limit: 10_000)) == Set(left.map(\.0)))
            // The size cap takes the flows seen first (ties: the first written).
            #expect(try store.pruneToFitBatch(maxBytes: 0, batch: 300) == 300)
            #expect(Set(try store.recent(limit: 10_000)) == Set(left.dropFirst(300).map(\.0)))
            #expect(try rollupMismatch(store) == [])
        }
    }
}
