import DronewallConfig

/// Why a logging rule logged a packet: the category it is bound for, or a rule that is not
/// about categories.
public enum LogReason: Sendable, Hashable, CustomStringConvertible {
    case category(Category)
    /// A `block-host` entry.
    case host
    /// Policy isolate: everything beyond the station.
    case all
    /// Policy allowlist: a destination the list does not name.
    case unlisted
    /// Packets conntrack could not track (invalid, or untracked by a notrack rule elsewhere):
    /// they carry no class mark, so they are dropped rather than judged.
    case untracked
    /// A way around the station resolver (DoT/DoQ, DoH endpoints, other resolvers).
    case dnsBypass
    /// An IPv4-mapped IPv6 destination (::ffff:0:0/96), which never belongs on the wire: a
    /// way to reach an IPv4 endpoint past the IPv4 maps on a sloppy uplink.
    case mappedAddress
    /// A source address with no route back through the link it came in on: a device borrowing
    /// an address of another link's drone (strict reverse-path check).
    case reversePath
    /// A drone's MAC or address arriving on a link that is not the drone's (`link =`): a copy.
    case wrongLink
    /// `dns-strict`: a destination the station resolver did not answer to this drone.
    case unresolved

    /// The word in log prefixes, flow records and reports.
    public var word: String {
        switch self {
        case let .category(c): return c.rawValue
        case .host: return "host"
        case .all: return "all"
        case .unlisted: return "unlisted"
        case .untracked: return "untracked"
        case .dnsBypass: return "dns-bypass"
        case .mappedAddress: return "mapped-address"
        case .reversePath: return "reverse-path"
        case .wrongLink: return "wrong-link"
        case .unresolved: return "unresolved"
        }
    }

    public var description: String { word }

    public init?(word: String) {
        switch word {
        case "host": self = .host
        case "all": self = .all
        case "unlisted": self = .unlisted
        case "untracked": self = .untracked
        case "dns-bypass": self = .dnsBypass
        case "mapped-address": self = .mappedAddress
        case "reverse-path": self = .reversePath
        case "wrong-link": self = .wrongLink
        case "unresolved": self = .unresolved
        default:
            guard let c = Category(rawValue: word) else { return nil }
            self = .category(c)
        }
    }
}

/// What a logging rule reports: the packet was dropped, or (monitor) would have been.
public enum LogVerdict: String, Sendable, Hashable, CaseIterable, Codable {
    case blocked
    case wouldBlock = "would-block"
}

/// The prefix of dronewall's NFLOG rules: `dw drone=NAME cat=REASON ` (blocked) or
/// `dw drone=NAME cat=REASON would-block `. Written by the compiler, parsed back by the flow
/// log and `status` (at most 127 bytes in the kernel).
public struct LogPrefix: Sendable, Hashable, CustomStringConvertible {
    /// The drone's name, or `KernelLayout.unknownDroneWord` for unknown devices.
    public var drone: String
    public var reason: LogReason
    public var verdict: LogVerdict

    public init(drone: String, reason: LogReason, verdict: LogVerdict = .blocked) {
        (self.drone, self.reason, self.verdict) = (drone, reason, verdict)
    }

    public var text: String {
        "dw drone=\(drone) cat=\(reason.word) " + (verdict == .wouldBlock ? "would-block " : "")
    }

    public var description: String { text }

    /// Nil for anything the compiler did not write (another rule logging to the same group).
    public init?(parsing prefix: String) {
        let words = prefix.split(separator: " ")
        guard words.count == 3 || words.count == 4, words[0] == "dw", words[1].hasPrefix("drone="),
              words[2].hasPrefix("cat="), let reason = LogReason(word: String(words[2].dropFirst(4))) else { return nil }
        var verdict = LogVerdict.blocked
        if words.count == 4 {
            guard words[3] == "would-block" else { return nil }
            verdict = .wouldBlock
        }
        self.init(drone: String(words[1].dropFirst(6)), reason: reason, verdict: verdict)
    }
}
