import Units
import NetAddress

/// Reads `dronewall.conf` and its `drones.d/*.conf` drop-ins into a `Config`,
/// collecting every problem with its place.
public struct ConfigReader {
    public static let defaultPath = "/etc/dronewall/dronewall.conf"
    static let stationKeys = ["drone-interfaces", "uplink-interfaces", "unknown-devices", "log-group", "log-retention", "log-max-size",
                              "dns-resolver", "dns-upstream", "dns-port", "dns-sinkhole", "dns-grace", "dns-hold", "dns-strict", "nat64-prefix"]
    static let droneKeys = ["mac", "address", "interface", "link", "user", "policy", "allow", "block", "allow-host",
                            "block-host", "dns-strict"]
    static let listKeys: Set<String> = ["drone-interfaces", "uplink-interfaces", "nat64-prefix", "mac", "address", "interface",
                                         "link", "user", "allow", "block",
                                         "allow-host", "block-host"]

    let reader: SourceReader

    public init(reader: SourceReader = DiskReader()) { self.reader = reader }

    /// Reads the main file and the drop-ins in `drones.d/` beside it, in name order.
    public func read(mainPath: String) -> (Config, Diagnostics) {
        var diags = Diagnostics()
        var config = Config()
        var paths = [mainPath]
        let dropDir = joinPath(directoryOf(mainPath), "drones.d")
        if let names = reader.list(dropDir) {
            paths += names.filter { $0.hasSuffix(".conf") && !$0.hasPrefix(".") }.sorted().map { joinPath(dropDir, $0) }
        }
        var sawStation: SourceLocation?
        for path in paths {
            switch reader.read(path) {
            case let .failure(e):
                diags.error(e.description, at: nil)
                continue
            case let .success(bytes):
                config.files.append(path)
                let sections = IniParser.parse(bytes: bytes, path: path, diagnostics: &diags)
                for section in sections {
                    switch section.kind {
                    case "station":
                        if let first = sawStation {
                            diags.error("a second [station] section; there can be only one", at: section.kindLocation,
                                        length: section.kind.count,
                                        notes: [diags.note("the first [station] is here", at: first)])
                        } else {
                            sawStation = section.kindLocation
                            if let n = section.name {
                                diags.error("[station] takes no name", at: n.location, length: n.text.count)
                            }
                            config.station = readStation(section, &diags)
                        }
                    case "drone":
                        if let drone = readDrone(section, &diags) { config.drones.append(drone) }
                    default:
                        diags.error("unknown section '[\(section.kind)]'\(didYouMean(section.kind, ["station", "drone"]))",
                                    at: section.kindLocation, length: section.kind.count)
                    }
                }
            }
        }
        checkUniqueness(config, &diags)
        return (config, diags)
    }

    // MARK: sections

