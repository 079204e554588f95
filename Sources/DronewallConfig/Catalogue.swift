/// The vendor endpoint catalogue: who runs which cloud endpoint, and what data goes there.

/// One catalogued endpoint: a domain (with its subdomains) or a network.
public struct Endpoint: Sendable, Hashable {
    public var pattern: HostPattern
    public var categories: [Category]
    /// The public analysis the entry comes from.
    public var source: String
    public var vendorID: String
    public var location: SourceLocation

    /// Category bits, as the kernel's class marks carry them.
    public var mask: UInt32 { categories.reduce(0) { $0 | $1.bit } }
}

/// A manufacturer or service and its endpoints.
public struct Vendor: Sendable {
    public var id: String
    public var name: String
    /// ISO 3166-1 alpha-2 code of the jurisdiction the vendor answers to.
    public var jurisdiction: String
    public var source: String
    public var location: SourceLocation
    public var endpoints: [Endpoint]
}

/// Every vendor read from the catalogue directories.
public struct Catalogue: Sendable {
    public var vendors: [Vendor] = []
    public var files: [String] = []
    /// The dated version of the shipped catalogue (its directory's `VERSION` file), if any.
    public var version: String?
    /// `.rules` files read from directories without a `VERSION` (an admin's `vendors.d`).
    public var localFiles: [String] = []
    /// Public resolvers drones may not use directly, and the files they came from.
    public var resolvers: [PublicResolver] = []
    public var resolverFiles: [String] = []
    public init(vendors: [Vendor] = []) { self.vendors = vendors }

    /// `2026-11-25`, `2026-11-25 + 1 local file`, `unversioned`: shown by status and explain.
    public var versionLabel: String {
        let base = version ?? "unversioned"
        switch localFiles.count {
        case 0: return base
        case 1: return base + " + 1 local file"
        case let n: return base + " + \(n) local files"
        }
    }

    public var endpoints: [Endpoint] { vendors.flatMap(\.endpoints) }
    public func vendor(_ id: String) -> Vendor? { vendors.first { $0.id == id } }
}
