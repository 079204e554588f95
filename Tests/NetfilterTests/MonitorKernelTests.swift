import Foundation
import NftModel
import Testing
@testable import Netfilter
import NetfilterTesting

/// The change notifications other programs' commits cause, against the real kernel.
@Suite(.enabled(if: geteuid() == 0, "not root: monitor tests need CAP_NET_ADMIN and network namespaces"), .serialized)
struct MonitorKernelTests {
    func nft(_ ns: String, _ script: String) throws {
        let r = try TestNamespace.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin: script)
        #expect(r.status == 0, "nft: \(r.stderr)")
    }

    /// What the monitor has within a second.
    func changes(_ m: NftablesMonitor) -> [ForeignChange] {
        var out: [ForeignChange] = []
        for _ in 0..<20 {
            out += m.take().changes
            if !out.isEmpty { usleep(50_000); return out + m.take().changes }
            usleep(50_000)
        }
        return out
    }

    @Test func othersChangesToOurTableAndNewBaseChainsAreSeenOursAreNot() throws {
        try TestNamespace.with(prefix: "dwmon") { ns in
            let transport = try KernelTransport(networkNamespace: ns, timeoutSeconds: 10)
            let client = NftablesClient(transport: transport, table: "dronewall")
            let monitor = try NftablesMonitor(table: "dronewall", ownPortID: transport.portID, networkNamespace: ns)
            try client.apply(Fixtures.ruleset)
            #expect(changes(monitor).isEmpty, "the daemon's own apply is not foreign")

            try nft(ns, "add rule inet dronewall forward accept\n")
            let edit = changes(monitor)
            #expect(edit.count == 1)
            #expect(edit.first?.touchesOwnTable == true)
            #expect(edit.first?.changes == ["new rule inet dronewall in chain forward"])
            #expect(edit.first?.process == "nft" && edit.first?.pid != nil, "the kernel names the process")

            try nft(ns, "add table ip other\nadd chain ip other plain\n")
            #expect(changes(monitor).isEmpty, "another table's own business is not reported")
            try nft(ns, "add chain ip other pre { type nat hook prerouting priority -150; }\n")
            let base = changes(monitor)
            #expect(base.first?.changes == ["new base chain ip other pre at hook prerouting"])
            #expect(base.first?.touchesOwnTable == false)

            try nft(ns, "delete table inet dronewall\n")
            #expect(changes(monitor).first?.changes == ["delete table inet dronewall"])
        }
    }
}
