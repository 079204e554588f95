import Foundation
import NftModel
import Testing
@testable import Netfilter
import NetfilterTesting

/// The table owned by the daemon's socket and kept when it goes (NFT_TABLE_F_OWNER |
/// NFT_TABLE_F_PERSIST), against the real kernel in a fresh namespace.
@Suite(.enabled(if: geteuid() == 0, "not root: ownership tests need CAP_NET_ADMIN and network namespaces"), .serialized)
struct OwnershipKernelTests {
    func nft(_ ns: String, _ args: String...) throws -> (status: Int32, out: String) {
        let r = try TestNamespace.run(["ip", "netns", "exec", ns, "nft"] + args)
        return (r.status, r.stdout + r.stderr)
    }

    /// A listing without the parts that change with time.
    func timeless(_ listing: String) -> String {
        listing.replacingOccurrences(of: #" expires [0-9hms]+"#, with: "", options: .regularExpression)
    }

    func owner(_ ns: String) throws -> NftablesClient {
        let c = NftablesClient(transport: try KernelTransport(networkNamespace: ns, timeoutSeconds: 10), table: "dronewall")
        c.ownership = .ownedAndPersistent
        return c
    }

    @Test func noOtherProgramChangesAnOwnedTableAndItOutlivesItsOwner() throws {
        try TestNamespace.with(prefix: "dwown") { ns in
            var daemon: NftablesClient? = try owner(ns)
            try daemon!.apply(Fixtures.ruleset)
            guard daemon!.ownershipRefused == nil else {
                // Kernels before 6.9: the fallback is the point, and it must be unowned.
                #expect(try nft(ns, "list", "table", "inet", "dronewall").out.contains("owner") == false)
                return
            }
            let listed = try nft(ns, "list", "table", "inet", "dronewall").out
            #expect(listed.contains("flags owner"), "nft shows the owner flag: \(listed.prefix(200))")

            #expect(try nft(ns, "delete", "table", "inet", "dronewall").status != 0, "another program cannot delete it")
            #expect(try nft(ns, "add", "rule", "inet", "dronewall", "forward", "accept").status != 0,
                    "nor add a rule to it")
            _ = try nft(ns, "flush", "ruleset")
            let afterFlush = try nft(ns, "list", "table", "inet", "dronewall").out
            #expect(timeless(afterFlush) == timeless(listed), "flush ruleset passes it by")

            let other = try owner(ns)
            #expect(throws: NetlinkError.self, "another socket cannot replace it while its owner lives") {
                try other.apply(Fixtures.ruleset)
            }

            daemon = nil  // the owning socket closes, as when the daemon dies
            let orphan = try nft(ns, "list", "table", "inet", "dronewall")
            #expect(orphan.status == 0, "persist: the rules stay in force without their owner")
            #expect(!orphan.out.contains("flags owner,") && !orphan.out.contains("flags owner\n"),
                    "nobody owns it now: \(orphan.out.prefix(120))")

            try other.apply(Fixtures.ruleset)  // the next daemon adopts it by replacing it
            let adopted = try nft(ns, "list", "tables").out
            #expect(adopted.components(separatedBy: "inet dronewall").count == 2, "one table, never two: \(adopted)")
            #expect(try nft(ns, "delete", "table", "inet", "dronewall").status != 0, "owned again")
        }
    }
}
