#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd how the daemon is (sd_notify(3), the datagram protocol of `Type=notify`):
/// READY=1 once the table is in the kernel, WATCHDOG=1 from the main loop, RELOADING=1 and
/// STOPPING=1 around those. Written here in a few lines rather than linking libsystemd.
/// Without $NOTIFY_SOCKET (not started by systemd) every call does nothing.
public final class ServiceNotifier {
    private let fd: Int32
    private let address: [UInt8]
    /// Half the watchdog interval systemd set (WatchdogSec=), in microseconds; nil when none.
    public let watchdogIntervalMicros: Int64?
    private var lastPing: Int64 = 0

    public init(environment: [String: String] = ServiceNotifier.processEnvironment()) {
        let path = environment["NOTIFY_SOCKET"] ?? ""
        // "@name" is an abstract socket; anything else a path (systemd uses /run/systemd/notify).
        if path.hasPrefix("@") {
            address = [0] + Array(path.utf8.dropFirst())
        } else {
            address = Array(path.utf8)
        }
        fd = path.isEmpty ? -1 : socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        // WATCHDOG_PID, when set, names the process the watchdog is for.
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        watchdogIntervalMicros = forUs ? environment["WATCHDOG_USEC"].flatMap { Int64($0) }.map { $0 / 2 } : nil
    }

    deinit { if fd >= 0 { close(fd) } }

    public var isActive: Bool { fd >= 0 }

    /// Sends `state` lines (`READY=1`, `STATUS=...`); false when there is no one to tell or it failed.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard fd >= 0 else { return false }
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: a.sun_path)
        guard address.count < capacity else { return false }
        withUnsafeMutableBytes(of: &a.sun_path) { p in for (i, b) in address.enumerated() { p[i] = b } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count + (address.first == 0 ? 0 : 1))
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent == bytes.count
    }

    /// Pings the watchdog when half its interval has passed since the last ping.
    public func keepAlive(nowMicros: Int64) {
        guard let interval = watchdogIntervalMicros, nowMicros - lastPing >= interval else { return }
        if notify("WATCHDOG=1") { lastPing = nowMicros }
    }

    /// RELOADING=1 carries the monotonic time (systemd 253 and later require it for Type=notify-reload).
    public func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        notify("RELOADING=1\nMONOTONIC_USEC=\(Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)")
    }

    public static func processEnvironment() -> [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }
}
