import DronewallPolicy
import FlowLog
import NetAddress
import Netfilter
import KernelLayout

/// Turns a logged packet into a blocked-flow event: drone, reason and verdict from the log
/// prefix the compiler wrote, addresses and ports from the packet, the vendor from the catalogue.
public struct Attribution {
    let index: CatalogueIndex
    /// The name a destination was learned from by the station resolver, if any.
    var hostName: (IPNetwork) -> String?
    /// What this attribution already worked out (prefixes, addresses), kept across events.
    private let seen = Seen()

    public init(index: CatalogueIndex, hostName: @escaping (IPNetwork) -> String? = { _ in nil }) {
        self.index = index
        self.hostName = hostName
    }

    /// nil for packets that are not dronewall's (another rule logging to the same group).
    public func event(_ e: NflogEvent, receivedMicros: Int64) -> BlockedEvent? {
        guard let p = e.packet, let prefix = seen.prefix(e.prefix) else { return nil }
        let proto: FlowProtocol
        switch p.proto {
        case .tcp: proto = .tcp
        case .udp: proto = .udp
        case .icmp: proto = .icmp
        case .icmpv6: proto = .icmpv6
        case let .other(n): proto = .other(n)
        }
        // Output-hook packets carry no kernel timestamp; the receive time is then the best known.
        let time = e.timestampMicros.map { Int64($0) } ?? receivedMicros
        let destination = seen.destination(p.destination, in: index)
        // A learned address: the name it was learned for names the host, and its vendor. Asked
        // every time: the resolver learns and forgets names while the catalogue stays.
        let host = hostName(destination.network)
        let vendor = destination.vendor ?? host.flatMap { index.match(domain: $0)?.vendorID }
        return BlockedEvent(timeMicros: time, drone: prefix.drone, reason: prefix.reason, verdict: prefix.verdict,
                            vendor: vendor, proto: proto,
                            source: seen.source(p.source), destination: destination.text,
                            port: p.destinationPort, sourcePort: p.sourcePort, host: host,
                            length: p.length)
    }
}

/// Per-event work that gives the same answer every time, done once: parsing a log prefix (a
/// drone and category: few of them), and for an address its text and, for a destination, the
/// catalogue network it falls in (fixed while this attribution's catalogue is). A flood repeats
/// the same few; each table is emptied when it reaches `limit`, so a flood of distinct
/// addresses costs memory of at most that many.
final class Seen {
    struct Destination {
        var network: IPNetwork
        var text: String
        /// The vendor of the catalogue network that holds the address, if one does.
        var vendor: String?
    }

    let limit: Int
    private var prefixes: [String: LogPrefix?] = [:]
    private var destinations: [[UInt8]: Destination] = [:]
    private var sources: [[UInt8]: String] = [:]

    init(limit: Int = 1 << 16) {
        self.limit = limit
    }

    /// The prefix parsed, nil when dronewall did not write it.
    func prefix(_ text: String) -> LogPrefix? {
        if let known = prefixes[text] { return known }
        let parsed = LogPrefix(parsing: text)
        remember(&prefixes, text, parsed)
        return parsed
    }

    func destination(_ bytes: [UInt8], in index: CatalogueIndex) -> Destination {
        if let known = destinations[bytes] { return known }
        let network = IPNetwork(bytes: bytes, prefixLength: bytes.count * 8)
        let d = Destination(network: network, text: network.description, vendor: index.match(address: network)?.vendorID)
        remember(&destinations, bytes, d)
        return d
    }

    func source(_ bytes: [UInt8]) -> String {
        if let known = sources[bytes] { return known }
        let text = IPNetwork.format(address: bytes)
        remember(&sources, bytes, text)
        return text
    }

    /// How many entries the tables hold (tests check the bound).
    var count: Int { prefixes.count + destinations.count + sources.count }

    private func remember<K: Hashable, V>(_ table: inout [K: V], _ key: K, _ value: V) {
        if table.count >= limit { table.removeAll(keepingCapacity: true) }
        table[key] = value
    }
}
