import Control
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The notify protocol against a datagram socket standing in for systemd.
@Suite struct ServiceNotifierTests {
    /// A bound datagram socket at `path` (a file path, or "@name" for an abstract one).
    final class FakeSystemd {
        let fd: Int32
        init(_ path: String) {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            let bytes = path.hasPrefix("@") ? [0] + Array(path.utf8.dropFirst()) : Array(path.utf8)
            withUnsafeMutableBytes(of: &a.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
            let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (path.hasPrefix("@") ? 0 : 1))
            _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
            var t = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(fd) }
        /// Every message waiting.
        func received() -> [String] {
            var out: [String] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { return out }
                out.append(String(decoding: buffer[0..<n], as: UTF8.self))
            }
        }
    }

    @Test func readyWatchdogAndReloadReachTheServiceManager() {
        let path = "/tmp/dw-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        let systemd = FakeSystemd(path)
        let n = ServiceNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"])
        #expect(n.watchdogIntervalMicros == 1_000_000, "pings at half the interval systemd set")
        #expect(n.notify("READY=1\nSTATUS=enforcing"))
        n.keepAlive(nowMicros: 1_000_000)
        n.keepAlive(nowMicros: 1_500_000)  // too soon: nothing
        n.keepAlive(nowMicros: 2_000_000)
        n.reloading()
        let got = systemd.received()
        #expect(Array(got.prefix(3)) == ["READY=1\nSTATUS=enforcing", "WATCHDOG=1", "WATCHDOG=1"])
        #expect(got.count == 4 && got[3].hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
    }

    @Test func anAbstractSocketNameWorksToo() {
        let name = "@dw-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let systemd = FakeSystemd(name)
        #expect(ServiceNotifier(environment: ["NOTIFY_SOCKET": name]).notify("READY=1"))
        #expect(systemd.received() == ["READY=1"])
    }

    @Test func withoutSystemdNothingIsSentAndNoWatchdogRuns() {
        let n = ServiceNotifier(environment: [:])
        #expect(!n.isActive && !n.notify("READY=1") && n.watchdogIntervalMicros == nil)
        let other = ServiceNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"])
        #expect(other.watchdogIntervalMicros == nil || getpid() == 1, "the watchdog of another process")
    }
}
