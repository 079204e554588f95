#if canImport(Glibc)
import Glibc
#endif
import Netfilter

/// A transport that also writes every batch it sends, byte for byte as it goes on the socket, to
/// a file: `DRONEWALL_BATCH_DUMP=FILE dronewall apply ...`. For bench/apply-scale.sh, which
/// replays the file on a raw netlink socket to time the kernel's own share of an apply. Without
/// the variable the kernel transport is used as it is.
final class BatchDumpTransport: NetlinkTransport {
    static let variable = "DRONEWALL_BATCH_DUMP"
    private let inner: NetlinkTransport
    private let path: String

    /// `inner` itself when the variable is unset or empty.
    static func wrapping(_ inner: NetlinkTransport) -> NetlinkTransport {
        guard let p = getenv(variable), p.pointee != 0 else { return inner }
        return BatchDumpTransport(inner, path: String(cString: p))
    }

    private init(_ inner: NetlinkTransport, path: String) { (self.inner, self.path) = (inner, path) }

    func sendBatch(_ messages: [NetlinkMessage]) throws(NetlinkError) -> [NetlinkAck] {
        // Written before sending, so a refused batch can be replayed too; the last batch wins. The
        // copy is gone before the kernel transport makes its own, so peak memory stays as without.
        let written = NetlinkMessage.batchBytes(messages).withUnsafeBytes { raw -> Bool in
            guard let f = fopen(path, "wb") else { return false }
            defer { fclose(f) }
            return fwrite(raw.baseAddress, 1, raw.count, f) == raw.count
        }
        if !written {
            throw NetlinkError(kind: .system, errno: errno, operation: "dump batch", detail: "cannot write \(path)")
        }
        return try inner.sendBatch(messages)
    }

    func request(_ message: NetlinkMessage) throws(NetlinkError) -> [NetlinkMessage] {
        try inner.request(message)
    }
}
