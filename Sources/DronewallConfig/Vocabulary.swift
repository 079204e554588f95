import NetAddress

/// Data categories a vendor endpoint serves. The raw value is the config word;
/// the order is fixed because each category owns one bit in the kernel's class marks.
public enum Category: String, Sendable, Hashable, CaseIterable, Comparable {
    case flightLogs = "flight-logs"
    case telemetry
    case media
    case firmware
    case appUpdate = "app-update"
    case geofence
    case maps
    case account
    case remoteConfig = "remote-config"
    case support
    case other

    /// Bit index in the class mark (stable: changing it changes the kernel ABI of dronewall).
    public var bitIndex: Int { Category.allCases.firstIndex(of: self)! }
    public var bit: UInt32 { 1 << UInt32(bitIndex) }
    public static var allBits: UInt32 { allCases.reduce(0) { $0 | $1.bit } }

    public static func < (a: Category, b: Category) -> Bool { a.bitIndex < b.bitIndex }

    /// Categories whose bits are set in `mask`, in bit order.
    public static func from(mask: UInt32) -> [Category] { allCases.filter { mask & $0.bit != 0 } }
}

/// A set of categories, as the bits of the kernel's class marks (`Category.bit`).
public struct CategorySet: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue & Category.allBits }
    public init<S: Sequence<Category>>(_ categories: S) { self.init(rawValue: categories.reduce(0) { $0 | $1.bit }) }
    public init(_ category: Category) { self.init(rawValue: category.bit) }

    public static let all = CategorySet(rawValue: Category.allBits)

    public func contains(_ c: Category) -> Bool { rawValue & c.bit != 0 }
    /// The members, in bit order.
    public var categories: [Category] { Category.from(mask: rawValue) }
    /// Config words, space-separated, in bit order.
    public var description: String { categories.map(\.rawValue).joined(separator: " ") }
}

/// What a drone may send beyond the station (see DESIGN.md, "Config").
public enum PolicyKind: String, Sendable, Hashable, CaseIterable {
    /// Nothing beyond the station and its drone LAN.
    case isolate
    /// Every catalogued manufacturer category blocked; other internet allowed.
    case localData = "local-data"
    /// Only what `allow` / `allow-host` name.
    case allowlist
    /// Nothing blocked; what local-data would block is counted (and logged, later).
    case monitor
}

/// A host in `allow-host` / `block-host` or a catalogue endpoint: a domain (with its
/// subdomains) or an address/network.
public enum HostPattern: Sendable, Hashable, CustomStringConvertible {
    case domain(String)
    case network(IPNetwork)

    public var description: String {
        switch self {
        case let .domain(d): return d
        case let .network(n): return n.description
        }
    }

    /// True when `name` is this domain or below it (on label boundaries). Names are compared as
    /// given: config and catalogue domains are lowercase, and so are names the resolver parsed.
    public func covers(name: String) -> Bool {
        guard case let .domain(d) = self else { return false }
        return name == d || (name.hasSuffix(d) && name.utf8.dropLast(d.utf8.count).last == UInt8(ascii: "."))
    }

    /// `name` and each of its parents, most specific first (`a.example.org`, `example.org`,
    /// `org`): the keys to look a name up by, when a domain covers its subdomains.
    public static func domainAndParents(_ name: String) -> [Substring] {
        var out: [Substring] = []
        var rest = Substring(name)
        while !rest.isEmpty {
            out.append(rest)
            guard let dot = rest.firstIndex(of: ".") else { break }
            rest = rest[rest.index(after: dot)...]
        }
        return out
    }

    /// True when everything `other` matches is matched by this pattern too (a domain and its
    /// subdomains; a network inside this one).
    public func covers(_ other: HostPattern) -> Bool {
        switch (self, other) {
        case let (.domain, .domain(name)): return covers(name: name)
        case let (.network(mine), .network(theirs)): return mine.contains(theirs)
        default: return false
        }
    }
}

/// A Unix user, by name or numeric id; names are resolved when the policy is compiled.
public enum UserRef: Sendable, Hashable, CustomStringConvertible {
    case name(String)
    case uid(UInt32)

    public var description: String {
        switch self {
        case let .name(n): return n
        case let .uid(u): return String(u)
        }
    }
}

/// Word-level validators shared by the config and catalogue readers.
public enum Syntax {
    /// A domain name: 2+ labels of letters, digits and inner hyphens, 1-63 chars each,
    /// 253 in all; a trailing dot is allowed. Returns the lowercase form or a reason.
    public static func domain(_ text: String) -> Result<String, DomainError> {
        var s = text.lowercased()
        if s.hasSuffix(".") { s.removeLast() }
        guard !s.isEmpty, s.utf8.count <= 253 else { return .failure(.length) }
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return .failure(.singleLabel) }
        for label in labels {
            guard !label.isEmpty else { return .failure(.emptyLabel) }
            guard label.utf8.count <= 63 else { return .failure(.labelLength(String(label))) }
            guard label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                return .failure(.character(String(label)))
            }
            guard label.first != "-", label.last != "-" else { return .failure(.hyphen(String(label))) }
        }
        guard labels.last!.contains(where: { $0.isLetter }) else { return .failure(.numericTop) }
        return .success(s)
    }

    public enum DomainError: Error, CustomStringConvertible {
        case length, singleLabel, emptyLabel, labelLength(String), character(String), hyphen(String), numericTop
        public var description: String {
            switch self {
            case .length: return "a domain name has 1 to 253 characters"
            case .singleLabel: return "a domain name needs at least two labels (like example.org)"
            case .emptyLabel: return "empty label (two dots in a row or a leading dot)"
            case let .labelLength(l): return "label '\(l)' is longer than 63 characters"
            case let .character(l): return "label '\(l)' may hold only letters, digits and '-'"
            case let .hyphen(l): return "label '\(l)' may not start or end with '-'"
            case .numericTop: return "the last label of a domain name cannot be all digits"
            }
        }
    }

    /// Looks like an address attempt (digits, dots, colons, a slash) rather than a name.
    public static func looksLikeAddress(_ s: String) -> Bool {
        // ASCII text on its bytes (the same answer: there a byte is a character), other text as characters.
        if s.utf8.allSatisfy({ $0 < 0x80 }) {
            return s.utf8.contains(UInt8(ascii: ":")) || s.utf8.contains(UInt8(ascii: "/"))
                || s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") }
        }
        return s.contains(":") || s.contains("/") || s.allSatisfy { $0.isNumber || $0 == "." }
    }

    /// A Linux interface name: 1-15 bytes, no '/', whitespace, quotes or wildcards.
    public static func isInterfaceName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 15 && s != "." && s != ".."
            && s.allSatisfy { $0.isASCII && !$0.isWhitespace && !"/\"'*:".contains($0) }
    }

    /// A user name as useradd accepts it, or a numeric uid.
    public static func user(_ s: String) -> UserRef? {
        if s.allSatisfy({ $0.isASCII && $0.isNumber }), let u = UInt32(s) { return .uid(u) }
        guard s.utf8.count <= 32, let f = s.first, f.isASCII, f.isLetter || f == "_",
              s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }) else { return nil }
        return .name(s)
    }

    /// Drone and vendor names: 1-32 of letters, digits, '.', '_', '-'.
    public static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 32 && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }
}
