import Dispatch

/// Owns every write to the flow log on one serial queue, so the NFLOG reader never waits for
/// SQLite (a large flush or a prune would otherwise let the socket buffer overflow).
/// Whatever fails to write (flows, loss counts, kernel counter deltas) is kept and retried with
/// the next batch: nothing is dropped while the process lives.
public final class FlowWriter: @unchecked Sendable {
    private let store: FlowStore
    private let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "dronewalld.flow-writer")
    // Touched only on `queue`.
    private var pending: [FlowRecord] = []
    private var pendingLost: Int64 = 0
    private var pendingOverruns: Int64 = 0
    private var pendingLossTime: Int64 = 0
    private var pendingCounts: [(timeMicros: Int64, counts: [FlowStore.KernelCount])] = []
    private var pendingReading: FlowStore.CounterReading?
    private var pruning = false

    /// `log`: where failures are reported (called on the writer queue).
    public init(store: FlowStore, log: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.log = log
    }

    /// What could not be written, for the exit message.
    public struct Unwritten: Sendable, Equatable {
        public var flows: Int
        public var kernelCounts: Int
        public var lostEvents: Int64
        public var isEmpty: Bool { flows == 0 && kernelCounts == 0 && lostEvents == 0 }
    }

    /// Queues folded flows and the events lost since the last call; `lossAtMicros`: when they were
    /// lost, if known to be earlier than now (reports count the loss in that window).
    public func submit(_ records: [FlowRecord], lost: Int64, overruns: Int64, atMicros now: Int64,
                       lossAtMicros: Int64? = nil) {
        queue.async { [self] in
            pending += records
            pendingLost += lost
            pendingOverruns += overruns
            if lost > 0 || overruns > 0 { pendingLossTime = min(lossAtMicros ?? now, now) }
            writePending()
        }
    }

    /// Queues counter deltas and the absolute reading they bring the log up to.
    public func recordKernelCounts(_ counts: [FlowStore.KernelCount], reading: FlowStore.CounterReading?,
                                   atMicros now: Int64) {
        queue.async { [self] in
            if counts.contains(where: { $0.packets > 0 }) { pendingCounts.append((now, counts)) }
            if let reading { pendingReading = reading }
            writePending()
        }
    }

    private func writePending() {
        do {
            try store.write(pending)
            pending.removeAll(keepingCapacity: true)
        } catch {
            log("writing the flow log failed (\(pending.count) flow record(s) kept in memory, retried next second): \(error)")
        }
        do {
            try store.recordLoss(timeMicros: pendingLossTime, lost: pendingLost, overruns: pendingOverruns)
            pendingLost = 0
            pendingOverruns = 0
        } catch {
            log("storing the lost-event count failed (kept, retried): \(error)")
        }
        guard !pendingCounts.isEmpty || pendingReading != nil else { return }
        do {
            try store.recordKernelCounts(pendingCounts, reading: pendingReading)
            pendingCounts.removeAll()
            pendingReading = nil
        } catch {
            log("storing kernel counters failed (kept, retried): \(error)")
        }
    }

    /// Retention and size cap, one small transaction at a time until done; other writes queued
    /// meanwhile go between the batches. A call while a prune is still running is ignored.
    public func prune(olderThanMicros cutoff: Int64, maxBytes: Int64, batch: Int = 2000) {
        queue.async { [self] in
            guard !pruning else { return }
            pruning = true
            pruneStep(cutoff: cutoff, maxBytes: maxBytes, batch: batch, byAge: true, dropped: 0)
        }
    }

    private func pruneStep(cutoff: Int64, maxBytes: Int64, batch: Int, byAge: Bool, dropped: Int) {
        var byAge = byAge
        var dropped = dropped
        do {
            if byAge {
                if try store.pruneBatch(olderThan: cutoff, batch: batch) < batch { byAge = false }
            } else if let n = try store.pruneToFitBatch(maxBytes: maxBytes, batch: batch), n > 0 {
                dropped += n
            } else {
                if dropped > 0 { log("flow log over log-max-size: dropped the \(dropped) oldest flow(s)") }
                pruning = false
                return
            }
        } catch {
            log("pruning failed: \(error)")
            pruning = false
            return
        }
        // Yield: what was submitted meanwhile is written before the next batch.
        queue.async { [self, byAge, dropped] in
            pruneStep(cutoff: cutoff, maxBytes: maxBytes, batch: batch, byAge: byAge, dropped: dropped)
        }
    }

    /// Waits until every write queued so far has been tried, tries what is still pending once
    /// more, and returns what could not be written.
    public func drain() -> Unwritten {
        queue.sync {
            if !pending.isEmpty || pendingLost > 0 || pendingOverruns > 0 || !pendingCounts.isEmpty || pendingReading != nil {
                writePending()
            }
            return Unwritten(flows: pending.count, kernelCounts: pendingCounts.reduce(0) { $0 + $1.counts.count },
                             lostEvents: pendingLost)
        }
    }

    /// True while a prune is still going through its batches (tests wait on it).
    public var isPruning: Bool { queue.sync { pruning } }
}
