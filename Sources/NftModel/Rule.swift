import SourcePlaces
/// Rules in kernel vocabulary: what a rule loads, compares, looks up and does.
///
/// Each case corresponds to a fixed sequence of kernel expressions (payload/meta/ct
/// loads, cmp, bitwise, lookup, immediate, counter, log). Protocol dependencies
/// (`meta nfproto ipv4` before `ip saddr`, `meta iiftype ether` before `ether saddr`)
/// are implied by the field and added by the linearizer, as nft itself does.

/// A packet or connection field a rule reads.
public enum Field: String, Sendable, Hashable {
    case etherSource = "ether saddr"
    case ipv4Source = "ip saddr"
    case ipv4Destination = "ip daddr"
    case ipv6Source = "ip6 saddr"
    case ipv6Destination = "ip6 daddr"
    case inputInterfaceName = "iifname"
    case outputInterfaceName = "oifname"
    case socketUID = "meta skuid"
    case conntrackMark = "ct mark"
    case conntrackStatus = "ct status"
    case udpDestinationPort = "udp dport"
    case tcpDestinationPort = "tcp dport"

    /// The type of value the field holds, for set lookups and constants.
    public var dataType: DataType {
        switch self {
        case .etherSource: return .etherAddress
        case .ipv4Source, .ipv4Destination: return .ipv4Address
        case .ipv6Source, .ipv6Destination: return .ipv6Address
        case .inputInterfaceName, .outputInterfaceName: return .interfaceName
        case .socketUID: return .uid
        case .conntrackMark: return .mark
        case .conntrackStatus: return .conntrackStatus
        case .udpDestinationPort, .tcpDestinationPort: return .inetService
        }
    }
}

/// Layer-3 protocol of an inet-family packet.
public enum NetworkFamily: String, Sendable, Hashable {
    case ipv4, ipv6
}

/// Conntrack states a packet can be in (nft's `ct state` bits).
public enum ConntrackState: String, Sendable, Hashable, CaseIterable {
    case invalid, established, related, new, untracked

    /// The kernel's bit (NF_CT_STATE_BIT / NF_CT_STATE_UNTRACKED_BIT).
    public var bit: UInt32 {
        switch self {
        case .invalid: return 1
        case .established: return 2
        case .related: return 4
        case .new: return 8
        case .untracked: return 64
        }
    }
}

/// A condition; all matches of a rule must hold.
public enum Match: Sendable, Hashable {
    /// `ct state invalid,untracked`: the packet is in any of these states.
    case conntrackState([ConntrackState])
    /// `meta nfproto ipv4`: placed first so the statements after it (counters) see one family only.
    case family(NetworkFamily)
    /// `FIELD == VALUE` / `FIELD != VALUE`.
    case equals(Field, Value, negated: Bool)
    /// `FIELD @set` / `FIELD != @set`.
    case inSet(Field, set: String, negated: Bool)
    /// `FIELD & mask == value` (`negated`: `!=`), on 32-bit host-order fields such as ct mark.
    case masked(Field, mask: UInt32, value: UInt32, negated: Bool)
    /// `fib saddr . iif oif missing`: no route back to the source through the interface the
    /// packet came in on (strict reverse-path check; prerouting, input and forward only).
    case reversePathMissing
    /// `ct label 127` / `ct label ! 127` (`negated`): the connection has / lacks this conntrack
    /// label bit (0-127), whatever its other label bits are.
    case conntrackLabel(UInt8, negated: Bool)
}

/// Where a `ct mark set` takes its new value from.
public enum MarkSource: Sendable, Hashable {
    /// A constant: `ct mark set 0x00000000`.
    case constant(UInt32)
    /// The current mark with bits set: `ct mark set ct mark | 0x80000000`.
    case orBits(UInt32)
    /// A map lookup: `ct mark set ip daddr map @endpoints_v4` (no change when absent).
    case lookup(Field, map: String)
}

/// A statement that does something without ending evaluation.
public enum Statement: Sendable, Hashable {
    /// Count packets and bytes (read back by `dronewall status`).
    case counter
    /// Send the packet to NFLOG group `group` with `prefix` (at most 127 bytes).
    case log(prefix: String, group: UInt16)
    /// Set the conntrack mark.
    case setConntrackMark(MarkSource)
    /// `ct label set 127`: add this conntrack label bit (0-127); the kernel keeps the other bits.
    case setConntrackLabel(UInt8)
    /// `update @set { KEY limit rate R/second burst B packets }`: a per-key token bucket; when
    /// the key's bucket is empty the rule stops here (so put the verdict in a later rule).
    case meterLimit(set: String, key: [Field], perSecond: UInt32, burst: UInt32)
}

/// The final action of a rule.
public enum RuleAction: Sendable, Hashable {
    case verdict(Verdict)
    /// `FIELD vmap @map`: one lookup picks the verdict; no match continues.
    case verdictMap(Field, map: String)
    /// nat only: send the packet to this port on the station itself (`redirect to :PORT`).
    case redirect(port: UInt16)
}

/// One rule: matches, then statements, then an optional final action.
public struct Rule: Sendable, Hashable {
    public var matches: [Match]
    public var statements: [Statement]
    public var action: RuleAction?
    /// Where the rule came from (e.g. `drones.d/survey.conf:4:1`), for error reports.
    public var origin: SourceLocation?

    public init(_ matches: [Match] = [], _ statements: [Statement] = [], _ action: RuleAction? = nil,
                origin: SourceLocation? = nil) {
        self.matches = matches
        self.statements = statements
        self.action = action
        self.origin = origin
    }
}
