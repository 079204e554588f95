import NftModel
import SourcePlaces
@testable import Netfilter

/// A small ruleset that uses every field, set type, statement and action the IR has.
enum Fixtures {
    static func net(_ s: String) -> IPNetwork { try! IPNetwork.parse(s) }
    static let mac1: [UInt8] = [0x60, 0x60, 0x1F, 0x12, 0x34, 0x56]
    static let mac2: [UInt8] = [0x60, 0x60, 0x1F, 0x12, 0x34, 0x57]

    static var ruleset: Ruleset {
        let sets: [NamedSet] = [
            NamedSet(name: "drone_interfaces", keyType: .interfaceName,
                     elements: [SetElement(key: .interfaceName("wlan0")), SetElement(key: .interfaceName("usb0"))],
                     origin: "dronewall.conf:2:1"),
            NamedSet(name: "endpoints_v4", keyType: .ipv4Address, dataType: .mark, flags: .interval,
                     elements: [SetElement(key: .network(net("203.0.113.0/24")), data: .mark(0x0000_0002),
                                           origin: "dji.rules:7:1"),
                                SetElement(key: .network(net("198.51.100.7")), data: .mark(0x0000_0004),
                                           origin: "dji.rules:8:1")],
                     origin: "dji.rules:1:1"),
            NamedSet(name: "endpoints_v6", keyType: .ipv6Address, dataType: .mark, flags: .interval,
                     elements: [SetElement(key: .network(net("2001:db8:100::/48")), data: .mark(0x0000_0002))]),
            NamedSet(name: "drones_v4", keyType: .ipv4Address, flags: .interval,
                     elements: [SetElement(key: .network(net("192.0.2.16/28"))),
                                SetElement(key: .network(net("192.0.2.33")))]),
            NamedSet(name: "drones_by_mac", keyType: .etherAddress, dataType: .mark,
                     elements: [SetElement(key: .ether(mac1), data: .mark(0x0001_0000))]),
            NamedSet(name: "drones_by_user", keyType: .uid, dataType: .mark,
                     elements: [SetElement(key: .uid(1000), data: .mark(0x0003_0000))]),
            NamedSet(name: "learned_v4", keyType: .ipv4Address, dataType: .mark, flags: .timeout,
                     elements: [SetElement(key: .network(net("198.51.100.9")), data: .mark(0x0000_0001),
                                           timeoutMilliseconds: 3_600_000)]),
            NamedSet(name: "learned_v6", keyType: .ipv6Address, dataType: .mark, flags: .timeout),
            NamedSet(name: "drone_verdicts", keyType: .mark, dataType: .verdict,
                     elements: [SetElement(key: .mark(0x0001_0000), data: .verdict(.jump("drone_survey"))),
                                SetElement(key: .mark(0x0002_0000), data: .verdict(.drop))]),
            NamedSet(name: "mac_verdicts", keyType: .etherAddress, dataType: .verdict,
                     elements: [SetElement(key: .ether(mac2), data: .verdict(.accept))]),
        ]
        let droneChain = Chain(name: "drone_survey", rules: [
            Rule([.masked(.conntrackMark, mask: 0x0000_FFFF, value: 0x0000_0002, negated: false)],
                 [.counter, .log(prefix: "dw survey flight-logs ", group: 5)], .verdict(.drop),
                 origin: "drones.d/survey.conf:4:1"),
            Rule([.masked(.conntrackMark, mask: 0x0000_FFFF, value: 0x0000_0001, negated: true)], [], .verdict(.return)),
            Rule([], [.counter], .verdict(.accept)),
        ], origin: "drones.d/survey.conf:1:1")
        let forward = Chain(name: "forward", base: BaseChainSpec(hook: .forward, priority: 0, policy: .accept), rules: [
            Rule([.equals(.inputInterfaceName, .interfaceName("lo"), negated: false)], [], .verdict(.accept)),
            Rule([.inSet(.inputInterfaceName, set: "drone_interfaces", negated: true)], [], .verdict(.accept)),
            Rule([.equals(.outputInterfaceName, .interfaceName("lo"), negated: true)], [.counter]),
            Rule([.equals(.ipv4Destination, .network(net("192.0.2.1")), negated: false)], [], .verdict(.accept)),
            Rule([.equals(.ipv6Source, .network(net("2001:db8::1")), negated: true),
                  .equals(.ipv6Destination, .network(net("2001:db8::/32")), negated: false)], [], .verdict(.drop)),
            Rule([.equals(.ipv4Source, .network(net("192.0.2.0/25")), negated: false)], [.counter]),
            Rule([.equals(.etherSource, .ether(mac1), negated: false)], [.setConntrackMark(.constant(0x0001_0000))]),
            Rule([.inSet(.ipv4Source, set: "drones_v4", negated: false)], [.setConntrackMark(.orBits(0x8000_0000))]),
            Rule([], [.setConntrackMark(.lookup(.ipv4Destination, map: "endpoints_v4"))]),
            Rule([], [.setConntrackMark(.lookup(.ipv6Destination, map: "endpoints_v6"))]),
            Rule([], [.setConntrackMark(.lookup(.ipv4Destination, map: "learned_v4"))]),
            Rule([], [.setConntrackMark(.lookup(.etherSource, map: "drones_by_mac"))]),
            Rule([.masked(.conntrackMark, mask: 0xFFFF_0000, value: 0x8001_0000, negated: false)], [],
                 .verdictMap(.conntrackMark, map: "drone_verdicts")),
            Rule([], [], .verdictMap(.etherSource, map: "mac_verdicts")),
            Rule([.equals(.conntrackMark, .mark(0x0002_0000), negated: false)], [], .verdict(.goto("drone_survey"))),
            // Label bits in three bytes of the 128-bit bitmap, so a wrong byte layout shows.
            Rule([.conntrackLabel(77, negated: true)], [.setConntrackLabel(127)]),
            Rule([.conntrackLabel(0, negated: false), .conntrackLabel(127, negated: true)], [.counter], .verdict(.drop)),
            Rule([], [.counter, .log(prefix: "dw unknown ", group: 5)], .verdict(.drop), origin: "dronewall.conf:4:1"),
        ])
        let output = Chain(name: "output", base: BaseChainSpec(hook: .output, priority: -5, policy: .accept), rules: [
            Rule([.equals(.socketUID, .uid(1000), negated: false)], [.counter]),
            Rule([], [.setConntrackMark(.lookup(.socketUID, map: "drones_by_user"))]),
            Rule([.inSet(.socketUID, set: "drones_by_user", negated: false)], [], .verdict(.jump("drone_survey"))),
        ])
        return Ruleset(table: Table(name: "dronewall", sets: sets, chains: [droneChain, forward, output]))
    }

