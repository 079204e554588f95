import Netfilter
#if canImport(Glibc)
import Glibc
#endif

/// The set elements of one table, kept in memory the way the kernel keeps them, behind a
/// transport: element batches are applied all or nothing, and element dumps are answered.
/// Enough of the kernel for the station resolver's learner, without root.
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
    let table: String

    public init(table: String = "dronewall") { self.table = table }

    /// The element `key` of `set`, if held.
    public func element(_ set: String, _ key: [UInt8]) -> KernelElement? { sets[set]?[key] }

    /// Puts an element in place, as if written earlier (by a previous daemon, or someone else).
    public func hold(_ set: String, _ element: KernelElement) {
        var e = element
        if e.expiresMilliseconds == nil { e.expiresMilliseconds = e.timeoutMilliseconds }  // the kernel reports time left
        sets[set, default: [:]][element.key] = e
    }

    public func sendBatch(_ messages: [NetlinkMessage]) throws(NetlinkError) -> [NetlinkAck] {
        var working = sets
        var changes: [Change] = []
        var failure: (sequence: UInt32, errno: Int32)?
        for m in messages {
            guard let (set, elements) = ElementCodec.decode(m) else { continue }
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
        return messages.filter(\.wantsAck).map { NetlinkAck(sequence: $0.sequence) }
    }

    public func request(_ message: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] {
        guard let (set, _) = ElementCodec.decode(message), let held = sets[set] else {
            throw NetlinkError(kind: .rejected, errno: ENOENT, operation: "request")
        }
        let elements = held.values.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        return [ElementCodec.reply(table: table, set: set, elements: elements, sequence: message.sequence)]
    }
}
