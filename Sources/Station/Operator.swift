import Control
import Crypto
import DronewallConfig
import DronewallPolicy
import KernelLayout
#if canImport(Glibc)
import Glibc
#endif

/// Where an operator's request meets the running station: `dronewall apply`, `reload`, `flush`
/// and `status` through the control socket, and SIGHUP. Each answer is what the command prints
/// and the status it exits with; whatever fails leaves the running table as it was.
public struct Operator {
    public let station: Station
    /// The config and catalogue the daemon applies on reload: its own, or the last applied.
    public private(set) var options: StationOptions
    /// How the table in force came to be, for `status`.
    public private(set) var lastApplied: (how: String, atMicros: Int64)
    /// The files the policy in force was read from.
    public private(set) var sources: LastKnownGood
    /// The last refused apply or reload: when, and its first error (for `status`).
    public private(set) var lastRefusal: String?

    /// `how`: how the policy the station started with came to be, `sources` what it was read from.
    public init(station: Station, options: StationOptions, how: String, sources: LastKnownGood,
                appliedAtMicros: Int64 = systemMicros()) {
        self.station = station
        self.options = options
        self.sources = sources
        lastApplied = (how, appliedAtMicros)
    }

    /// The reply, and whether the daemon should stop now (after a flush).
    public mutating func answer(_ request: ControlRequest) -> (reply: ControlReply, stop: Bool) {
        switch request.command {
        case .apply:
            var asked = options
            if let c = request.config { asked.configPath = c }
            if let c = request.catalogue { asked.catalogueDirectories = c }
            return (apply(asked, how: "by dronewall apply", operation: "apply"), false)
        case .reload:
            return (reload(how: "by dronewall reload"), false)
        case .flush:
            return flush()
        case .status:
            return (status(), false)
        }
    }

    /// Reads the daemon's config and catalogue again and applies them (SIGHUP, `dronewall reload`).
    public mutating func reload(how: String = "on SIGHUP") -> ControlReply {
        apply(options, how: how, operation: "reload")
    }

    mutating func apply(_ asked: StationOptions, how: String, operation: String) -> ControlReply {
        let reply = attempt(asked, how: how, operation: operation)
        if reply.exitCode != 0 {
            let first = reply.errors.split(separator: "\n").first { $0.contains("error") || $0.contains("refused") }
                ?? reply.errors.split(separator: "\n").first ?? "?"
            lastRefusal = "\(isoTime(micros: systemMicros())) \(how) from \(asked.configPath): \(first); the rules stayed as they were"
        }
        return reply
    }

    mutating func attempt(_ asked: StationOptions, how: String, operation: String) -> ControlReply {
        let started = monotonicMicros()
        let (loaded, sources) = asked.loadKeepingSources()
        let compiled = monotonicMicros()
        let diagnostics = loaded.diagnostics.rendered
        guard let snapshot = loaded.snapshot else {
            return ControlReply(exitCode: 65, errors: diagnostics
                                + "dronewall \(operation): \(loaded.diagnostics.errors.count) error(s); nothing was applied, "
                                + "the running table is unchanged\n")
        }
        do {
            let applied = try station.apply(snapshot)
            var notes = diagnostics
            if asked.configPath != options.configPath {
                notes += "dronewall \(operation): dronewalld now enforces \(asked.configPath) (its own --config is "
                    + "\(options.configPath), which a restart of dronewalld applies again)\n"
            }
            options = asked
            self.sources = sources
            lastApplied = ("\(how) from \(asked.configPath)", systemMicros())
            if let problem = sources.write(to: asked.lastKnownGoodPath) { notes += "dronewalld: \(problem)\n" }
            return ControlReply(exitCode: 0, output: summary(applied) + "\n"
                                + "read and compiled in \(milliseconds(compiled - started)); in force \(milliseconds(station.lastApplyMicros)) later\n", errors: notes)
        } catch {
            guard case let .kernel(_, netlink) = error else {
                return ControlReply(exitCode: error.exitCode, errors: diagnostics + "dronewall \(operation): \(error)\n")
            }
            let (text, code) = KernelRefusal.describe(netlink, operation: operation, sources: loaded.diagnostics)
            return ControlReply(exitCode: code, errors: diagnostics + text)
        }
    }

    /// The line `dronewall apply` prints.
    func summary(_ applied: Station.Applied) -> String {
        switch applied {
        case let .replaced(carried): return station.snapshot.appliedSummary(carried: carried)
        case let .changed(objects): return station.snapshot.appliedSummary(changedInPlace: objects)
        }
    }

    /// Deletes the table and stops the daemon: nothing is enforced until it starts again.
    func flush() -> (reply: ControlReply, stop: Bool) {
        do {
            let existed = try station.flush()
            let what = existed ? "deleted table inet \(KernelLayout.tableName)" : "table inet \(KernelLayout.tableName) was not present"
            return (ControlReply(exitCode: 0, output: what + "; dronewalld stopped (start it to enforce again)\n"), true)
        } catch {
            guard case let .kernel(_, netlink) = error else { return (ControlReply(exitCode: 1, errors: "\(error)\n"), false) }
            return (ControlReply(exitCode: KernelRefusal.describe(netlink, operation: "flush", sources: nil).exitCode,
                                 errors: KernelRefusal.describe(netlink, operation: "flush", sources: nil).text), false)
        }
    }

    func status() -> ControlReply {
        let s = DaemonStatus(pid: getpid(), tableOwner: station.ownsTable ? "dronewalld" : "none", applied: lastApplied.how,
                             appliedAt: isoTime(micros: lastApplied.atMicros), config: options.configPath,
                             foreignChanges: station.foreignChangeCount, lastForeignChange: station.lastForeignChange,
                             sources: sources.files.sorted { $0.key < $1.key }.map { path, bytes in
                                 .init(path: path, bytes: bytes.count, sha256: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
                             }, lastRefusal: lastRefusal)
        return ControlReply(exitCode: 0, output: s.text, status: s)
    }
}

/// Microseconds of a monotonic clock: for how long something took.
func monotonicMicros() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000 + Int64(t.tv_nsec) / 1000
}

/// `1.25 ms`, `340 ms`: a duration as people read it.
func milliseconds(_ micros: Int64) -> String {
    micros < 10_000 ? "\(micros / 1000).\(String(format: "%02d", micros % 1000 / 10)) ms" : "\(micros / 1000) ms"
}

/// UTC time as ISO 8601, seconds.
public func isoTime(micros: Int64) -> String {
    var t = time_t(micros / 1_000_000)
    var parts = tm()
    gmtime_r(&t, &parts)
    var buffer = [CChar](repeating: 0, count: 32)
    let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