    func readStation(_ section: IniSection, _ diags: inout Diagnostics) -> StationConfig {
        var station = StationConfig()
        station.location = section.kindLocation
        for entry in entries(of: section, allowed: ConfigReader.stationKeys, &diags) {
            switch entry.key {
            case "drone-interfaces":
                station.droneInterfaces += entry.words.compactMap { interfaceName($0, &diags) }
            case "uplink-interfaces":
                station.uplinkInterfaces += entry.words.compactMap { interfaceName($0, &diags) }
            case "unknown-devices":
                station.unknownDevices = single(entry, &diags).flatMap { policy($0, &diags) }
            case "log-retention":
                if let w = single(entry, &diags) {
                    // The daemon works in microseconds: a cap keeps every derived time far from overflow.
                    if let secs = Units.durationSeconds(w.text), secs >= 3600, secs <= StationConfig.maxLogRetentionSeconds {
                        station.logRetentionSeconds = secs
                    } else {
                        diags.error("log-retention must be a duration from 1h to 100 years (36525d), like 90d, 12w or 48h",
                                    at: w.location, length: w.text.count)
                    }
                }
            case "log-max-size":
                if let w = single(entry, &diags) {
                    if let bytes = Units.byteSize(w.text), bytes >= 1 << 20 {
                        station.logMaxBytes = bytes
                    } else {
                        diags.error("log-max-size must be a size of at least 1M, like 500M or 2G", at: w.location,
                                    length: w.text.count)
                    }
                }
            case "log-group":
                if let w = single(entry, &diags) {
                    if let g = UInt16(w.text) { station.logGroup = g } else {
                        diags.error("log-group must be a number from 0 to 65535", at: w.location, length: w.text.count)
                    }
                }
            case "dns-resolver":
                if let w = single(entry, &diags) {
                    switch w.text {
                    case "on": station.dnsResolver = true
                    case "off": station.dnsResolver = false
                    default: diags.error("dns-resolver is on or off", at: w.location, length: w.text.count)
                    }
                }
            case "dns-upstream":
                for w in entry.words {
                    guard let n = network(w, &diags) else { continue }
                    if n.value.isHost { station.dnsUpstream.append(n) } else {
                        diags.error("dns-upstream takes addresses, not networks", at: w.location, length: w.text.count)
                    }
                }
            case "dns-strict":
                if let w = single(entry, &diags), let v = yesNo(w, "dns-strict", &diags) { station.dnsStrict = v }
            case "dns-hold":
                if let w = single(entry, &diags) {
                    if let secs = Units.durationSeconds(w.text), secs >= 3600, secs <= 30 * 86_400 {
                        station.dnsHoldSeconds = secs
                    } else {
                        diags.error("dns-hold must be a duration from 1h to 30d, like 1d", at: w.location, length: w.text.count)
                    }
                }
            case "nat64-prefix":
                for w in entry.words {
                    guard let n = network(w, &diags) else { continue }
                    if !n.value.isIPv4 && n.value.prefixLength == 96 { station.nat64Prefixes.append(n) } else {
                        diags.error("nat64-prefix takes IPv6 /96 prefixes (RFC 6052), like 2001:db8:64::/96",
                                    at: w.location, length: w.text.count)
                    }
                }
            case "dns-port":
                if let w = single(entry, &diags) {
                    if let p = UInt16(w.text), p >= 1024 { station.dnsPortBase = p } else {
                        diags.error("dns-port must be a port from 1024 to 65535 (the resolver's first port)",
                                    at: w.location, length: w.text.count)
                    }
                }
            case "dns-sinkhole":
                if let w = single(entry, &diags) {
                    if let s = DNSSinkhole(rawValue: w.text) { station.dnsSinkhole = s } else {
                        diags.error("dns-sinkhole is nxdomain, null or off\(didYouMean(w.text, DNSSinkhole.allCases.map(\.rawValue)))",
                                    at: w.location, length: w.text.count)
                    }
                }
            case "dns-grace":
                if let w = single(entry, &diags) {
                    if let secs = Units.durationSeconds(w.text), secs >= StationConfig.minimumDNSGraceSeconds,
                       secs <= 86_400 {
                        station.dnsGraceSeconds = secs
                    } else {
                        diags.error("dns-grace must be a duration from 30s to 1d, like 5m", at: w.location,
                                    length: w.text.count)
                    }
                }
            default: break
            }
        }
        return station
    }

    func yesNo(_ w: IniWord, _ key: String, _ diags: inout Diagnostics) -> Bool? {
        switch w.text {
        case "yes": return true
        case "no": return false
        default:
            diags.error("\(key) is yes or no", at: w.location, length: w.text.count)
            return nil
        }
    }

