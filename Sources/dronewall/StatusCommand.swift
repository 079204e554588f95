import ArgumentParser
import Control
import FlowLog
import Foundation
import KernelLayout
import Netfilter
#if canImport(Glibc)
import Glibc
#endif

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what is enforced: table, drones, set sizes, kernel counters, the daemon and the flow log.",
        discussion: """
        The table as the kernel holds it (generation, policy fingerprint, catalogue version, drones, learned \
        addresses, sets, counters of blocked packets); the running dronewalld (pid, who owns the table, when \
        and how it was applied, its config, other programs' changes it saw); the flow log's lost events of \
        the last 24 hours. Exit 0 when table inet dronewall is present, 1 when nothing is enforced. Needs \
        root (or CAP_NET_ADMIN for the table alone).
        """)

    @Option(help: ArgumentHelp("The flow log database written by dronewalld.", valueName: "path"))
    var db: String = FlowStore.defaultPath

    @Option(help: "text or json.") var format: String = "text"

    func run() throws {
        guard format == "text" || format == "json" else { throw ValidationError("--format: text or json") }
        let table = try withKernel("status") { client throws(NetlinkError) in
            try client.status()
        }
        let daemon = getuid() == 0 ? (try? ControlClient.ask(ControlRequest(.status), timeoutSeconds: 10))??.status : nil
        var log: StatusFacts.FlowLogHealth?
        if access(db, R_OK) == 0, let store = try? FlowStore(readOnlyPath: db),
           let loss = try? store.lossSince(nowMicros() - 86_400_000_000) {
            log = .init(path: db, lostEventsLast24h: loss.lost, overrunsLast24h: loss.overruns)
        }
        let facts = StatusFacts(table: table.map(StatusFacts.Table.init), daemon: daemon, flowLog: log)
        if format == "json" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(facts), as: UTF8.self))
        } else {
            print(facts.text, terminator: "")
        }
        if table == nil { throw ExitCode(ExitCodes.notFound) }
    }
}

/// Everything `status` reports, for text and JSON alike.
struct StatusFacts: Encodable {
    struct Table: Encodable {
        var name: String
        var generation: String?
        var policy: String?
        var catalogue: String?
        var hooks: [String]
        var drones: [String]
        var learnedIPv4: Int
        var learnedIPv6: Int
        var sets: [String: Int]
        var counters: [Counter]

        struct Counter: Encodable {
            var drone: String
            var reason: String
            var verdict: String
            var packets: UInt64
            var bytes: UInt64
        }

        init(_ s: TableStatus) {
            name = s.name
            let comment = PolicyComment(chainComment: s.chainComments[KernelLayout.policyChain], tableComment: s.comment)
            generation = comment.map { String(format: "0x%04x", $0.generation >> 16) }
            policy = comment?.policy.map { String(format: "%016llx", $0) }
            catalogue = comment?.catalogue
            hooks = s.chains.compactMap { c in c.hook.map { "\($0.rawValue) (chain \(c.name))" } }
            drones = s.chains.compactMap { KernelLayout.drone(ofChain: $0.name) }
            let count = { (n: String) in s.sets.first { $0.name == n }?.elementCount ?? 0 }
            learnedIPv4 = count(KernelLayout.learnedV4)
            learnedIPv6 = count(KernelLayout.learnedV6)
            sets = Dictionary(s.sets.map { ($0.name, $0.elementCount) }, uniquingKeysWith: +)
            // Counters of blocking rules, by drone and reason, from the log prefixes; rules of one
            // drone and reason (IPv4 and IPv6) are summed into one row.
            var rows: [Counter] = []
            for rule in s.chains.flatMap(\.rules) {
                guard let text = rule.logPrefix, let p = LogPrefix(parsing: text) else { continue }
                let drone = p.drone == KernelLayout.unknownDroneWord ? "(unknown devices)" : p.drone
                if let i = rows.firstIndex(where: { $0.drone == drone && $0.reason == p.reason.word && $0.verdict == p.verdict.rawValue }) {
                    rows[i].packets += rule.packets ?? 0
                    rows[i].bytes += rule.bytes ?? 0
                } else {
                    rows.append(Counter(drone: drone, reason: p.reason.word, verdict: p.verdict.rawValue,
                                        packets: rule.packets ?? 0, bytes: rule.bytes ?? 0))
                }
            }
            counters = rows
        }
    }

    struct FlowLogHealth: Encodable {
        var path: String
        var lostEventsLast24h: Int64
        var overrunsLast24h: Int64
    }

    /// nil: nothing is enforced.
    var table: Table?
    /// nil: no daemon answered (not running, or not root).
    var daemon: DaemonStatus?
    /// nil: the flow log is not readable here.
    var flowLog: FlowLogHealth?

    enum CodingKeys: String, CodingKey { case table, daemon, flowLog }

    /// Absent parts as null, so a reader sees "nothing enforced" rather than a missing key.
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(table, forKey: .table)
        try c.encode(daemon, forKey: .daemon)
        try c.encode(flowLog, forKey: .flowLog)
    }

    var text: String {
        var out = ""
        if let t = table {
            out += "table inet \(t.name): enforced\n"
            out += "generation: \(t.generation ?? "unknown")" + (t.policy.map { ", policy \($0)" } ?? "") + "\n"
            out += "catalogue: \(t.catalogue ?? "unknown (applied by an older dronewall)")\n"
            out += "hooks: \(t.hooks.isEmpty ? "none" : t.hooks.joined(separator: ", "))\n"
            out += "drones (\(t.drones.count)): \(t.drones.joined(separator: " "))\n"
            out += "learned addresses (held for catalogued names): \(t.learnedIPv4 + t.learnedIPv6) "
                + "(IPv4 \(t.learnedIPv4), IPv6 \(t.learnedIPv6))\n"
            out += "\nsets and maps:\n"
            for (name, n) in t.sets.sorted(by: { $0.key < $1.key }) { out += "  \(pad(name, 36)) \(n) element(s)\n" }
            out += "\nblocked by the kernel (counters since apply):\n"
            out += "  \(pad("drone", 24)) \(pad("reason", 26)) \(lpad("packets", 10)) \(lpad("bytes", 12))\n"
            let hits = t.counters.filter { $0.packets > 0 }
            for r in hits {
                let reason = r.verdict == LogVerdict.wouldBlock.rawValue ? "\(r.reason) (would-block)" : r.reason
                out += "  \(pad(r.drone, 24)) \(pad(reason, 26)) \(lpad(String(r.packets), 10)) \(lpad(String(r.bytes), 12))\n"
            }
            if hits.isEmpty { out += "  (none yet; \(t.counters.count) counting rules in place)\n" }
            let blocked = t.counters.filter { $0.verdict == LogVerdict.blocked.rawValue }
            let total = blocked.reduce((UInt64(0), UInt64(0))) { ($0.0 + $1.packets, $0.1 + $1.bytes) }
            out += "  \(pad("total blocked", 24)) \(pad("", 26)) \(lpad(String(total.0), 10)) \(lpad(String(total.1), 12))\n"
        } else {
            out += "table inet \(KernelLayout.tableName): not present — nothing is enforced\n"
        }
        out += "\n" + (daemon?.text ?? "dronewalld: not answering here (not running, or not root)\n")
        if let l = flowLog {
            out += "\nflow log \(l.path): \(l.lostEventsLast24h) lost event(s) in the last 24h"
                + (l.overrunsLast24h > 0 ? ", \(l.overrunsLast24h) receive-buffer overrun(s)" : "") + "\n"
        } else {
            out += "\nflow log: not readable here (is dronewalld running?)\n"
        }
        return out
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
}
