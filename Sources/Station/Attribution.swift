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

    public init(index: CatalogueIndex, hostName: @escaping (IPNetwork) -> String? = { _ in nil }) {
        self.index = index
        self.hostName = hostName
    }

    /// nil for packets that are not dronewall's (another rule logging to the same group).
    public func event(_ e: NflogEvent, receivedMicros: Int64) -> BlockedEvent? {
        guard let prefix = LogPrefix(parsing: e.prefix), let p = e.packet else { return nil }
        let destination = IPNetwork(bytes: p.destination, prefixLength: p.destination.count * 8)
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
        // A learned address: the name it was learned for names the host, and its vendor.
        let host = hostName(destination)
        let vendor = index.match(address: destination)?.vendorID ?? host.flatMap { index.match(domain: $0)?.vendorID }
        return BlockedEvent(timeMicros: time, drone: prefix.drone, reason: prefix.reason, verdict: prefix.verdict,
                            vendor: vendor, proto: proto,
                            source: IPNetwork.format(address: p.source), destination: destination.description,
                            port: p.destinationPort, sourcePort: p.sourcePort, host: host,
                            length: p.length)
    }
}
