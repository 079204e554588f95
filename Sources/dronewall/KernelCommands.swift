import ArgumentParser
import DronewallConfig
import DronewallPolicy
import FlowLog
#if canImport(Glibc)
import Glibc
#endif
import Control
import Netfilter
import NftModel
import KernelLayout

/// Opens the kernel connection; a missing CAP_NET_ADMIN becomes exit 77 with a clear message.
/// With `sources` (the diagnostics the config was read with), an error that names the config
/// place of the refused object shows that line with a caret, like a config error.
func withKernel<T>(_ operation: String, sources: Diagnostics? = nil,
                   _ body: (NftablesClient) throws(NetlinkError) -> T) throws -> T {
    do {
        let client = NftablesClient(transport: try KernelTransport(), table: KernelLayout.tableName)
        return try body(client)
    } catch {
        let (text, code) = KernelRefusal.describe(error, operation: operation, sources: sources)
        printStderr(text)
        throw ExitCode(code)
    }
}

/// Asks the running dronewalld (it alone may change the table it owns); nil when none answers in
/// this network namespace, and the command works on the kernel itself.
func askDaemon(_ request: ControlRequest, _ operation: String) throws -> ControlReply? {
    do {
        return try ControlClient.ask(request)
    } catch {
        printStderr("dronewall \(operation): \(error)\n")
        throw ExitCode(ExitCodes.failure)
    }
}

/// Prints the daemon's answer as this command's own, and exits with its status.
func relay(_ reply: ControlReply) throws {
    if !reply.output.isEmpty { print(reply.output, terminator: "") }
    printStderr(reply.errors)
    if reply.exitCode != 0 { throw ExitCode(reply.exitCode) }
}

/// `path` from the caller's directory (the daemon reads it from its own).
func absolute(_ path: String) -> String {
    guard !path.hasPrefix("/"), let cwd = getcwd(nil, 0) else { return path }
    defer { free(cwd) }
    return String(cString: cwd) + "/" + path
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile the config and replace table inet dronewall in one atomic netlink batch.",
        discussion: """
        The batch deletes and recreates the table in one transaction, so there is never a moment \
        without rules, and the kernel commits all of it or nothing: a refused batch, or a config with \
        errors, leaves the running table as it was. Addresses the station resolver learned are carried \
        into the new table with their remaining time.

        While dronewalld runs, it applies (it alone may change the table it owns): this command sends it \
        the config and catalogue paths, prints its answer and exits with its status, and the daemon \
        enforces that config from then on. Without a daemon the command writes the kernel itself. \
        Needs root (exit 77 without).
        """)

    @OptionGroup var source: SourceOptions

    func run() throws {
        let request = ControlRequest(.apply, config: absolute(source.config),
                                     catalogue: source.catalogue.isEmpty ? nil : source.catalogue.map(absolute))
        if let reply = try askDaemon(request, "apply") { return try relay(reply) }
        let (loaded, diagnostics) = try Loading.load(source)
        var applied = loaded
        let carried = try withKernel("apply", sources: diagnostics) { client throws(NetlinkError) in
            // Never the running table's generation for another policy (see avoidingGeneration).
            applied = loaded.avoidingGeneration(of: try client.status()?.comment)
            return try client.apply(applied.ruleset, carryingLearnedElements: true)
        }
        print(applied.appliedSummary(carried: carried))
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask dronewalld to read its config and catalogue again and apply them.",
        discussion: """
        The same as `systemctl reload dronewalld` (SIGHUP), but with the answer: applied, or refused \
        with the config errors (exit 65) or the kernel's reason, the running table unchanged. Needs a \
        running dronewalld and root.
        """)

    func run() throws {
        guard let reply = try askDaemon(ControlRequest(.reload), "reload") else {
            printStderr("dronewall reload: dronewalld is not running here; use dronewall apply\n")
            throw ExitCode(ExitCodes.failure)
        }
        try relay(reply)
    }
}

