import Foundation
import GRDB
import Testing
@testable import FlowLog

/// Waits for the writer's queue: a prune re-queues itself batch by batch.
func settle(_ writer: FlowWriter) {
    while writer.isPruning { usleep(1000) }
    _ = writer.drain()
}

func manyFlows(_ n: Int, from start: Int64) -> [FlowRecord] {
    var agg = FlowAggregator()
    for i in 0..<n {
        agg.add(event(at: start + Int64(i) * 60_000_000, dst: "203.0.113.\(i % 250)", sport: UInt16(i % 60000)))
    }
    return agg.take(nowMicros: start)
}

@Suite struct FlowWriterTests {
    @Test func pruneRepeatsBatchesUntilPastTheCutoff() throws {
        try withStore { store in
            try store.write(manyFlows(25_000, from: t0))                 // old
            try store.write(manyFlows(10, from: t0 + 100 * 86_400_000_000)) // recent
            let writer = FlowWriter(store: store, log: { _ in })
            writer.prune(olderThanMicros: t0 + 50 * 86_400_000_000, maxBytes: .max, batch: 1000)
            writer.submit([], lost: 1, overruns: 0, atMicros: t0 + 100 * 86_400_000_000) // ingest goes on meanwhile
            settle(writer)
            #expect(try store.flowCount() == 10)
            #expect(try store.lossSince(0).lost == 1)
        }
    }

    @Test func pruneToFitRepeatsBatchesUntilUnderTheCap() throws {
        try withStore { store in
            try store.write(manyFlows(20_000, from: t0))
            let cap = try store.usedBytes() / 2
            let writer = FlowWriter(store: store, log: { _ in })
            writer.prune(olderThanMicros: 0, maxBytes: cap, batch: 200) // needs far more than 10 batches
            settle(writer)
            #expect(try store.usedBytes() <= cap)
            #expect(try store.flowCount() > 0)
        }
    }

    @Test func kernelCountsAreKeptWhenAWriteFailsAndReportedIfNeverWritten() throws {
        try withStore { store in
            try store.writer.write { db in
                try db.execute(sql: "CREATE TRIGGER fail BEFORE INSERT ON kernel_count BEGIN SELECT RAISE(ABORT, 'disk full'); END")
            }
            let logged = LockedLines()
            let writer = FlowWriter(store: store, log: { logged.append($0) })
            let c = FlowStore.KernelCount(drone: "alpha", category: "geofence", verdict: .blocked, packets: 5, bytes: 300)
            let r1 = FlowStore.CounterReading(identity: "t1", values: [c])
            writer.recordKernelCounts([c], reading: r1, atMicros: t0)
            #expect(writer.drain() == FlowWriter.Unwritten(flows: 0, kernelCounts: 1, lostEvents: 0))
            #expect(logged.lines.contains { $0.contains("kernel counters") })
            #expect(try store.lastCounterReading() == nil)

            try store.writer.write { db in try db.execute(sql: "DROP TRIGGER fail") }
            var c2 = c
            c2.packets = 3
            var total = c
            total.packets = 8
            let r2 = FlowStore.CounterReading(identity: "t1", values: [total])
            writer.recordKernelCounts([c2], reading: r2, atMicros: t0 + 5_000_000)
            #expect(writer.drain().isEmpty)
            let stored = try store.writer.read { db in try Int64.fetchOne(db, sql: "SELECT sum(packets) FROM kernel_count") }
            #expect(stored == 8)
            #expect(try store.lastCounterReading() == r2)
        }
    }

    @Test func immutableURIEscapesWhatURIsReserve() {
        #expect(FlowStore.immutableURI("/var/lib/dw/a?b#c%d.db") == "file:/var/lib/dw/a%3Fb%23c%25d.db?immutable=1")
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ s: String) { lock.lock(); stored.append(s); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}
