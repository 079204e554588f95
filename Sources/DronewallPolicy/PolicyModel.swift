import DronewallConfig
import NetAddress
import KernelLayout

/// The evaluate stage between reading and compiling (nft's parse -> evaluate -> linearize):
/// turns the config into `DronePolicy` values, resolving users and resolver ports once and
/// reporting what only the whole policy shows (users claimed twice, allows without effect).
public enum PolicyModel {
    public typealias UserResolver = @Sendable (String) -> UInt32?

    /// One policy per drone, in config order, then the unknown devices when drone interfaces
    /// are set. Errors and warnings go to `diags`; drones without a policy (already an error
    /// of the config reader) are left out.
    /// `stationNameservers`: the station's own /etc/resolv.conf, for what it means to `user =` drones.
    public static func validate(_ config: Config, catalogue: Catalogue, resolveUser: UserResolver,
                                stationNameservers: [String] = [], into diags: inout Diagnostics) -> [DronePolicy] {
        let station = config.station
        let ports = resolverPorts(config, &diags)
        let index = CatalogueIndex(catalogue, addressLookups: false)  // only what serves a category is asked
        var seenUIDs: [UInt32: String] = [:]
        var out: [DronePolicy] = []
        var ineffective = IneffectiveAllows()

        for drone in config.drones {
            guard let kind = drone.policy?.value else { continue }
            var identities: [Located<DronePolicy.Identity>] = []
            identities += drone.macs.map { Located(.mac($0.value), at: $0.location) }
            identities += drone.addresses.map { Located(.network($0.value), at: $0.location) }
            identities += drone.interfaces.map { Located(.interface($0.value), at: $0.location) }
            for u in drone.users {
                let uid: UInt32
                switch u.value {
                case let .uid(n): uid = n
                case let .name(n):
                    guard let r = resolveUser(n) else {
                        diags.error("no such user '\(n)' on this station", at: u.location, length: n.count)
                        continue
                    }
                    uid = r
                }
                if let owner = seenUIDs[uid] {
                    if owner != drone.name {
                        diags.error("user \(u.value) (uid \(uid)) is already claimed by drone '\(owner)'",
                                    at: u.location, length: u.value.description.count)
                    }
                    continue
                }
                seenUIDs[uid] = drone.name
                identities.append(Located(.uid(uid), at: u.location))
            }
            let allow = CategorySet(drone.allow.map(\.value)), block = CategorySet(drone.block.map(\.value))
            var policy = DronePolicy(
                subject: .drone(drone.name), kind: kind, identities: identities,
                blocked: DronePolicy.blocked(kind, allow: allow, block: block),
                wouldBlock: DronePolicy.wouldBlock(kind, allow: allow, block: block),
                allowHosts: drone.allowHosts, blockHosts: drone.blockHosts,
                resolverPort: ports?[drone.name], origin: drone.location)
            policy.dnsStrict = drone.dnsStrict?.value ?? station.dnsStrict
            if policy.dnsStrict && !station.dnsResolver {
                diags.error("dns-strict needs the station resolver (dns-resolver = on)",
                            at: drone.dnsStrict?.location ?? station.location, length: 1)
            }
            if !drone.links.isEmpty {
                // A drone known by its interface arrives there too.
                policy.links = drone.links + drone.interfaces.filter { i in !drone.links.contains { $0.value == i.value } }
                if !drone.users.isEmpty {
                    diags.warning("link has no effect for a drone with user = (local apps have no input interface)",
                                  at: drone.links[0].location, length: drone.links[0].value.count)
                }
            }
            checkHostNames(drone, resolver: station.dnsResolver, &diags)
            warnRelayedLookups(policy, stationNameservers: stationNameservers, &diags)
            warnIneffectiveAllows(drone.allow, policy: policy, index: index, found: &ineffective, &diags)
            out.append(policy)
        }

        if !station.hasUnknownDevices {
            if station.unknownDevices != nil {
                diags.warning("unknown-devices applies only to traffic from drone-interfaces, and none are set",
                              at: station.unknownDevices?.location, length: station.unknownDevicesPolicy.rawValue.count)
            }
        } else {
            let kind = station.unknownDevicesPolicy
            var unknown = DronePolicy(subject: .unknownDevices, kind: kind,
                                      blocked: DronePolicy.blocked(kind, allow: [], block: []),
                                      wouldBlock: DronePolicy.wouldBlock(kind, allow: [], block: []),
                                      resolverPort: ports == nil ? nil : station.dnsPortBase, origin: station.location)
            unknown.dnsStrict = station.dnsStrict && station.dnsResolver
            out.append(unknown)
        }
        warnIdentityEscape(config, out, &diags)
        return out
    }

    /// With neither `uplink-interfaces` nor `drone-interfaces` there is no drone territory: a
    /// drone known by MAC or address that changes either (Wi-Fi clients randomise MACs) matches
    /// nothing and is forwarded unfiltered. (With drone interfaces only, `check` says so in its
    /// posture line: whether a drone's link is one of them is not in the config.)
    static func warnIdentityEscape(_ config: Config, _ drones: [DronePolicy], _ diags: inout Diagnostics) {
        guard !config.station.hasUnknownDevices else { return }
        for d in drones {
            guard let id = d.identities.first(where: { if case .mac = $0.value { true } else if case .network = $0.value { true } else { false } }),
                  d.interfaces.isEmpty else { continue }
            diags.warning("\(d.subject) is known by \(id.value) only: with a new MAC or address it is forwarded "
                          + "unfiltered; set [station] uplink-interfaces (every other link is then drone territory) "
                          + "or name its link in drone-interfaces", at: id.location, length: 1)
        }
    }

