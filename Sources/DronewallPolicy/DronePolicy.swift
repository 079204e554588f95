import DronewallConfig
import NetAddress
import KernelLayout

/// What one subject (a named drone, or the unknown devices) may send, validated and resolved
/// once from the config: the one model that the compiler, the station resolver, `catalogue
/// drone` and flow attribution all read, so they cannot disagree about a drone.
public struct DronePolicy: Sendable, Hashable {
    /// Whose policy this is.
    public enum Subject: Sendable, Hashable, CustomStringConvertible {
        case drone(String)
        /// Devices on a drone interface that match no drone (`[station] unknown-devices`).
        case unknownDevices

        /// The drone's word in log prefixes and flow records: its name, or `*`.
        public var word: String {
            switch self {
            case let .drone(name): return name
            case .unknownDevices: return KernelLayout.unknownDroneWord
            }
        }

        public var description: String {
            switch self {
            case let .drone(name): return "drone '\(name)'"
            case .unknownDevices: return "unknown devices"
            }
        }
    }

    /// How the station recognises the subject's traffic.
    public enum Identity: Sendable, Hashable, CustomStringConvertible {
        case interface(String)
        case mac(MACAddress)
        case network(IPNetwork)
        /// A local app's user, resolved from a name once, when the policy is loaded.
        case uid(UInt32)

        /// As the config says it: `mac 60:60:1f:12:34:56`, `address 192.0.2.21`, `user 1000`.
        public var description: String {
            switch self {
            case let .interface(i): return "interface \(i)"
            case let .mac(m): return "mac \(m)"
            case let .network(n): return "address \(n)"
            case let .uid(u): return "user \(u)"
            }
        }
    }

    public var subject: Subject
    public var kind: PolicyKind
    /// In config order: MACs, addresses, interfaces, users. Empty for the unknown devices,
    /// who are whatever arrives on a drone interface and matches no drone.
    public var identities: [Located<Identity>]
    /// Categories whose traffic is dropped.
    public var blocked: CategorySet
    /// Categories logged as would-block (monitor): what local-data would block.
    public var wouldBlock: CategorySet
    /// Resolved-only (`dns-strict`): new flows only to what the station resolver answered to this
    /// subject (within TTL + grace) and to its `allow-host` networks.
    public var dnsStrict = false
    /// The links its MAC and address identities count on (`link =`, plus its own interfaces);
    /// empty: any link. A MAC or address arriving elsewhere is a copy and is dropped.
    public var links: [Located<String>] = []
    /// Hosts always allowed (beat categories) and always blocked (beat everything).
    public var allowHosts: [Located<HostPattern>]
    public var blockHosts: [Located<HostPattern>]
    /// The station resolver's port for this subject's DNS; nil when the resolver is off.
    public var resolverPort: UInt16?
    /// The `[drone]` section, or `[station]` for the unknown devices.
    public var origin: SourceLocation?

    public init(subject: Subject, kind: PolicyKind, identities: [Located<Identity>] = [],
                blocked: CategorySet, wouldBlock: CategorySet = [], allowHosts: [Located<HostPattern>] = [],
                blockHosts: [Located<HostPattern>] = [], resolverPort: UInt16? = nil, origin: SourceLocation? = nil) {
        self.subject = subject
        self.kind = kind
        self.identities = identities
        self.blocked = blocked
        self.wouldBlock = wouldBlock
        self.allowHosts = allowHosts
        self.blockHosts = blockHosts
        self.resolverPort = resolverPort
        self.origin = origin
    }

    /// Categories blocked by a policy with its `allow` / `block` overrides.
    public static func blocked(_ kind: PolicyKind, allow: CategorySet, block: CategorySet) -> CategorySet {
        switch kind {
        case .isolate: return .all
        case .localData: return CategorySet.all.subtracting(allow).union(block)
        case .allowlist: return CategorySet.all.subtracting(allow.subtracting(block))
        case .monitor: return block
        }
    }

    /// Categories logged as would-block: what local-data would block that the policy lets through.
    public static func wouldBlock(_ kind: PolicyKind, allow: CategorySet, block: CategorySet) -> CategorySet {
        kind == .monitor ? CategorySet.all.subtracting(allow).subtracting(block) : []
    }

    /// The drone's name; nil for the unknown devices.
    public var droneName: String? {
        if case let .drone(name) = subject { return name }
        return nil
    }

    /// Domain names in a host list (the station resolver learns their addresses per drone).
    public static func names(_ hosts: [Located<HostPattern>]) -> [String] {
        hosts.compactMap { if case let .domain(n) = $0.value { n } else { nil } }
    }

    public var interfaces: [Located<String>] {
        identities.compactMap { if case let .interface(i) = $0.value { Located(i, at: $0.location) } else { nil } }
    }
    public var uids: [Located<UInt32>] {
        identities.compactMap { if case let .uid(u) = $0.value { Located(u, at: $0.location) } else { nil } }
    }
    /// True for local mode: an app run by a user on the station.
    public var hasUserIdentity: Bool { !uids.isEmpty }

    /// The host-list entry, if any, that covers the whole of `pattern`.
    public static func covering(_ pattern: HostPattern, in hosts: [Located<HostPattern>]) -> HostPattern? {
        hosts.first { $0.value.covers(pattern) }?.value
    }
}
