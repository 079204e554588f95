import KernelLayout
import NetAddress
import Netfilter
#if canImport(Glibc)
import Glibc
#endif

/// Addresses learned for catalogued names (the class maps), kept in the state directory so a
/// reboot does not free them: a vendor that once answered with a 1-second TTL must not get its
/// address back unclassified because the station restarted.
///
/// One line per element: `SET ADDRESS MARK EXPIRES-AT-MS NAME`, tab-separated (MARK in hex,
/// EXPIRES-AT in wall-clock milliseconds).
public struct HeldAddresses: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var set: String
        public var element: KernelElement
        /// Wall-clock milliseconds at which the kernel would have let it go.
        public var expiresAtMilliseconds: Int64
    }
    public var entries: [Entry] = []

    public init(entries: [Entry] = []) { self.entries = entries }

    /// The class maps' live elements as read at `nowMilliseconds`.
    public init(sets: [(set: String, elements: [KernelElement])], nowMilliseconds: Int64) {
        for (set, elements) in sets {
            for e in elements where e.key.count == 4 || e.key.count == 16 {
                guard let left = e.expiresMilliseconds, left > 0 else { continue }
                entries.append(Entry(set: set, element: e, expiresAtMilliseconds: nowMilliseconds + Int64(clamping: left)))
            }
        }
    }

    public var text: String {
        entries.map { e in
            let address = IPNetwork(bytes: e.element.key, prefixLength: e.element.key.count * 8)
            let mark = e.element.data.map { d in d.count == 4 ? d.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : 0 } ?? 0
            return [e.set, address.description, String(mark, radix: 16), String(e.expiresAtMilliseconds),
                    e.element.comment ?? ""].joined(separator: "\t")
        }.map { $0 + "\n" }.joined()
    }

    /// Lines that do not parse are skipped (the file is ours, but a torn write must not stop a boot).
    public init(parsing text: String) {
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 5, let address = try? IPNetwork.parse(String(f[1])), address.isHost,
                  let mark = UInt32(f[2], radix: 16), let expires = Int64(f[3]) else { continue }
            let element = KernelElement(key: address.bytes, data: withUnsafeBytes(of: mark) { Array($0) },
                                        comment: f[4].isEmpty ? nil : String(f[4]))
            entries.append(Entry(set: String(f[0]), element: element, expiresAtMilliseconds: expires))
        }
    }

    /// What is still to hold at `nowMilliseconds`, with the time each has left.
    public func remaining(at nowMilliseconds: Int64) -> [Entry] {
        entries.compactMap { e in
            let left = e.expiresAtMilliseconds - nowMilliseconds
            guard left >= 1000 else { return nil }
            var r = e
            r.element.timeoutMilliseconds = UInt64(left)
            return r
        }
    }

    /// Writes `text` to `path` through a temporary file and a rename, so a crash leaves the old
    /// file or the new one, never half of one. nil when written, else why not.
    public static func write(_ text: String, to path: String) -> String? { AtomicFile.write(Array(text.utf8), to: path) }

    public static func read(from path: String) -> HeldAddresses? {
        AtomicFile.read(path).map { HeldAddresses(parsing: String(decoding: $0, as: UTF8.self)) } ?? nil
    }
}
