import KernelLayout
import NetAddress

/// What dronewall decided about a logged packet: blocked, or (a drone in `monitor` policy)
/// recorded as what `local-data` would have blocked. The verdict the log prefix carries.
public typealias FlowVerdict = LogVerdict

/// Transport protocol of a flow, as reports name it.
public enum FlowProtocol: Sendable, Hashable, CustomStringConvertible {
    case tcp, udp, icmp, icmpv6, dns
    case other(UInt8)

    public var description: String {
        switch self {
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .icmp: return "icmp"
        case .icmpv6: return "icmpv6"
        case .dns: return "dns"
        case let .other(n): return String(n)
        }
    }

    public init(name: String) {
        switch name {
        case "tcp": self = .tcp
        case "udp": self = .udp
        case "icmp": self = .icmp
        case "icmpv6": self = .icmpv6
        case "dns": self = .dns
        default: self = .other(UInt8(name) ?? 0)
        }
    }
}

/// One blocked (or would-block) packet, decoded and attributed: the unit the flow log folds.
/// Independent of NFLOG so tests and other sources (the DNS sinkhole) can produce it.
public struct BlockedEvent: Sendable, Hashable {
    public var timeMicros: Int64
    public var drone: String
    /// Why it was logged: the category, or the rule (`host`, `all`, `unlisted`, ...), from the log prefix.
    public var reason: LogReason
    public var verdict: FlowVerdict
    /// The vendor whose endpoint the destination is, when the catalogue knows it.
    public var vendor: String?
    public var proto: FlowProtocol
    public var source: String
    public var destination: String
    /// Destination port (TCP/UDP), nil for ICMP.
    public var port: UInt16?
    /// Source port, to count connection attempts (a retry from a new port is a new attempt).
    public var sourcePort: UInt16?
    /// The host name the destination was resolved from, when known.
    public var host: String?
    /// IP length of the packet in bytes.
    public var length: Int

    public init(timeMicros: Int64, drone: String, reason: LogReason, verdict: FlowVerdict = .blocked,
                vendor: String? = nil, proto: FlowProtocol, source: String, destination: String,
                port: UInt16? = nil, sourcePort: UInt16? = nil, host: String? = nil, length: Int) {
        self.timeMicros = timeMicros
        self.drone = drone
        self.reason = reason
        self.verdict = verdict
        self.vendor = vendor
        self.proto = proto
        self.source = source
        self.destination = destination
        self.port = port
        self.sourcePort = sourcePort
        self.host = host
        self.length = length
    }
}