    func readDrone(_ section: IniSection, _ diags: inout Diagnostics) -> DroneConfig? {
        guard let nameWord = section.name else {
            diags.error("[drone] needs a name, like [drone survey-01]", at: section.kindLocation, length: section.kind.count)
            return nil
        }
        guard Syntax.isName(nameWord.text) else {
            diags.error("bad drone name '\(nameWord.text)': use 1 to 32 letters, digits, '.', '_' or '-'",
                        at: nameWord.location, length: nameWord.text.count)
            return nil
        }
        var drone = DroneConfig(name: nameWord.text, location: nameWord.location)
        for entry in entries(of: section, allowed: ConfigReader.droneKeys, &diags) {
            switch entry.key {
            case "mac":
                drone.macs += entry.words.compactMap { Words.mac($0, &diags) }
            case "address":
                drone.addresses += entry.words.compactMap { network($0, &diags) }
            case "interface":
                drone.interfaces += entry.words.compactMap { interfaceName($0, &diags) }
            case "link":
                drone.links += entry.words.compactMap { interfaceName($0, &diags) }
            case "user":
                drone.users += entry.words.compactMap { Words.user($0, &diags) }
            case "policy":
                drone.policy = single(entry, &diags).flatMap { policy($0, &diags) }
            case "allow":
                drone.allow += entry.words.compactMap { category($0, &diags) }
            case "block":
                drone.block += entry.words.compactMap { category($0, &diags) }
            case "allow-host":
                drone.allowHosts += entry.words.compactMap { host($0, &diags) }
            case "block-host":
                drone.blockHosts += entry.words.compactMap { host($0, &diags) }
            case "dns-strict":
                if let w = single(entry, &diags), let v = yesNo(w, "dns-strict", &diags) { drone.dnsStrict = Located(v, at: w.location) }
            default: break
            }
        }
        // Invalid identity values were reported already; say "no identity" only when none was written.
        let identityKeys: Set<String> = ["mac", "address", "interface", "user"]
        if !drone.hasIdentity && !section.entries.contains(where: { identityKeys.contains($0.key) }) {
            diags.error("drone '\(drone.name)' has no identity: give at least one of mac, address, interface, user",
                        at: nameWord.location, length: nameWord.text.count)
        }
        if drone.policy == nil && !section.entries.contains(where: { $0.key == "policy" }) {
            diags.error("drone '\(drone.name)' has no policy: add 'policy = isolate|local-data|allowlist|monitor'",
                        at: nameWord.location, length: nameWord.text.count)
        }
        for a in drone.allow {
            if let b = drone.block.first(where: { $0.value == a.value }) {
                diags.error("category '\(a.value.rawValue)' is both allowed and blocked", at: b.location,
                            length: a.value.rawValue.count, notes: [diags.note("allowed here", at: a.location)])
            }
        }
        return drone
    }

    /// The entries with known keys; unknown keys and repeated single-value keys are reported.
    func entries(of section: IniSection, allowed: [String], _ diags: inout Diagnostics) -> [IniEntry] {
        var seen: [String: SourceLocation] = [:]
        var out: [IniEntry] = []
        for entry in section.entries {
            guard allowed.contains(entry.key) else {
                diags.error("unknown key '\(entry.key)' in [\(section.kind)]\(didYouMean(entry.key, allowed))",
                            at: entry.keyLocation, length: entry.key.count)
                continue
            }
            if let first = seen[entry.key], !ConfigReader.listKeys.contains(entry.key) {
                diags.error("'\(entry.key)' is set twice in this section", at: entry.keyLocation,
                            length: entry.key.count, notes: [diags.note("first set here", at: first)])
                continue
            }
            seen[entry.key] = entry.keyLocation
            out.append(entry)
        }
        return out
    }

    // MARK: words

    func single(_ entry: IniEntry, _ diags: inout Diagnostics) -> IniWord? {
        if entry.words.count > 1 {
            diags.error("'\(entry.key)' takes one value", at: entry.words[1].location, length: entry.words[1].text.count)
        }
        return entry.words.first
    }

    func policy(_ w: IniWord, _ diags: inout Diagnostics) -> Located<PolicyKind>? {
        if let p = PolicyKind(rawValue: w.text.lowercased()) { return Located(p, at: w.location) }
        let names = PolicyKind.allCases.map(\.rawValue)
        diags.error("unknown policy '\(w.text)'\(didYouMean(w.text, names)) (policies: \(names.joined(separator: ", ")))",
                    at: w.location, length: w.text.count)
        return nil
    }

    func category(_ w: IniWord, _ diags: inout Diagnostics) -> Located<Category>? {
        Words.category(w, &diags)
    }

