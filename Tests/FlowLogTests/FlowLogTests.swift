import Foundation
import Testing
@testable import FlowLog
import KernelLayout

/// A fresh database file, removed after the test.
func withStore(_ body: (FlowStore) throws -> Void) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dwflow-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try body(try FlowStore(path: dir.appendingPathComponent("flows.db").path))
}

let t0: Int64 = 1_795_000_000_000_000 // 2026-11-18T...Z, 40 s into a minute

func event(drone: String = "alpha", cat: LogReason = .category(.geofence), at: Int64 = t0, dst: String = "203.0.113.10",
           port: UInt16? = 443, sport: UInt16? = 40000, proto: FlowProtocol = .tcp, len: Int = 60,
           verdict: FlowVerdict = .blocked, vendor: String? = "dji") -> BlockedEvent {
    BlockedEvent(timeMicros: at, drone: drone, reason: cat, verdict: verdict, vendor: vendor, proto: proto,
                 source: "192.0.2.18", destination: dst, port: port, sourcePort: sport, length: len)
}

@Suite struct AggregatorTests {
    @Test func foldsPacketsOfOneFlowAndCountsAttemptsBySourcePort() {
        var agg = FlowAggregator(windowSeconds: 60)
        agg.add(event(sport: 40000))
        agg.add(event(at: t0 + 1_000_000, sport: 40000, len: 60)) // SYN retransmission: same attempt
        agg.add(event(at: t0 + 2_000_000, sport: 40001))          // a new connection attempt
        let out = agg.take(nowMicros: t0 + 3_000_000)
        #expect(out.count == 1)
        #expect(out[0].packets == 3 && out[0].bytes == 180 && out[0].attempts == 2)
        #expect(out[0].firstSeen == t0 && out[0].lastSeen == t0 + 2_000_000)
    }

    @Test func separatesWindowsDronesPortsAndVerdicts() {
        var agg = FlowAggregator(windowSeconds: 60)
        agg.add(event())
        agg.add(event(at: t0 + 61_000_000))
        agg.add(event(drone: "bravo"))
        agg.add(event(port: 8883))
        agg.add(event(verdict: .wouldBlock))
        #expect(agg.take(nowMicros: t0).count == 5)
    }

    @Test func takeReturnsDeltasAndForgetsClosedWindows() {
        var agg = FlowAggregator(windowSeconds: 60)
        agg.add(event(sport: 1))
        _ = agg.take(nowMicros: t0 + 1)
        agg.add(event(at: t0 + 5, sport: 1)) // same window, same port: a packet, not an attempt
        let d = agg.take(nowMicros: t0 + 10)
        #expect(d.count == 1 && d[0].packets == 1 && d[0].attempts == 0)
        #expect(agg.take(nowMicros: t0 + 120_000_000).isEmpty)
        #expect(agg.pendingCount == 0)
    }

    @Test func aSynRetryAcrossAMinuteBoundaryIsOneAttempt() {
        var agg = FlowAggregator(windowSeconds: 60)
        let m = (t0 / 60_000_000 + 1) * 60_000_000      // a whole minute
        agg.add(event(at: m - 1_000_000, sport: 40000))  // SYN late in one window
        let first = agg.take(nowMicros: m + 500_000)     // the writer took it; the window closed
        agg.add(event(at: m + 1_000_000, sport: 40000))  // retransmissions in the next window
        agg.add(event(at: m + 3_000_000, sport: 40000))
        let second = agg.take(nowMicros: m + 4_000_000)
        #expect(first.count == 1 && first[0].attempts == 1)
        #expect(second.count == 1 && second[0].key.windowStart == m)
        #expect(second.first?.packets == 2 && second.first?.attempts == 0)
        // Long after the last packet the port is forgotten: reusing it is a new attempt.
        _ = agg.take(nowMicros: m + 400_000_000)
        agg.add(event(at: m + 400_000_000, sport: 40000))
        #expect(agg.take(nowMicros: m + 401_000_000).first?.attempts == 1)
    }

