/// Reads `*.rules` vendor files from the catalogue directories.
///
/// Layout of a file: one `[vendor ID]` section (name, jurisdiction, source), then
/// `[endpoint VALUE]` sections (categories, source). Later directories add vendors and
/// override endpoints of the same vendor (an admin's `vendors.d` entry replaces the
/// shipped one); one endpoint claimed by two vendors is an error.
public struct CatalogueReader {
    public static let defaultDirectories = ["/usr/share/dronewall/vendors", "/etc/dronewall/vendors.d"]
    static let vendorKeys = ["name", "jurisdiction", "source"]
    static let endpointKeys = ["categories", "source"]

    let reader: SourceReader
    public init(reader: SourceReader = DiskReader()) { self.reader = reader }

    /// Reads every `*.rules` file of `directories`, in order. With `required`, a missing
    /// directory is an error (one the user named must exist; the default path may not).
    public func read(directories: [String], required: Bool = false) -> (Catalogue, Diagnostics) {
        var diags = Diagnostics()
        var catalogue = Catalogue()
        var owner: [HostPattern: (vendor: String, index: Int, location: SourceLocation)] = [:]
        for dir in directories {
            guard let names = reader.list(dir) else {
                if required { diags.error("catalogue directory \(dir) does not exist", at: nil) }
                continue
            }
            let versioned = names.contains("VERSION") ? readVersion(joinPath(dir, "VERSION"), &diags) : nil
            if catalogue.version == nil, let versioned { catalogue.version = versioned }
            for name in names.filter({ $0.hasSuffix(".rules") && !$0.hasPrefix(".") }).sorted() {
                let path = joinPath(dir, name)
                switch reader.read(path) {
                case let .failure(e): diags.error(e.description, at: nil)
                case let .success(bytes):
                    catalogue.files.append(path)
                    if versioned == nil { catalogue.localFiles.append(path) }
                    // Section by section as the parser completes them: a 100k-entry file is never
                    // held as 100k parsed sections.
                    var current: Int?
                    // Room for every section the file may hold, so the map is not regrown as it fills.
                    owner.reserveCapacity(owner.count + bytes.reduce(0) { $0 + ($1 == UInt8(ascii: "[") ? 1 : 0) })
                    IniParser.forEachSection(bytes: bytes, path: path, diagnostics: &diags) { section, diags in
                        readSection(section, vendor: &current, into: &catalogue, owner: &owner, &diags)
                    }
                }
            }
        }
        readResolvers(CatalogueReader.resolverFiles(forCatalogueDirectories: directories), into: &catalogue, &diags)
        return (catalogue, diags)
    }

