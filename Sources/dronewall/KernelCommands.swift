import ArgumentParser
import DronewallPolicy
import NftModel

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile the config and replace table inet dronewall in one atomic netlink batch.",
        discussion: "The kernel commits the whole batch or nothing: a refused batch leaves the running table as it was.")
    @OptionGroup var source: SourceOptions
    func run() throws {
        _ = try Loading.compile(source)
        throw ValidationError("apply: netlink layer not wired yet")
    }
}

struct Flush: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete table inet dronewall (and nothing else).")
    func run() throws { throw ValidationError("flush: netlink layer not wired yet") }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what is enforced: table, drones, set sizes, counters.")
    func run() throws { throw ValidationError("status: netlink layer not wired yet") }
}
