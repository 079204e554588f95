import Foundation
import NetAddress
import Testing
@testable import Netfilter
import NetfilterTesting

/// ctnetlink against the real kernel, in a fresh namespace: entries made by loopback datagrams,
/// marked by a table of the test's own.
@Suite(.enabled(if: geteuid() == 0, "not root: conntrack tests need CAP_NET_ADMIN and network namespaces"), .serialized)
struct ConntrackKernelTests {
    func run(_ args: [String], stdin: String? = nil) throws {
        let r = try TestNamespace.run(args, stdin: stdin)
        #expect(r.status == 0, "\(args.joined(separator: " ")): \(r.stderr)")
    }

    /// One UDP datagram from inside `ns` to each address: one conntrack entry each.
    func send(_ ns: String, to addresses: [String]) throws {
        let script = "import socket,sys\nfor a in sys.argv[1:]:\n"
            + "    s=socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET, socket.SOCK_DGRAM)\n"
            + "    s.sendto(b'x',(a,9))\n"
        try run(["ip", "netns", "exec", ns, "python3", "-c", script] + addresses)
    }

    @Test func readsEntriesByMarkAndTakesTheGenerationOut() throws {
        try TestNamespace.with(prefix: "dwct") { ns in
            try run(["ip", "-n", ns, "link", "set", "lo", "up"])
            try run(["ip", "-n", ns, "addr", "add", "2001:db8::7/128", "dev", "lo", "nodad"])
            try run(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin: """
                table inet dwct { chain out { type filter hook output priority 0; policy accept;
                ip daddr 127.0.0.2 ct mark set 0xab120003
                ip6 daddr 2001:db8::7 ct mark set 0xab120004
                ip daddr 127.0.0.4 ct mark set 0x77770003
                }
                }
                """)
            try send(ns, to: ["127.0.0.2", "127.0.0.3", "127.0.0.4", "2001:db8::7"])
            let client = ConntrackClient(transport: try KernelTransport(networkNamespace: ns))

            let marked = try client.flows(markValue: 0xab12_0000, mask: 0xffff_0000)
            #expect(Set(marked.compactMap { $0.destination?.description }) == ["127.0.0.2", "2001:db8::7"],
                    "the kernel filters by the generation bits, both families in one dump")
            let v4 = try #require(marked.first { $0.destination?.isIPv4 == true })
            #expect(v4.mark == 0xab12_0003 && v4.protocolNumber == 17 && v4.destinationPort == 9)
            #expect(v4.source?.description == "127.0.0.1" && v4.family == Ctnetlink.inet)

            #expect(try client.setMark(v4.mark & 0xffff, of: v4))
            let after = try client.flows(markValue: 0xab12_0000, mask: 0xffff_0000)
            #expect(after.compactMap { $0.destination?.description } == ["2001:db8::7"],
                    "the re-marked entry no longer carries the generation")
            let classesOnly = try client.flows(markValue: 0x0003, mask: 0xffff_ffff)
            #expect(classesOnly.compactMap { $0.destination?.description } == ["127.0.0.2"], "its classes stay")

            var gone = v4
            gone.identity = try #require(Ctnetlink.decode(NetlinkMessage(bytes: Ctnetlink.entry(
                family: Ctnetlink.inet, source: "127.0.0.1", destination: "127.0.0.9", protocolNumber: 17,
                ports: (1, 9), mark: 0)))).identity
            #expect(try client.setMark(0, of: gone) == false, "an entry that is not there: false, not an error")
        }
    }
}