    /// A catalogue directory's `VERSION`: the date it was last reviewed, `YYYY-MM-DD`, optionally
    /// followed by `.N` for a second release on one day.
    func readVersion(_ path: String, _ diags: inout Diagnostics) -> String? {
        guard case let .success(bytes) = reader.read(path) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let version = String(text.drop(while: { $0 == " " || $0 == "\t" }).reversed()
            .drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
        let parts = version.split(separator: ".", maxSplits: 1)
        let date = parts.first.map { $0.split(separator: "-", omittingEmptySubsequences: false) } ?? []
        let digits = { (s: Substring, n: Int) in s.count == n && s.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard date.count == 3, digits(date[0], 4), digits(date[1], 2), digits(date[2], 2),
              parts.count == 1 || (parts[1].count <= 3 && digits(parts[1], parts[1].count)) else {
            diags.error("\(path): a catalogue version is a date like 2026-11-25 (or 2026-11-25.2)", at: nil)
            return nil
        }
        return version
    }

    /// One section of a file; `current` is the index of this file's vendor in catalogue.vendors.
    func readSection(_ section: IniSection, vendor current: inout Int?, into catalogue: inout Catalogue,
                     owner: inout [HostPattern: (vendor: String, index: Int, location: SourceLocation)],
                     _ diags: inout Diagnostics) {
        switch section.kind {
        case "vendor":
            guard let id = section.name, Syntax.isName(id.text) else {
                diags.error("[vendor] needs an id of 1 to 32 letters, digits, '.', '_' or '-'",
                            at: section.name?.location ?? section.kindLocation)
                current = nil
                return
            }
            if current != nil {
                diags.error("a second [vendor] section in one file; use one file per vendor", at: section.kindLocation,
                            length: section.kind.count)
            }
            let fields = keyed(section, allowed: CatalogueReader.vendorKeys, &diags)
            if let existing = catalogue.vendors.firstIndex(where: { $0.id == id.text }) {
                current = existing  // a later file extends or overrides this vendor
                if let n = fields["name"] { catalogue.vendors[existing].name = n.value }
                return
            }
            for required in ["name", "jurisdiction", "source"] where fields[required] == nil {
                diags.error("vendor '\(id.text)' has no '\(required)'", at: id.location, length: id.text.count)
            }
            let j = fields["jurisdiction"]
            if let j, !(j.value.count == 2 && j.value.allSatisfy({ $0.isASCII && $0.isUppercase })) {
                diags.error("jurisdiction must be an ISO 3166 two-letter code like CN or US", at: j.location,
                            length: j.value.count)
            }
            catalogue.vendors.append(Vendor(id: id.text, name: fields["name"]?.value ?? id.text,
                                            jurisdiction: j?.value ?? "", source: fields["source"]?.value ?? "",
                                            location: id.location, endpoints: []))
            current = catalogue.vendors.count - 1
        case "endpoint":
            guard let v = current else {
                diags.error("[endpoint] before any [vendor] section", at: section.kindLocation, length: section.kind.count)
                return
            }
            guard let valueWord = section.name, let pattern = Words.hostPattern(valueWord, &diags) else {
                if section.name == nil {
                    diags.error("[endpoint] needs a domain or CIDR, like [endpoint flysafe.dji.com]",
                                at: section.kindLocation, length: section.kind.count)
                }
                return
            }
            let fields = keyed(section, allowed: CatalogueReader.endpointKeys, &diags)
            var categories: [Category] = []
            if let entry = section.entries.last(where: { $0.key == "categories" }) {
                for w in entry.words { if let c = Words.category(w, &diags) { categories.append(c.value) } }
            } else {
                diags.error("endpoint '\(valueWord.text)' has no 'categories'", at: valueWord.location,
                            length: valueWord.text.count)
            }
            if fields["source"] == nil {
                diags.error("endpoint '\(valueWord.text)' has no 'source'; every entry cites a public source",
                            at: valueWord.location, length: valueWord.text.count)
            }
            if case let .domain(d) = pattern.value, let shared = SharedPlatforms.covered(by: d).first {
                diags.warning("endpoint \(d) covers \(shared), a domain shared by many unrelated services: "
                              + "everything there would count as this vendor; list the vendor's own hosts instead",
                              at: valueWord.location, length: valueWord.text.count)
            }
            let vendorID = catalogue.vendors[v].id
            let endpoint = Endpoint(pattern: pattern.value,
                                    categories: categories.count == 1 ? categories : Array(Set(categories)).sorted(),
                                    source: fields["source"]?.value ?? "", vendorID: vendorID,
                                    location: valueWord.location)
            if let prior = owner[pattern.value] {
                if prior.vendor != vendorID {
                    diags.error("endpoint \(pattern.value) is already claimed by vendor '\(prior.vendor)'",
                                at: valueWord.location, length: valueWord.text.count,
                                notes: [diags.note("claimed here", at: prior.location)])
                    return
                }
                if prior.location.file == valueWord.location.file {
                    diags.error("endpoint \(pattern.value) is listed twice", at: valueWord.location,
                                length: valueWord.text.count, notes: [diags.note("first listed here", at: prior.location)])
                    return
                }
                // Same vendor in a later file: the later entry overrides.
                if let i = catalogue.vendors[v].endpoints.firstIndex(where: { $0.pattern == pattern.value }) {
                    catalogue.vendors[v].endpoints[i] = endpoint
                }
                owner[pattern.value] = (vendorID, prior.index, valueWord.location)
                return
            }
            catalogue.vendors[v].endpoints.append(endpoint)
            owner[pattern.value] = (vendorID, catalogue.vendors[v].endpoints.count - 1, valueWord.location)
        default:
            diags.error("unknown section '[\(section.kind)]'\(didYouMean(section.kind, ["vendor", "endpoint"]))",
                        at: section.kindLocation, length: section.kind.count)
        }
    }

    /// Single-valued fields by key; unknown keys reported.
    func keyed(_ section: IniSection, allowed: [String], _ diags: inout Diagnostics) -> [String: Located<String>] {
        var out: [String: Located<String>] = [:]
        for entry in section.entries {
            guard allowed.contains(entry.key) else {
                diags.error("unknown key '\(entry.key)' in [\(section.kind)]\(didYouMean(entry.key, allowed))",
                            at: entry.keyLocation, length: entry.key.count)
                continue
            }
            out[entry.key] = Located(entry.value, at: entry.valueLocation)
        }
        return out
    }
}
