import NetAddress

/// The station-wide settings (`[station]`).
public struct StationConfig: Sendable {
    /// Interfaces whose forwarded traffic dronewall filters.
    public var droneInterfaces: [Located<String>] = []
    /// The station's own links (toward the internet or a trusted LAN). When set, every other
    /// link is drone territory: forwarded traffic from it that matches no drone is an unknown
    /// device, so a drone that changes its MAC or address cannot walk out unfiltered.
    public var uplinkInterfaces: [Located<String>] = []
    /// Policy for traffic from a drone interface that matches no drone.
    public var unknownDevices: Located<PolicyKind>?
    /// NFLOG group blocked packets are logged to.
    public var logGroup: UInt16 = StationConfig.defaultLogGroup
    /// How long blocked-flow records are kept, in seconds.
    public var logRetentionSeconds: Int64 = StationConfig.defaultLogRetentionSeconds
    public var location: SourceLocation?

    public static let defaultLogRetentionSeconds: Int64 = 90 * 86_400
    /// 100 years (36525d): longer is surely a typo, and times stay far from Int64 microsecond overflow.
    public static let maxLogRetentionSeconds: Int64 = 36_525 * 86_400
    /// Upper bound of the flow log's size; the oldest flows go first.
    public var logMaxBytes: Int64 = StationConfig.defaultLogMaxBytes
    public static let defaultLogMaxBytes: Int64 = 1 << 30

    /// Default NFLOG group; arbitrary but stable, away from ulogd's default 0/1.
    public static let defaultLogGroup: UInt16 = 7140
    public static let defaultUnknownDevices = PolicyKind.isolate

    /// The station's DNS resolver (in dronewalld): drones' port-53 traffic is redirected to it.
    public var dnsResolver = true
    /// Where the resolver forwards; empty: the station's own /etc/resolv.conf.
    public var dnsUpstream: [Located<IPNetwork>] = []
    /// First local port of the resolver: unknown devices use it, drone number i (config order) port + i.
    public var dnsPortBase: UInt16 = StationConfig.defaultDNSPortBase
    /// How a name the asking drone may not reach is answered.
    public var dnsSinkhole: DNSSinkhole = .nxdomain
    /// Default of `dns-strict` for every drone (and the unknown devices).
    public var dnsStrict = false
    /// Learned addresses live TTL + grace seconds (apps keep answers past their TTL).
    public var dnsGraceSeconds: Int64 = StationConfig.defaultDNSGraceSeconds

    /// Local NAT64 prefixes (RFC 6052, /96) besides the well-known 64:ff9b::/96: a drone behind
    /// an IPv6-only uplink reaches IPv4 endpoints at their images under these.
    public var nat64Prefixes: [Located<IPNetwork>] = []

    /// Addresses learned for catalogued names stay classified at least this long (refreshed by
    /// every answer), whatever TTL the vendor chooses.
    public var dnsHoldSeconds: Int64 = StationConfig.defaultDNSHoldSeconds
    public static let defaultDNSHoldSeconds: Int64 = 86_400

    public static let defaultDNSPortBase: UInt16 = 15300
    public static let defaultDNSGraceSeconds: Int64 = 300
    /// The grace may not go below this: a drone must find its answer's addresses still classified.
    public static let minimumDNSGraceSeconds: Int64 = 30

    public init() {}

    public var unknownDevicesPolicy: PolicyKind { unknownDevices?.value ?? StationConfig.defaultUnknownDevices }

    /// True when some forwarded traffic can be an unknown device's: drone interfaces are named,
    /// or everything but the uplinks is drone territory.
    public var hasUnknownDevices: Bool { !droneInterfaces.isEmpty || !uplinkInterfaces.isEmpty }
}

/// The answer to a name the asking drone's policy blocks.
public enum DNSSinkhole: String, Sendable, CaseIterable {
    /// "no such name": apps fail fast.
    case nxdomain
    /// 0.0.0.0 / ::, for apps that retry hard on NXDOMAIN.
    case null
    /// The real answer: the kernel blocks the connection (its addresses were learned first).
    case off
}

/// One `[drone NAME]` section: who the drone is and what it may send.
public struct DroneConfig: Sendable {
    public var name: String
    public var location: SourceLocation
    public var macs: [Located<MACAddress>] = []
    public var addresses: [Located<IPNetwork>] = []
    public var interfaces: [Located<String>] = []
    /// The links the drone's MAC and address identities count on; elsewhere they are a copy.
    public var links: [Located<String>] = []
    public var users: [Located<UserRef>] = []
    public var policy: Located<PolicyKind>?
    public var allow: [Located<Category>] = []
    public var block: [Located<Category>] = []
    public var allowHosts: [Located<HostPattern>] = []
    public var blockHosts: [Located<HostPattern>] = []
    /// Overrides `[station] dns-strict` for this drone.
    public var dnsStrict: Located<Bool>?

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }

    public var hasNetworkIdentity: Bool { !macs.isEmpty || !addresses.isEmpty || !interfaces.isEmpty }
    public var hasIdentity: Bool { hasNetworkIdentity || !users.isEmpty }
}

/// A whole validated configuration (main file plus drop-ins).
public struct Config: Sendable {
    public var station = StationConfig()
    public var drones: [DroneConfig] = []
    /// Every file read, in order.
    public var files: [String] = []
    public init() {}
}
