import SourcePlaces
@_exported import NetAddress

/// nftables data types used for set keys, map values and constants.
///
/// Type ids are nft's `enum datatypes` (nftables include/datatype.h); the kernel
/// stores them opaquely in NFTA_SET_KEY_TYPE / NFTA_SET_DATA_TYPE so that `nft list`
/// can print elements in the right notation.
public enum DataType: String, Sendable, Hashable, CaseIterable {
    case ipv4Address = "ipv4_addr"
    case ipv6Address = "ipv6_addr"
    case etherAddress = "ether_addr"
    case interfaceName = "ifname"
    case uid = "uid"
    case mark = "mark"
    case verdict = "verdict"
    /// A TCP/UDP port (network byte order).
    case inetService = "inet_service"
    /// Conntrack status bits (host byte order), matched with a mask.
    case conntrackStatus = "ct_status"

    /// nft's datatype id (TYPE_*).
    public var nftTypeID: UInt32 {
        switch self {
        case .verdict: return 1        // TYPE_VERDICT
        case .ipv4Address: return 7    // TYPE_IPADDR
        case .ipv6Address: return 8    // TYPE_IP6ADDR
        case .etherAddress: return 9   // TYPE_ETHERADDR
        case .mark: return 19          // TYPE_MARK
        case .uid: return 24           // TYPE_UID
        case .interfaceName: return 41 // TYPE_IFNAME
        case .inetService: return 13   // TYPE_INET_SERVICE
        case .conntrackStatus: return 28 // TYPE_CT_STATUS
        }
    }

    /// Length in bytes of a key or value of this type (verdicts have none).
    public var byteLength: Int {
        switch self {
        case .ipv4Address: return 4
        case .ipv6Address: return 16
        case .etherAddress: return 6
        case .interfaceName: return 16 // IFNAMSIZ
        case .uid, .mark, .conntrackStatus: return 4
        case .inetService: return 2
        case .verdict: return 0
        }
    }

    /// True where the kernel compares the value in host byte order (meta/ct integers).
    public var isHostByteOrder: Bool {
        switch self {
        case .uid, .mark, .conntrackStatus: return true
        default: return false
        }
    }
}

/// A verdict, as a rule's final statement or a verdict-map value.
public enum Verdict: Sendable, Hashable {
    case accept
    case drop
    case `return`
    case jump(String)
    case goto(String)
}

/// A typed set element key or map value.
public enum Value: Sendable, Hashable {
    /// An IPv4/IPv6 address or network (networks need an interval set).
    case network(IPNetwork)
    /// A 6-byte Ethernet address.
    case ether([UInt8])
    /// An interface name (matched exactly).
    case interfaceName(String)
    /// A Unix user id.
    case uid(UInt32)
    /// A 32-bit mark value.
    case mark(UInt32)
    /// A verdict (map values of verdict maps).
    case verdict(Verdict)
    /// A TCP/UDP port.
    case port(UInt16)
}

/// Set flags (NFT_SET_*), the ones dronewall uses.
public struct SetFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let constant = SetFlags(rawValue: 0x2) // NFT_SET_CONSTANT
    public static let interval = SetFlags(rawValue: 0x4) // NFT_SET_INTERVAL
    public static let map = SetFlags(rawValue: 0x8)      // NFT_SET_MAP
    public static let timeout = SetFlags(rawValue: 0x10) // NFT_SET_TIMEOUT
    /// Updated from the packet path (`update @set { ... }`): nft's `dynamic`.
    public static let dynamic = SetFlags(rawValue: 0x20) // NFT_SET_EVAL
}

/// One element of a named set or map.
public struct SetElement: Sendable, Hashable {
    public var key: Value
    /// The mapped value, for maps and verdict maps.
    public var data: Value?
    /// Per-element timeout in milliseconds (timeout sets only).
    public var timeoutMilliseconds: UInt64?
    /// Where this element came from (config or catalogue place), for error reports.
    public var origin: SourceLocation?
    /// Kept with the element in the kernel: for learned addresses, the name they came from.
    public var comment: String?

    public init(key: Value, data: Value? = nil, timeoutMilliseconds: UInt64? = nil, origin: SourceLocation? = nil,
                comment: String? = nil) {
        self.key = key
        self.data = data
        self.timeoutMilliseconds = timeoutMilliseconds
        self.origin = origin
        self.comment = comment
    }
}

/// A named set (no `dataType`) or map (`dataType` set; `.verdict` makes a verdict map).
public struct NamedSet: Sendable, Hashable {
    public var name: String
    public var keyType: DataType
    /// For a concatenated key (`ipv4_addr . ipv4_addr`): every part, in order;
    /// `keyType` is then the first part.
    public var keyParts: [DataType]?
    public var dataType: DataType?
    public var flags: SetFlags
    public var elements: [SetElement]
    /// Default element timeout (`timeout 1m`), for sets the packet path fills.
    public var timeoutMilliseconds: UInt64?
    /// Maximum number of elements (`size 65536`); required by the kernel for dynamic sets.
    public var size: UInt32?
    public var origin: SourceLocation?

    /// A dynamic set the packet path fills, keyed by a concatenation (per-flow log meters).
    public static func meter(name: String, key: [DataType], size: UInt32, timeoutMilliseconds: UInt64) -> NamedSet {
        var s = NamedSet(name: name, keyType: key[0], flags: [.dynamic, .timeout])
        s.keyParts = key
        s.size = size
        s.timeoutMilliseconds = timeoutMilliseconds
        return s
    }

    /// The key's parts (one for a plain key).
    public var keyTypes: [DataType] { keyParts ?? [keyType] }

    public init(name: String, keyType: DataType, dataType: DataType? = nil, flags: SetFlags = [],
                elements: [SetElement] = [], origin: SourceLocation? = nil) {
        self.name = name
        self.keyType = keyType
        self.dataType = dataType
        self.flags = dataType == nil ? flags : flags.union(.map)
        self.elements = elements
        self.origin = origin
    }

    public var isMap: Bool { dataType != nil }
}
