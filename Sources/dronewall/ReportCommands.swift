import ArgumentParser
import DronewallConfig
import FlowLog
#if canImport(Glibc)
import Glibc
#endif

/// Where the flow log lives; shared by report and log.
struct DatabaseOption: ParsableArguments {
    @Option(help: ArgumentHelp("The flow log database written by dronewalld.", valueName: "path"))
    var db: String = FlowStore.defaultPath

    /// Opens the log read-only; unreadable or missing files become clear messages.
    func open() throws -> FlowStore {
        let dir = db.contains("/") ? String(db[..<db.lastIndex(of: "/")!]) : "."
        if access(dir.isEmpty ? "/" : dir, X_OK) != 0 && errno == EACCES {
            printStderr("dronewall: cannot read \(db): permission denied. Reports are for root and members "
                        + "of group 'dronewall' (ask an admin: usermod -aG dronewall \(userName()))\n")
            throw ExitCode(ExitCodes.noPermission)
        }
        if access(db, F_OK) != 0 {
            printStderr("dronewall: no flow log at \(db) (dronewalld writes it; is it running?)\n")
            throw ExitCode(ExitCodes.notFound)
        }
        if access(db, R_OK) != 0 {
            printStderr("dronewall: cannot read \(db): permission denied. Reports are for root and members "
                        + "of group 'dronewall' (ask an admin: usermod -aG dronewall \(userName()))\n")
            throw ExitCode(ExitCodes.noPermission)
        }
        do {
            return try FlowStore(readOnlyPath: db)
        } catch {
            throw fail(error)
        }
    }

    /// Runs a query on the log; failures become messages with the fitting exit code.
    func read<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ExitCode { throw e } catch { throw fail(error) }
    }

    private func fail(_ error: any Error) -> ExitCode {
        switch FlowLogProblem(error) {
        case .notPermitted:
            printStderr("dronewall: cannot open \(db): permission denied (\(error))\n")
            return ExitCode(ExitCodes.noPermission)
        case .notAFlowLog:
            printStderr("dronewall: \(db) is not a dronewall flow log\n")
            return ExitCode(ExitCodes.dataError)
        case .empty:
            printStderr("dronewall: the flow log \(db) is empty: dronewalld has not written to it yet\n")
            return ExitCode(ExitCodes.notFound)
        case let .other(message):
            printStderr("dronewall: reading \(db) failed: \(message)\n")
            return ExitCode(ExitCodes.failure)
        }
    }

    func userName() -> String {
        guard let pw = getpwuid(getuid()), let name = pw.pointee.pw_name else { return "USER" }
        return String(cString: name)
    }
}

func nowMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Report blocked flows: which drone tried to send what to which vendor, how often, when.",
        discussion: """
        Reads the flow log (read-only; root or group 'dronewall'). Times are UTC. --since/--until take a \
        duration back from now (90s, 15m, 24h, 7d, 2w) or an ISO 8601 time (2026-11-25, 2026-11-25T12:00:00Z). \
        Without --by, every flow record is listed; with --by, flows are summed per group. Every report states \
        how many events the log lost in the window and the kernel's exact totals: table and html in their \
        header, csv and json (which carry only rows) on standard error.
        """)

    @Option(help: "Start of the window (default: 24h).") var since: String = "24h"
    @Option(help: "End of the window (default: now).") var until: String?
    @Option(help: "Only this drone (repeatable).") var drone: [String] = []
    @Option(help: "Only this vendor id (repeatable).") var vendor: [String] = []
    @Option(help: "Only this category or reason (repeatable).") var category: [String] = []
    @Option(help: ArgumentHelp("Group by drone, vendor, category, destination or day (repeatable or comma-separated).",
                               valueName: "dimension"))
    var by: [String] = []
    @Option(help: "table, csv, json or html.") var format: String = "table"
    @OptionGroup var database: DatabaseOption

    func run() throws {
        let now = nowMicros()
        var q = ReportQuery()
        guard let s = TimeText.parse(since, nowMicros: now) else { throw ValidationError("--since: cannot read '\(since)'") }
        q.sinceMicros = s
        if let until {
            guard let u = TimeText.parse(until, nowMicros: now) else { throw ValidationError("--until: cannot read '\(until)'") }
            q.untilMicros = u
        }
        if s >= (q.untilMicros ?? now) {
            throw ValidationError("--since (\(since)) must be before --until (\(until ?? "now"))")
        }
        q.drones = drone
        q.vendors = vendor
        q.categories = category
        for word in by.flatMap({ $0.split(separator: ",") }) {
            guard let d = ReportQuery.Dimension(rawValue: String(word)) else {
                throw ValidationError("--by: unknown dimension '\(word)' (drone, vendor, category, destination, day)")
            }
            q.groupBy.append(d)
        }
        guard let fmt = ReportFormat(rawValue: format) else {
            throw ValidationError("--format: one of table, csv, json, html")
        }
        let store = try database.open()
        // DRONEWALL_REPORT_RAW=1 sums raw rows instead of the hourly rollups (bench/flowlog.py compares the two).
        let raw = getenv("DRONEWALL_REPORT_RAW").map { String(cString: $0) == "1" } ?? false
        let report = try database.read {
            try store.report(q, nowMicros: now, withRows: q.groupBy.isEmpty || fmt == .html, useRollups: !raw,
                             withBuckets: fmt == .html)
        }
        print(ReportRenderer.render(report, as: fmt), terminator: "")
        // csv and json stay machine-readable: their summary (window, loss, kernel totals) goes to stderr.
        if fmt == .csv || fmt == .json { printStderr(ReportRenderer.summaryLine(report)) }
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show recent blocked flows, newest last; --follow keeps printing them as they happen.",
        discussion: "A flow that keeps trying is printed again with its updated counts.")

    @Option(help: "How many recent flows to show first.") var lines: Int = 20
    @Flag(help: "Keep printing new and updated flows.") var follow = false
    @Option(help: "With --follow: seconds between polls (0.1 to 3600).") var interval: Double = 1
    @OptionGroup var database: DatabaseOption

    func validate() throws {
        guard lines >= 0 else { throw ValidationError("--lines: 0 or more") }
        guard interval.isFinite, (0.1...3600).contains(interval) else {
            throw ValidationError("--interval: between 0.1 and 3600 seconds")
        }
    }

    func run() throws {
        let store = try database.open()
        var watermark: Int64 = 0
        for row in try database.read({ try store.recent(limit: lines) }) {
            print(row.logLine)
            watermark = max(watermark, row.lastSeen)
        }
        guard follow else { return }
        while true {
            var pause = timespec(tv_sec: Int(interval), tv_nsec: Int((interval - interval.rounded(.down)) * 1e9))
            var rest = timespec()
            while nanosleep(&pause, &rest) != 0 && errno == EINTR { pause = rest }
            for row in try database.read({ try store.seen(after: watermark) }) {
                print(row.logLine)
                watermark = max(watermark, row.lastSeen)
            }
            fflushStdout()
        }
    }
}

/// Flushes stdout so `log --follow | grep` sees lines as they come.
func fflushStdout() { fflush(nil) }