    @Test func sourcePortsAreForgottenOnceTheyCanNoLongerMatter() {
        var agg = FlowAggregator(windowSeconds: 60)
        for i in 0..<1000 { agg.add(event(at: t0, sport: UInt16(10_000 + i))) }
        _ = agg.take(nowMicros: t0 + 1_000_000)
        #expect(agg.rememberedPorts == 1000)
        // Within the memory a retry is the same attempt, however often the writer took.
        for s in 1...5 { _ = agg.take(nowMicros: t0 + Int64(s) * 20_000_000) }
        agg.add(event(at: t0 + 140_000_000, sport: 10_000))
        #expect(agg.take(nowMicros: t0 + 141_000_000).first?.attempts == 0)
        // Past it, the ports are gone from memory; the one reused at t0 + 140 s stays.
        _ = agg.take(nowMicros: t0 + FlowAggregator.attemptMemoryMicros + 1_000_000)
        #expect(agg.rememberedPorts == 1)
        _ = agg.take(nowMicros: t0 + 140_000_000 + FlowAggregator.attemptMemoryMicros + FlowAggregator.sweepMicros)
        #expect(agg.rememberedPorts == 0)
    }
}

@Suite struct StoreAndReportTests {
    @Test func writesAddUpAcrossBatchesAndReportsFilterAndGroup() throws {
        try withStore { store in
            var agg = FlowAggregator()
            for i in 0..<5 { agg.add(event(sport: UInt16(1000 + i))) }
            try store.write(agg.take(nowMicros: t0))
            for i in 0..<3 { agg.add(event(at: t0 + 10, sport: UInt16(2000 + i))) }
            agg.add(event(drone: "bravo", cat: LogReason(word: "flight-logs")!, dst: "203.0.113.20"))
            agg.add(event(drone: "delta", cat: LogReason(word: "geofence")!, verdict: .wouldBlock))
            agg.add(event(drone: "charlie", cat: LogReason(word: "all")!, dst: "198.51.100.80", vendor: nil))
            try store.write(agg.take(nowMicros: t0 + 20))
            try store.recordLoss(timeMicros: t0 + 30, lost: 7, overruns: 1)
            #expect(try store.flowCount() == 4)

            var q = ReportQuery()
            let all = try store.report(q, nowMicros: t0 + 100)
            let alpha = try #require(all.rows.first { $0.drone == "alpha" })
            #expect(alpha.packets == 8 && alpha.attempts == 8 && alpha.vendor == "dji" && alpha.port == 443)
            #expect(all.totals.flows == 4 && all.totals.packets == 11)
            #expect(all.lostEvents == 7 && all.overruns == 1)

            q.drones = ["alpha", "bravo"]
            q.groupBy = [.drone, .category]
            let g = try store.report(q, nowMicros: t0 + 100)
            #expect(g.groups.map(\.values) == [["alpha", "geofence"], ["bravo", "flight-logs"]])
            #expect(g.totals.packets == 9)

            var byVendor = ReportQuery()
            byVendor.vendors = ["dji"]
            byVendor.groupBy = [.vendor]
            #expect(try store.report(byVendor, nowMicros: t0).groups.map(\.flows) == [3])

            var window = ReportQuery()
            window.sinceMicros = t0 + 1_000_000
            #expect(try store.report(window, nowMicros: t0).rows.isEmpty)
        }
    }

    @Test func pruneDeletesOnlyOldFlows() throws {
        try withStore { store in
            var agg = FlowAggregator()
            agg.add(event(at: t0))
            agg.add(event(at: t0 + 3_600_000_000))
            try store.write(agg.take(nowMicros: t0))
            #expect(try store.prune(olderThan: t0 + 1) == 1)
            #expect(try store.flowCount() == 1)
        }
    }

    @Test func aSizeCapDeletesTheOldestFlowsFirst() throws {
        try withStore { store in
            var agg = FlowAggregator()
            for i in 0..<20_000 {
                agg.add(event(at: t0 + Int64(i) * 60_000_000, dst: "203.0.113.\(i % 250)", sport: UInt16(i % 60000)))
            }
            try store.write(agg.take(nowMicros: t0))
            let before = try store.usedBytes()
            let cap = before / 2
            _ = try store.pruneToFit(maxBytes: cap, batch: 1000, maxBatches: 100)
            #expect(try store.usedBytes() <= cap)
            let left = try store.recent(limit: 1_000_000)
            #expect(!left.isEmpty && left.count < 20_000)
            // What is left is the newest: the newest flow survived, the oldest did not.
            #expect(left.last?.lastSeen == t0 + 19_999 * 60_000_000)
            #expect(left.first!.firstSeen > t0)
        }
    }

