import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// Names an answer pointed a client to (CNAME and SVCB targets of a catalogued name), with the
/// classes of the name that led there: a client that later asks for the target directly (from
/// its own cache of the CNAME) gets the same treatment, though no catalogue lists the CDN name.
final class AliasTable: @unchecked Sendable {
    struct Entry { var mask: UInt32; var name: String; var expires: UInt64 }
    private let lock = NIOLock()
    private var entries: [String: Entry] = [:]
    private let limit: Int

    init(limit: Int = 100_000) { self.limit = limit }

    func add(_ names: [String], mask: UInt32, name: String, ttlMilliseconds: UInt64) {
        guard mask != 0, !names.isEmpty else { return }
        let now = Learner.nowMilliseconds()
        lock.withLock {
            if entries.count + names.count > limit { entries = entries.filter { $0.value.expires > now } }
            for n in names where entries.count < limit {
                var e = entries[n] ?? Entry(mask: 0, name: name, expires: 0)
                e.mask |= mask
                e.expires = max(e.expires, now + ttlMilliseconds)
                entries[n] = e
            }
        }
    }

    /// The union of the classes any of `names` inherited, with the name it came from.
    func lookup(_ names: [String]) -> (mask: UInt32, name: String?) {
        let now = Learner.nowMilliseconds()
        return lock.withLock {
            var mask: UInt32 = 0
            var from: String?
            for n in names {
                guard let e = entries[n], e.expires > now else { continue }
                mask |= e.mask
                if from == nil { from = e.name }
            }
            return (mask, from)
        }
    }
}
