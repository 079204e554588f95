import Dispatch
import FlowLog

/// Owns every write to the flow log on one serial queue, so the NFLOG reader never waits for
/// SQLite (a large flush or a prune would otherwise let the socket buffer overflow).
/// A batch that fails to write is kept and retried with the next one: nothing is dropped.
final class FlowWriter: @unchecked Sendable {
    private let store: FlowStore
    private let queue = DispatchQueue(label: "dronewalld.flow-writer")
    // Touched only on `queue`.
    private var pending: [FlowRecord] = []
    private var pendingLost: Int64 = 0
    private var pendingOverruns: Int64 = 0

    init(store: FlowStore) { self.store = store }

    /// Queues folded flows and the events lost since the last call.
    func submit(_ records: [FlowRecord], lost: Int64, overruns: Int64, atMicros now: Int64) {
        queue.async { [self] in
            pending += records
            pendingLost += lost
            pendingOverruns += overruns
            do {
                try store.write(pending)
                pending.removeAll(keepingCapacity: true)
                try store.recordLoss(timeMicros: now, lost: pendingLost, overruns: pendingOverruns)
                pendingLost = 0
                pendingOverruns = 0
            } catch {
                log("writing the flow log failed (kept in memory, retried next second): \(error)")
            }
        }
    }

    func recordKernelCounts(_ counts: [FlowStore.KernelCount], atMicros now: Int64) {
        queue.async { [self] in
            do { try store.recordKernelCounts(counts, timeMicros: now) } catch { log("storing kernel counters failed: \(error)") }
        }
    }

    /// Retention and size cap, in small batches on the writer queue.
    func prune(olderThanMicros cutoff: Int64, maxBytes: Int64) {
        queue.async { [self] in
            do {
                _ = try store.prune(olderThan: cutoff, maxBatches: 5)
                let dropped = try store.pruneToFit(maxBytes: maxBytes)
                if dropped > 0 { log("flow log over log-max-size: dropped the \(dropped) oldest flow(s)") }
            } catch { log("pruning failed: \(error)") }
        }
    }

    /// Waits until everything queued is written (or has failed for good); returns what is unwritten.
    func drain() -> Int {
        queue.sync { pending.count }
    }
}
