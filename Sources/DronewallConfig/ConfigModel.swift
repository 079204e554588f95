import NetAddress

/// The station-wide settings (`[station]`).
public struct StationConfig: Sendable {
    /// Interfaces whose forwarded traffic dronewall filters.
    public var droneInterfaces: [Located<String>] = []
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

    public init() {}

    public var unknownDevicesPolicy: PolicyKind { unknownDevices?.value ?? StationConfig.defaultUnknownDevices }
}

/// One `[drone NAME]` section: who the drone is and what it may send.
public struct DroneConfig: Sendable {
    public var name: String
    public var location: SourceLocation
    public var macs: [Located<MACAddress>] = []
    public var addresses: [Located<IPNetwork>] = []
    public var interfaces: [Located<String>] = []
    public var users: [Located<UserRef>] = []
    public var policy: Located<PolicyKind>?
    public var allow: [Located<Category>] = []
    public var block: [Located<Category>] = []
    public var allowHosts: [Located<HostPattern>] = []
    public var blockHosts: [Located<HostPattern>] = []

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
