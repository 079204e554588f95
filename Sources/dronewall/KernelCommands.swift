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
        let client = NftablesClient(transport: BatchDumpTransport.wrapping(try KernelTransport()),
                                    table: KernelLayout.tableName)
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
        enforces that config from then on. When the kernel holds exactly the table the daemon applied \
        last, the daemon sends only what changed, still in one batch, and the rest of the table \
        (learned addresses included) stays ("changed in place"). Without a daemon the command writes \
        the kernel itself. Needs root (exit 77 without).
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
            let running = try client.instance(policyChain: KernelLayout.policyChain)
            applied = loaded.avoidingGeneration(of: running.flatMap {
                PolicyComment(chainComment: $0.policyComment, tableComment: $0.tableComment)
            })
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

