import Netfilter
#if canImport(Glibc)
import Glibc
#endif

/// The set elements of one table, kept in memory the way the kernel keeps them, behind a
/// transport: element batches are applied all or nothing, and element dumps are answered.
/// Enough of the kernel for the station resolver's learner, without root.
///
/// It also keeps the ruleset generation as the kernel does: every committed batch (and every
/// `hold`) bumps it, NFT_MSG_GETGEN reads it, and a batch whose begin carries another one is
/// refused whole with ERESTART on batch begin. A batch that deletes the table empties every set
/// and NEWSET declares an empty one, so `apply` replaces what it holds. Interval sets are not
/// modelled (their end markers would be held as elements).
public final class FakeSetKernel: NetlinkTransport {
    /// One element change as the kernel received it.
    public struct Change: Sendable, Hashable {
        public enum Op: Sendable, Hashable { case add, delete }
        public var op: Op
        public var set: String
        public var element: KernelElement
    }

    /// Elements by set, then by key.
    public private(set) var sets: [String: [[UInt8]: KernelElement]] = [:]
    /// Every batch received, decoded, in order (refused ones too).
    public private(set) var batches: [[Change]] = []
    /// Batches refused (their index in `batches`).
    public private(set) var refused: [Int] = []
    /// Keys whose adds the kernel refuses with this errno, until the entry is removed.
    public var refuseAdds: [[UInt8]: Int32] = [:]
    /// The ruleset generation now (the kernel starts at 1 and never uses 0).
    public private(set) var generation: UInt32 = 1
    /// The NFNL_BATCH_GENID each batch carried (nil: none), in the order of `batches`.
    public private(set) var batchGenerations: [UInt32?] = []
    /// Batches refused for a stale generation (their index in `batches`).
    public private(set) var staleRefused: [Int] = []
    /// Sets dumped, in order, and generation reads: what a test counts to see a redump.
    public private(set) var dumps: [String] = []
    public private(set) var generationReads = 0
    /// Elements another socket commits just before each of the next batches arrives, one write
    /// per batch, in order: the learner winning the race against a batch already built.
    public var racingWrites: [(set: String, element: KernelElement)] = []
    let table: String

    public init(table: String = "dronewall") { self.table = table }

    /// The element `key` of `set`, if held.
    public func element(_ set: String, _ key: [UInt8]) -> KernelElement? { sets[set]?[key] }

    /// Puts an element in place, as if written earlier (by a previous daemon, or someone else).
    /// Like any commit, it bumps the generation.
    public func hold(_ set: String, _ element: KernelElement) {
        var e = element
        if e.expiresMilliseconds == nil { e.expiresMilliseconds = e.timeoutMilliseconds }  // the kernel reports time left
        sets[set, default: [:]][element.key] = e
        bumpGeneration()
    }

    private func bumpGeneration() {
        generation = generation == UInt32.max ? 1 : generation + 1  // 0 means "no check" to the kernel
    }

    public func sendBatch(_ messages: [NetlinkMessage]) throws(NetlinkError) -> [NetlinkAck] {
        if !racingWrites.isEmpty {
            let w = racingWrites.removeFirst()
            hold(w.set, w.element)
        }
        let begin = messages.first { $0.kind == .batchBegin }
        let carried = begin.flatMap(GenerationCodec.generation(ofBatchBegin:))
        batchGenerations.append(carried)
        // The kernel checks the generation before any message: the batch is refused unread.
        if let begin, let carried, carried != 0, carried != generation {
            batches.append([])
            staleRefused.append(batches.count - 1)
            refused.append(batches.count - 1)
            return [NetlinkAck(sequence: begin.sequence, errno: ERESTART)]
        }
        var working = sets
        var changes: [Change] = []
        var failure: (sequence: UInt32, errno: Int32)?
        var wrote = false
        for m in messages {
            if m.kind == .deleteTable {
                working = [:]
                wrote = true
                continue
            }
            if let set = ElementCodec.declaredSet(m) {
                working[set] = working[set] ?? [:]
                wrote = true
                continue
            }
            guard let (set, elements) = ElementCodec.decode(m) else { continue }
            wrote = wrote || !elements.isEmpty
            for e in elements {
                let delete = m.kind == .deleteSetElement
                changes.append(Change(op: delete ? .delete : .add, set: set, element: e))
                guard failure == nil else { continue }  // recorded, but the batch is lost already
                if delete {
                    // The kernel refuses to delete what it does not hold.
                    if working[set]?.removeValue(forKey: e.key) == nil { failure = (m.sequence, ENOENT) }
                } else if let errno = refuseAdds[e.key] {
                    failure = (m.sequence, errno)
                } else if let held = working[set]?[e.key], held.data != e.data {
                    failure = (m.sequence, EEXIST)  // another value under the same key
                } else if working[set]?[e.key] == nil {
                    var stored = e
                    stored.expiresMilliseconds = e.timeoutMilliseconds
                    working[set, default: [:]][e.key] = stored
                } // the same element again: a no-op, as in the kernel (its timeout is not refreshed)
            }
        }
        batches.append(changes)
        if let failure {
            refused.append(batches.count - 1)
            return messages.filter(\.wantsAck).map {
                NetlinkAck(sequence: $0.sequence, errno: $0.sequence == failure.sequence ? failure.errno : 0)
            }
        }
        sets = working
        if wrote { bumpGeneration() }
        return messages.filter(\.wantsAck).map { NetlinkAck(sequence: $0.sequence) }
    }

    public func request(_ message: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] {
        if GenerationCodec.isRequest(message) {
            generationReads += 1
            return [GenerationCodec.reply(generation: generation, sequence: message.sequence)]
        }
        guard let (set, _) = ElementCodec.decode(message), let held = sets[set] else {
            throw NetlinkError(kind: .rejected, errno: ENOENT, operation: "request")
        }
        dumps.append(set)
        let elements = held.values.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        return [ElementCodec.reply(table: table, set: set, elements: elements, sequence: message.sequence)]
    }
}