    @Test func aReadOnlyStoreSeesWhatTheWriterWrote() throws {
        try withStore { store in
            var agg = FlowAggregator()
            agg.add(event())
            try store.write(agg.take(nowMicros: t0))
            let reader = try FlowStore(readOnlyPath: store.path)
            #expect(try reader.report(ReportQuery(), nowMicros: t0).rows.count == 1)
            #expect(throws: (any Error).self) { try reader.recordLoss(timeMicros: 1, lost: 1, overruns: 0) }
        }
    }
}

@Suite struct RenderingTests {
    func sample() throws -> Report {
        var r: Report?
        try withStore { store in
            var agg = FlowAggregator()
            agg.add(event())
            agg.add(event(drone: "bravo, \"the\" <one>", cat: LogReason(word: "flight-logs")!, at: t0 + 7_200_000_000, port: nil,
                          sport: nil, proto: .icmp))
            try store.write(agg.take(nowMicros: t0))
            try store.recordLoss(timeMicros: t0, lost: 2, overruns: 0)
            r = try store.report(ReportQuery(), nowMicros: t0 + 1)
        }
        return try #require(r)
    }

    @Test func jsonHasTheDocumentedFields() throws {
        let text = ReportRenderer.render(try sample(), as: .json)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [[String: Any]]
        #expect(parsed.count == 2)
        let first = parsed[0]
        for key in ["drone", "vendor", "category", "verdict", "protocol", "destination", "port", "packets", "bytes",
                    "first_seen", "last_seen", "attempts", "source", "host"] {
            #expect(first.keys.contains(key), "missing \(key)")
        }
        #expect(first["first_seen"] as? String == TimeText.iso8601(micros: t0))
        #expect(parsed[1]["port"] is NSNull)
        #expect(parsed[1]["drone"] as? String == "bravo, \"the\" <one>")
    }

    @Test func csvQuotesAndTableEndsWithTotalsAndLoss() throws {
        let r = try sample()
        let csv = ReportRenderer.render(r, as: .csv)
        #expect(csv.contains("\"bravo, \"\"the\"\" <one>\""))
        let table = ReportRenderer.render(r, as: .table)
        #expect(table.hasSuffix("total: 2 flow(s), 2 attempt(s), 2 packet(s), 120 byte(s); lost events: 2\n"))
        #expect(table.contains("lost events: 2"))
    }

    @Test func htmlIsSelfContainedWithAChart() throws {
        let html = ReportRenderer.render(try sample(), as: .html)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<svg") && html.contains("<polyline") == false && html.contains("<circle"))
        #expect(!html.contains("src=") && !html.contains("<link") && !html.contains("@import"))
        #expect(html.contains("bravo, &quot;the&quot; &lt;one&gt;"))
        #expect(html.contains("Lost events: 2"))
    }
}

@Suite struct TimeTextTests {
    @Test func printsAndParsesUTC() {
        #expect(TimeText.iso8601(micros: 0) == "1970-01-01T00:00:00Z")
        #expect(TimeText.iso8601(micros: 951_782_400_000_000) == "2000-02-29T00:00:00Z")
        #expect(TimeText.parse("2000-02-29", nowMicros: 0) == 951_782_400_000_000)
        #expect(TimeText.parse("2026-11-25T12:09:20Z", nowMicros: 0).map { TimeText.iso8601(micros: $0) } == "2026-11-25T12:09:20Z")
        #expect(TimeText.parse("24h", nowMicros: 100_000_000_000) == Int64(13_600_000_000))
        #expect(TimeText.parse("7d", nowMicros: 0) == Int64(-604_800_000_000))
        #expect(TimeText.parse("yesterday", nowMicros: 0) == nil)
        #expect(TimeText.parse("2026-13-01", nowMicros: 0) == nil)
        // Too far back to count in microseconds: an error, not a trap.
        #expect(TimeText.parse("99999999999999s", nowMicros: 1_000_000) == nil)
        #expect(TimeText.parse("9999999999999w", nowMicros: 1_000_000) == nil)
    }
}