struct Flush: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete table inet dronewall (and nothing else).",
        discussion: """
        After a flush nothing is enforced until the next apply. While dronewalld runs it deletes the \
        table and stops (start it again to enforce). With `apt purge`, the only way the table goes. \
        Needs root or CAP_NET_ADMIN.
        """)

    func run() throws {
        if let reply = try askDaemon(ControlRequest(.flush), "flush") { return try relay(reply) }
        let existed = try withKernel("flush") { client throws(NetlinkError) in
            try client.flush()
        }
        print(existed ? "deleted table inet \(KernelLayout.tableName)" : "table inet \(KernelLayout.tableName) was not present")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what is enforced: table, drones, set sizes, kernel counters of blocked packets.",
        discussion: """
        Also shows the flow log's lost-event count of the last 24 hours when the log is readable. Exit 0 when \
        table inet dronewall is present, 1 when nothing is enforced. Needs root or CAP_NET_ADMIN.
        """)

    @Option(help: ArgumentHelp("The flow log database written by dronewalld.", valueName: "path"))
    var db: String = FlowStore.defaultPath

    func run() throws {
        let status = try withKernel("status") { client throws(NetlinkError) in
            try client.status()
        }
        guard let status else {
            print("table inet \(KernelLayout.tableName): not present — nothing is enforced")
            throw ExitCode(ExitCodes.notFound)
        }
        print(StatusReport.render(status))
        if getuid() == 0, let daemon = try? ControlClient.ask(ControlRequest(.status), timeoutSeconds: 10) {
            print("\n" + daemon.output, terminator: "")
        } else {
            print("\ndronewalld: not answering here (not running, or not root)")
        }
        if access(db, R_OK) == 0, let store = try? FlowStore(readOnlyPath: db),
           let loss = try? store.lossSince(nowMicros() - 86_400_000_000) {
            print("\nflow log \(db): \(loss.lost) lost event(s) in the last 24h"
                  + (loss.overruns > 0 ? ", \(loss.overruns) receive-buffer overrun(s)" : ""))
        } else {
            print("\nflow log \(db): not readable here (is dronewalld running?)")
        }
    }
}

/// Text of `dronewall status`.
enum StatusReport {
    static func render(_ s: TableStatus) -> String {
        var out = "table inet \(s.name): enforced\n"
        out += "catalogue: \(KernelLayout.catalogueVersion(inComment: s.comment) ?? "unknown (applied by an older dronewall)")\n"
        let hooks = s.chains.compactMap { c in c.hook.map { "\($0.rawValue) (chain \(c.name))" } }
        out += "hooks: \(hooks.isEmpty ? "none" : hooks.joined(separator: ", "))\n"
        let drones = s.chains.compactMap { KernelLayout.drone(ofChain: $0.name) }
        out += "drones (\(drones.count)): \(drones.joined(separator: " "))\n"
        let learned = [KernelLayout.learnedV4, KernelLayout.learnedV6].map { name in
            s.sets.first { $0.name == name }?.elementCount ?? 0
        }
        out += "learned addresses (held for catalogued names): \(learned[0] + learned[1]) "
            + "(IPv4 \(learned[0]), IPv6 \(learned[1]))\n"
        out += "\nsets and maps:\n"
        for set in s.sets { out += "  \(pad(set.name, 36)) \(set.elementCount) element(s)\n" }
        // Counters of blocking rules, by drone and reason, from the log prefixes.
        // Rules of one drone and reason (IPv4 and IPv6 host sets) are summed into one row.
        var rows: [(drone: String, reason: String, packets: UInt64, bytes: UInt64, verdict: LogVerdict)] = []
        for chain in s.chains {
            for rule in chain.rules {
                guard let text = rule.logPrefix, let p = LogPrefix(parsing: text) else { continue }
                let name = p.drone == KernelLayout.unknownDroneWord ? "(unknown devices)" : p.drone
                let reason = p.verdict == .wouldBlock ? "\(p.reason) (would-block)" : p.reason.word
                if let i = rows.firstIndex(where: { $0.drone == name && $0.reason == reason }) {
                    rows[i].packets += rule.packets ?? 0
                    rows[i].bytes += rule.bytes ?? 0
                } else {
                    rows.append((name, reason, rule.packets ?? 0, rule.bytes ?? 0, p.verdict))
                }
            }
        }
        out += "\nblocked by the kernel (counters since apply):\n"
        out += "  \(pad("drone", 24)) \(pad("reason", 26)) \(lpad("packets", 10)) \(lpad("bytes", 12))\n"
        let hits = rows.filter { $0.packets > 0 }
        for r in hits {
            out += "  \(pad(r.drone, 24)) \(pad(r.reason, 26)) \(lpad(String(r.packets), 10)) \(lpad(String(r.bytes), 12))\n"
        }
        if hits.isEmpty { out += "  (none yet; \(rows.count) counting rules in place)\n" }
        let blocked = rows.filter { $0.verdict == .blocked }
        let total = blocked.reduce((UInt64(0), UInt64(0))) { ($0.0 + $1.packets, $0.1 + $1.bytes) }
        out += "  \(pad("total blocked", 24)) \(pad("", 26)) \(lpad(String(total.0), 10)) \(lpad(String(total.1), 12))"
        return out
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    static func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
}