    /// The same ruleset as hand-written nft text (what `nft -f` gets in the differential test).
    static let nftText = """
    table inet dronewall {
        set drone_interfaces { type ifname; elements = { "wlan0", "usb0" } }
        map endpoints_v4 { type ipv4_addr : mark; flags interval; elements = { 203.0.113.0/24 : 0x00000002, 198.51.100.7 : 0x00000004 } }
        map endpoints_v6 { type ipv6_addr : mark; flags interval; elements = { 2001:db8:100::/48 : 0x00000002 } }
        set drones_v4 { type ipv4_addr; flags interval; elements = { 192.0.2.16/28, 192.0.2.33 } }
        map drones_by_mac { type ether_addr : mark; elements = { 60:60:1f:12:34:56 : 0x00010000 } }
        map drones_by_user { type uid : mark; elements = { 1000 : 0x00030000 } }
        map learned_v4 { type ipv4_addr : mark; flags timeout; elements = { 198.51.100.9 timeout 1h : 0x00000001 } }
        map learned_v6 { type ipv6_addr : mark; flags timeout; }
        map drone_verdicts { type mark : verdict; elements = { 0x00010000 : jump drone_survey, 0x00020000 : drop } }
        map mac_verdicts { type ether_addr : verdict; elements = { 60:60:1f:12:34:57 : accept } }
        chain drone_survey {
            ct mark & 0x0000ffff == 0x00000002 counter log prefix "dw survey flight-logs " group 5 drop
            ct mark & 0x0000ffff != 0x00000001 return
            counter accept
        }
        chain forward {
            type filter hook forward priority 0; policy accept;
            iifname "lo" accept
            iifname != @drone_interfaces accept
            oifname != "lo" counter
            ip daddr 192.0.2.1 accept
            ip6 saddr != 2001:db8::1 ip6 daddr 2001:db8::/32 drop
            ip saddr 192.0.2.0/25 counter
            ether saddr 60:60:1f:12:34:56 ct mark set 0x00010000
            ip saddr @drones_v4 ct mark set ct mark | 0x80000000
            ct mark set ip daddr map @endpoints_v4
            ct mark set ip6 daddr map @endpoints_v6
            ct mark set ip daddr map @learned_v4
            ct mark set ether saddr map @drones_by_mac
            ct mark & 0xffff0000 == 0x80010000 ct mark vmap @drone_verdicts
            ether saddr vmap @mac_verdicts
            ct mark 0x00020000 goto drone_survey
            ct label ! 77 ct label set 127
            ct label 0 ct label ! 127 counter drop
            counter log prefix "dw unknown " group 5 drop
        }
        chain output {
            type filter hook output priority -5; policy accept;
            meta skuid 1000 counter
            ct mark set meta skuid map @drones_by_user
            meta skuid @drones_by_user jump drone_survey
        }
    }

    """
}

