import NetAddress

/// Public DNS resolvers (DoH, DoT, DoQ, app-embedded HTTP DNS): drones may reach them only
/// through the station's resolver. Read from `resolvers.rules` beside each catalogue directory
/// (`/usr/share/dronewall/resolvers.rules`, `/etc/dronewall/resolvers.rules`).
public struct PublicResolver: Sendable {
    public var id: String
    public var name: String
    public var source: String
    /// Host names of the service; each covers its subdomains.
    public var names: [Located<String>]
    /// Published service addresses (used for DNS only, so every port is closed).
    public var addresses: [Located<IPNetwork>]
    public var location: SourceLocation
}

extension CatalogueReader {
    static let resolverKeys = ["name", "source", "names", "addresses"]

    /// `resolvers.rules` in the parent of each catalogue directory, each file once.
    public static func resolverFiles(forCatalogueDirectories dirs: [String]) -> [String] {
        var out: [String] = []
        for dir in dirs {
            var d = dir
            while d.count > 1 && d.hasSuffix("/") { d.removeLast() }
            let parent = d.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            let path = joinPath(parent.isEmpty ? (d.hasPrefix("/") ? "/" : ".") : parent, "resolvers.rules")
            if !out.contains(path) { out.append(path) }
        }
        return out
    }

    /// Reads the resolver files that exist; a missing file is not an error.
    func readResolvers(_ paths: [String], into catalogue: inout Catalogue, _ diags: inout Diagnostics) {
        var seenNames: [String: SourceLocation] = [:]
        for path in paths {
            guard case let .success(bytes) = reader.read(path) else { continue }
            catalogue.resolverFiles.append(path)
            for section in IniParser.parse(bytes: bytes, path: path, diagnostics: &diags) {
                guard section.kind == "resolver" else {
                    diags.error("unknown section '[\(section.kind)]' in a resolver list\(didYouMean(section.kind, ["resolver"]))",
                                at: section.kindLocation, length: section.kind.count)
                    continue
                }
                guard let id = section.name, Syntax.isName(id.text) else {
                    diags.error("[resolver] needs an id of 1 to 32 letters, digits, '.', '_' or '-'",
                                at: section.kindLocation, length: section.kind.count)
                    continue
                }
                let fields = keyed(section, allowed: CatalogueReader.resolverKeys, &diags)
                if fields["source"] == nil {
                    diags.error("resolver '\(id.text)' has no 'source'; every entry cites a public source",
                                at: id.location, length: id.text.count)
                }
                var entry = PublicResolver(id: id.text, name: fields["name"]?.value ?? id.text,
                                           source: fields["source"]?.value ?? "", names: [], addresses: [],
                                           location: id.location)
                for e in section.entries where e.key == "names" {
                    for w in e.words {
                        guard let d = Words.domain(w, &diags) else { continue }
                        if let prior = seenNames[d.value] {
                            diags.error("resolver name \(d.value) is listed twice", at: w.location, length: w.text.count,
                                        notes: [diags.note("first listed here", at: prior)])
                            continue
                        }
                        seenNames[d.value] = w.location
                        entry.names.append(d)
                    }
                }
                for e in section.entries where e.key == "addresses" {
                    entry.addresses += e.words.compactMap { Words.network($0, &diags) }
                }
                if entry.names.isEmpty && entry.addresses.isEmpty {
                    diags.error("resolver '\(id.text)' lists neither names nor addresses", at: id.location,
                                length: id.text.count)
                }
                catalogue.resolvers.append(entry)
            }
        }
    }
}
