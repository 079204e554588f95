#if canImport(Glibc)
import Glibc
#endif

/// The daemon's control socket: a Unix stream socket in the abstract namespace.
///
/// Abstract names belong to the network namespace, like the table: one daemon per namespace
/// answers at the same name, a dead daemon leaves no stale file, and labs running side by side in
/// their own namespaces never meet. Having no file mode, access is checked on each connection
/// with the peer's credentials (SO_PEERCRED): root only.
public struct ControlEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The name without the leading NUL.
    public var name: String

    public init(name: String = ControlEndpoint.defaultName) { self.name = name }

    public static let defaultName = "dronewall/control"

    public var description: String { "@\(name)" }

    /// `sockaddr_un` with the abstract name, and its length (the name is not NUL-terminated).
    func withAddress<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(name.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (i, b) in bytes.enumerated() { path[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        return withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

/// Why talking to the daemon failed.
public struct ControlError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ what: String, errno e: Int32 = errno) {
        description = "\(what): \(String(cString: strerror(e)))"
    }
}

/// Reads one line (up to `limit` bytes) from a connected socket whose receive timeout is set.
func readLine(_ fd: Int32, limit: Int = 1 << 20) -> [UInt8]? {
    var line: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while line.count < limit {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return line.isEmpty ? nil : line }
        if let nl = chunk[0..<n].firstIndex(of: 0x0A) {
            line += chunk[0..<nl]
            return line
        }
        line += chunk[0..<n]
    }
    return nil
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return false }
        sent += n
    }
    return true
}

func setTimeout(_ fd: Int32, _ option: Int32, seconds: Int) {
    var t = timeval(tv_sec: seconds, tv_usec: 0)
    _ = setsockopt(fd, SOL_SOCKET, option, &t, socklen_t(MemoryLayout<timeval>.size))
}