extension Fixtures {
    /// Corner cases of nft's linearization: open-ended and zero-based intervals, byte-aligned
    /// prefixes, negated prefixes, several dependencies in one rule, ether before ip.
    static var cornerCases: Ruleset {
        let sets: [NamedSet] = [
            NamedSet(name: "everything_v4", keyType: .ipv4Address, flags: .interval,
                     elements: [SetElement(key: .network(net("0.0.0.0/1"))), SetElement(key: .network(net("255.255.255.0/24")))]),
            NamedSet(name: "top_v6", keyType: .ipv6Address, flags: .interval,
                     elements: [SetElement(key: .network(net("ffff::/16")))]),
            NamedSet(name: "macs", keyType: .etherAddress, elements: [SetElement(key: .ether(mac1))]),
            NamedSet(name: "users", keyType: .uid, flags: .timeout,
                     elements: [SetElement(key: .uid(0), timeoutMilliseconds: 86_400_000)]),
            NamedSet(name: "marks", keyType: .mark, elements: [SetElement(key: .mark(7))]),
        ]
        let chain = Chain(name: "input", base: BaseChainSpec(hook: .input, priority: 10, policy: .drop), rules: [
            Rule([.equals(.ipv4Destination, .network(net("192.0.2.0/24")), negated: true),
                  .equals(.ipv4Source, .network(net("10.0.0.0/8")), negated: false)], [], .verdict(.accept)),
            Rule([.inSet(.ipv4Source, set: "everything_v4", negated: false),
                  .inSet(.ipv4Destination, set: "everything_v4", negated: true)], [.counter]),
            Rule([.inSet(.ipv6Destination, set: "top_v6", negated: false)], [], .verdict(.drop)),
            Rule([.inSet(.etherSource, set: "macs", negated: false), .inSet(.inputInterfaceName, set: "ifs", negated: false)],
                 [.counter]),
            Rule([.inSet(.conntrackMark, set: "marks", negated: false)], []),
            Rule([.equals(.etherSource, .ether(mac2), negated: false), .equals(.ipv4Source, .network(net("192.0.2.9")), negated: false)],
                 [], .verdict(.drop)),
            Rule([.inSet(.etherSource, set: "macs", negated: false),
                  .equals(.ipv6Destination, .network(net("2001:db8::1")), negated: false)], [], .verdict(.accept)),
            Rule([.equals(.etherSource, .ether(mac1), negated: true),
                  .inSet(.ipv4Destination, set: "everything_v4", negated: false)], [.counter]),
        ])
        return Ruleset(table: Table(name: "dronewall", sets: sets + [
            NamedSet(name: "ifs", keyType: .interfaceName, elements: [SetElement(key: .interfaceName("eth0"))])],
            chains: [chain]))
    }
}

extension Fixtures {
    static let cornerCasesText = """
    table inet dronewall {
        set everything_v4 { type ipv4_addr; flags interval; elements = { 0.0.0.0/1, 255.255.255.0/24 } }
        set top_v6 { type ipv6_addr; flags interval; elements = { ffff::/16 } }
        set macs { type ether_addr; elements = { 60:60:1f:12:34:56 } }
        set users { type uid; flags timeout; elements = { 0 timeout 1d } }
        set marks { type mark; elements = { 0x00000007 } }
        set ifs { type ifname; elements = { "eth0" } }
        chain input {
            type filter hook input priority 10; policy drop;
            ip daddr != 192.0.2.0/24 ip saddr 10.0.0.0/8 accept
            ip saddr @everything_v4 ip daddr != @everything_v4 counter
            ip6 daddr @top_v6 drop
            ether saddr @macs iifname @ifs counter
            ct mark @marks
            ether saddr 60:60:1f:12:34:57 ip saddr 192.0.2.9 drop
            ether saddr @macs ip6 daddr 2001:db8::1 accept
            ether saddr != 60:60:1f:12:34:56 ip daddr @everything_v4 counter
        }
    }

    """
}

/// Fixtures write places as `file:line:col` text.
extension SourceLocation: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) {
        let parts = text.split(separator: ":")
        self.init(file: parts.dropLast(2).joined(separator: ":"), line: Int(parts[parts.count - 2]) ?? 0,
                  column: Int(parts[parts.count - 1]) ?? 0)
    }
}