    func interfaceName(_ w: IniWord, _ diags: inout Diagnostics) -> Located<String>? {
        if Syntax.isInterfaceName(w.text) { return Located(w.text, at: w.location) }
        diags.error("bad interface name '\(w.text)': 1 to 15 characters, no '/', quotes or wildcards",
                    at: w.location, length: w.text.count)
        return nil
    }

    func network(_ w: IniWord, _ diags: inout Diagnostics) -> Located<IPNetwork>? {
        Words.network(w, &diags)
    }

    func host(_ w: IniWord, _ diags: inout Diagnostics) -> Located<HostPattern>? {
        Words.hostPattern(w, &diags)
    }

    // MARK: cross-drone checks

    /// Names, MACs, addresses, interfaces and users belong to one drone each.
    func checkUniqueness(_ config: Config, _ diags: inout Diagnostics) {
        var names: [String: DroneConfig] = [:]
        var macs: [MACAddress: (String, SourceLocation)] = [:]
        var interfaces: [String: (String, SourceLocation)] = [:]
        var users: [UserRef: (String, SourceLocation)] = [:]
        var networks: [(IPNetwork, String, SourceLocation)] = []  // in config order
        for drone in config.drones {
            if let first = names[drone.name] {
                diags.error("duplicate drone name '\(drone.name)'", at: drone.location, length: drone.name.count,
                            notes: [diags.note("first defined here", at: first.location, length: drone.name.count)])
                continue
            }
            names[drone.name] = drone
            for mac in drone.macs {
                if let (owner, at) = macs[mac.value] {
                    diags.error("MAC \(mac.value) is already claimed by drone '\(owner)'", at: mac.location,
                                length: mac.value.description.count, notes: [diags.note("claimed here", at: at)])
                } else { macs[mac.value] = (drone.name, mac.location) }
            }
            for i in drone.interfaces {
                if let (owner, at) = interfaces[i.value] {
                    diags.error("interface \(i.value) is already claimed by drone '\(owner)'", at: i.location,
                                length: i.value.count, notes: [diags.note("claimed here", at: at)])
                } else { interfaces[i.value] = (drone.name, i.location) }
            }
            for u in drone.users {
                if let (owner, at) = users[u.value] {
                    diags.error("user \(u.value) is already claimed by drone '\(owner)'", at: u.location,
                                length: u.value.description.count, notes: [diags.note("claimed here", at: at)])
                } else { users[u.value] = (drone.name, u.location) }
            }
            for a in drone.addresses { networks.append((a.value, drone.name, a.location)) }
        }
        checkOverlaps(networks, &diags)
    }

    /// The kernel's interval maps reject overlapping elements, so every overlap is an error,
    /// reported at the later of the two places. Prefixes either nest or are disjoint: after
    /// sorting by address (wider first), a network overlaps an earlier one exactly when a
    /// network still open on the containment stack contains it.
    func checkOverlaps(_ networks: [(IPNetwork, String, SourceLocation)], _ diags: inout Diagnostics) {
        let order = networks.indices.sorted { i, j in
            let a = networks[i].0, b = networks[j].0
            if a.isIPv4 != b.isIPv4 { return a.isIPv4 }
            if a.value != b.value { return a.value < b.value }
            return a.prefixLength != b.prefixLength ? a.prefixLength < b.prefixLength : i < j
        }
        var stack: [Int] = []
        var reported: [(Int, Int)] = []
        for i in order {
            while let top = stack.last, !networks[top].0.contains(networks[i].0) { stack.removeLast() }
            if let top = stack.last { reported.append((min(top, i), max(top, i))) }
            stack.append(i)
        }
        for (first, second) in reported.sorted(by: { $0.1 < $1.1 }) {
            let (a, owner, at) = networks[first]
            let (b, drone, location) = networks[second]
            let what = a == b ? "is already claimed by" : "overlaps \(a) claimed by"
            let whose = owner == drone ? "the same drone" : "drone '\(owner)'"
            diags.error("address \(b) \(what) \(whose)", at: location, length: b.description.count,
                        notes: [diags.note("claimed here", at: at)])
        }
    }
}