    /// Each drone's resolver port (see `KernelLayout.dnsPorts`); nil when the resolver is off
    /// or `dns-port` leaves no room for them (an error).
    static func resolverPorts(_ config: Config, _ diags: inout Diagnostics) -> [String: UInt16]? {
        let station = config.station
        guard station.dnsResolver else { return nil }
        let base = station.dnsPortBase
        if Int(base) + KernelLayout.dnsPortSlots > 65_535 {
            diags.error("dns-port \(base) leaves no room for the drones' resolver ports (it needs the \(KernelLayout.dnsPortSlots) "
                        + "ports above it; at most \(65_535 - KernelLayout.dnsPortSlots))", at: station.location, length: 7)
            return nil
        }
        let named = config.drones.filter { $0.policy != nil }.map(\.name)
        return KernelLayout.dnsPorts(base: base, drones: named).mapValues { UInt16($0) }
    }

    /// A `user =` drone is known by the owner of its sockets. Its app's lookups through
    /// systemd-resolved's stub are sent by systemd-resolved instead, so neither the redirect to
    /// the station resolver nor the name decisions apply to them (its connections still do).
    static func warnRelayedLookups(_ policy: DronePolicy, stationNameservers: [String], _ diags: inout Diagnostics) {
        guard let user = policy.uids.first, stationNameservers.contains(ResolvConf.systemdResolvedStub) else { return }
        diags.warning("the station resolves through systemd-resolved (nameserver \(ResolvConf.systemdResolvedStub) in "
                      + "\(ResolvConf.defaultPath)): lookups of this drone's apps are made by systemd-resolved, not by "
                      + "uid \(user.value), so the station resolver neither decides nor learns them for \(policy.subject); "
                      + "its connections are still filtered, by address (README: \"Local apps\")",
                      at: user.location, length: 1)
    }

    /// Names in host lists need the station resolver. A block that cannot be enforced is an
    /// error (fail closed); an allow that cannot be is only a warning, since it leaves the
    /// traffic blocked.
    static func checkHostNames(_ drone: DroneConfig, resolver: Bool, _ diags: inout Diagnostics) {
        guard !resolver else { return }
        for (kind, hosts) in [(KernelLayout.HostListKind.block, drone.blockHosts), (.allow, drone.allowHosts)] {
            for host in hosts {
                guard case .domain = host.value else { continue }
                let why = "'\(host.value)' is a name: names in \(kind.rawValue)-host need the station's DNS "
                    + "resolver, which is off (dns-resolver = off); use addresses or networks"
                if kind == .block {
                    diags.error(why, at: host.location, length: host.value.description.count)
                } else {
                    diags.warning(why + " (the name stays blocked by the policy)", at: host.location,
                                  length: host.value.description.count)
                }
            }
        }
    }

    /// `allow` words that cannot take effect: under isolate, or for endpoints that also serve a
    /// category that stays blocked (a host is the finest grain, see DESIGN.md).
    /// What `warnIneffectiveAllows` found per allowed category and blocked set: the same for every
    /// drone with them, so a thousand drones search a large catalogue once, not a thousand times.
    struct IneffectiveAllows {
        var shown: [Pair: (shared: [Endpoint], count: Int)] = [:]
        struct Pair: Hashable { var allowed: UInt32; var blocked: UInt32 }
    }

    static func warnIneffectiveAllows(_ allows: [Located<Category>], policy: DronePolicy, index: CatalogueIndex,
                                      found: inout IneffectiveAllows, _ diags: inout Diagnostics) {
        switch policy.kind {
        case .isolate:
            for a in allows {
                diags.warning("allow = \(a.value.rawValue) has no effect under policy isolate (use allowlist)",
                              at: a.location, length: a.value.rawValue.count)
            }
        case .monitor:
            return // allow only keeps those categories out of the would-block log
        case .localData, .allowlist:
            let blocked = policy.blocked.rawValue
            for a in allows {
                let pair = IneffectiveAllows.Pair(allowed: a.value.bit, blocked: blocked)
                if found.shown[pair] == nil {
                    let all = index.endpoints(serving: a.value.bit, alsoServing: blocked)
                    found.shown[pair] = (Array(all.prefix(3)), all.count)
                }
                guard let (shared, count) = found.shown[pair], count > 0 else { continue }
                let shown = shared.map { e in
                    "\(e.pattern) (also \(CategorySet(rawValue: e.mask & blocked).categories.map(\.rawValue).joined(separator: ", ")))"
                }
                let more = count > 3 ? " and \(count - 3) more" : ""
                diags.warning("allow = \(a.value.rawValue) has no effect for \(shown.joined(separator: "; "))\(more): "
                              + "a host is allowed only when every category it serves is allowed",
                              at: a.location, length: a.value.rawValue.count)
            }
        }
    }
}
