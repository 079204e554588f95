import DronewallConfig

/// Names and bit layouts of the kernel objects dronewall creates: the contract between the
/// compiler that writes them and the runtime that reads them (status, the DNS learner, the log
/// reader). Both use these and the parsers beside them, never string literals of their own.
public enum KernelLayout {
    public static let tableName = "dronewall"

    // Conntrack mark layout (dronewall owns the conntrack mark of the flows it filters):
    //   bits 0-10  category bits of the destination (Category.bit)
    //   bits 16-31 ruleset generation (never 0), set when a flow is accepted
    // The fast path accepts a flow whose upper half equals the current generation, so a
    // re-apply with a different policy re-examines every flow once.
    public static let generationMask: UInt32 = 0xffff_0000

    public static let droneInterfacesSet = "drone_interfaces"
    /// The station's own links (`uplink-interfaces`) and loopback: everything else is drone territory.
    public static let stationInterfacesSet = "station_interfaces"
    public static let dronesByMAC = "drones_by_mac"
    public static let dronesByIPv4 = "drones_by_ipv4"
    public static let dronesByIPv6 = "drones_by_ipv6"
    public static let dronesByInterface = "drones_by_interface"
    public static let dronesByUser = "drones_by_user"
    /// Catalogue networks: address (interval) -> category bits.
    public static let endpointsV4 = "endpoints_v4"
    public static let endpointsV6 = "endpoints_v6"
    /// Addresses learned from DNS answers: address -> category bits, with a timeout.
    public static let learnedV4 = "learned_v4"
    public static let learnedV6 = "learned_v6"

    /// An empty chain whose comment names the policy in force (`PolicyComment`). A chain, not
    /// the table's comment: the kernel cannot change a table's comment without replacing the
    /// table, while an unreferenced chain is deleted and added again in the batch of an
    /// incremental apply.
    public static let policyChain = "applied_policy"
    public static let classifyChain = "classify"
    public static let acceptFlowChain = "accept_flow"
    public static let unknownDevicesChain = "unknown_devices"
    public static let forwardChain = "forward"
    public static let outputChain = "output"

    public static func droneChain(_ drone: String) -> String { "drone_\(drone)" }
    /// The links a drone's MAC and address identities count on.
    public static func droneLinksSet(_ drone: String) -> String { "drone_\(drone)_links" }
    /// The drone a `drone_NAME` chain belongs to; nil for any other chain.
    public static func drone(ofChain chain: String) -> String? {
        chain.hasPrefix("drone_") && chain.count > 6 ? String(chain.dropFirst(6)) : nil
    }

    // The station's resolver (dronewalld): every drone's port-53 traffic is redirected to a
    // port of its own, so the resolver knows which drone asks without looking anything up.
    // The same identity order as the forward chain picks the port: interface, MAC, address.
    public static let dnsPreroutingChain = "dns_prerouting"
    public static let dnsOutputChain = "dns_output"
    public static let dnsInputChain = "dns_input"
    public static let dnsUnknownChain = "dns_unknown"
    public static func dnsDroneChain(_ drone: String) -> String { "dns_drone_\(drone)" }
    public static let dnsByInterface = "dns_by_interface"
    public static let dnsByMAC = "dns_by_mac"
    public static let dnsByIPv4 = "dns_by_ipv4"
    public static let dnsByIPv6 = "dns_by_ipv6"
    public static let dnsByUser = "dns_by_user"
    /// The resolver's ports: reachable only through our own redirect (`dnsRedirectLabel`).
    public static let dnsPortsSet = "dns_ports"
    /// The conntrack label bit our DNS redirect sets (`ct label set 127`) and the input guard
    /// requires: a DNAT to a resolver port by another table (a port forward from the uplink)
    /// lacks it, so the resolver never answers a stranger as if a drone asked. A label bit, not
    /// a mark: the packet mark steers policy routing (fwmark rules), and the conntrack mark's
    /// bits are the class and generation, rewritten by `classify`. 127 is the last of the 128
    /// label bits (XT_CONNLABEL_MAXBIT, linux/netfilter/xt_connlabel.h); connlabel.conf and
    /// hand-written rules number their labels from 0 up, so the top bit is the least likely taken.
    public static let dnsRedirectLabel: UInt8 = 127
    /// DNS over TLS and over QUIC (RFC 7858, RFC 9250).
    public static let dnsOverTLSPort: UInt16 = 853
    /// Class bit of public resolvers (rules/resolvers.rules), beside the category bits 0-10:
    /// drones reach them only through the station's resolver.
    public static let resolverBit: UInt32 = 1 << 11

    /// How many resolver ports drones can have above `dns-port` (which is unknown devices').
    public static let dnsPortSlots = 4096

    /// Each drone's resolver port: `dns-port` + 1 + a slot from a hash of its name (probing on
    /// the rare collision, in name order). A drone keeps its port when others are added or
    /// removed, so a running resolver never answers one drone under another's policy; a new
    /// drone's port is served once dronewalld restarts (until then its lookups fail, closed).
    public static func dnsPorts(base: UInt16, drones: [String]) -> [String: Int] {
        var taken = Set<Int>()
        var out: [String: Int] = [:]
        for name in drones.sorted() where out[name] == nil {
            var slot = Int(FNV1a.hash(name) % UInt32(dnsPortSlots))
            while taken.contains(slot) { slot = (slot + 1) % dnsPortSlots }
            taken.insert(slot)
            out[name] = Int(base) + 1 + slot
        }
        return out
    }

    /// Per-drone host sets: `drone_NAME_allow_v4`, `..._block_dns_v6`, ...
    public static func hostSet(_ drone: String, _ kind: HostListKind, ipv6: Bool, learned: Bool) -> String {
        HostSetName(drone: drone, kind: kind, ipv6: ipv6, learned: learned).text
    }

    /// `allow` / `block`: the drone's host lists; `resolved`: what the station resolver answered
    /// to a `dns-strict` drone (the only addresses it may open new flows to).
    public enum HostListKind: String, Sendable { case allow, block, resolved }

    /// Drone word in the log prefix of devices that match no drone.
    public static let unknownDroneWord = "*"

    // Logging is limited per flow (source and destination address) by a token bucket in
    // these dynamic sets, so a drone retrying in a tight loop cannot flood the log; the
    // rules' counters still count every packet.
    public static let logMeterV4 = "log_meter_v4"
    public static let logMeterV6 = "log_meter_v6"
    public static let logRatePerSecond: UInt32 = 10
    public static let logBurst: UInt32 = 20
    public static let logMeterSize: UInt32 = 65_536
    public static let logMeterTimeoutMilliseconds: UInt64 = 60_000
}
