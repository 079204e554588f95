import NetAddress

/// Value words shared by config and catalogue files, each with its diagnostic.
enum Words {
    static func category(_ w: IniWord, _ diags: inout Diagnostics) -> Located<Category>? {
        if let c = Category(rawValue: w.text) ?? Category(rawValue: w.text.lowercased()) { return Located(c, at: w.location) }
        let names = Category.allCases.map(\.rawValue)
        diags.error("unknown category '\(w.text)'\(didYouMean(w.text, names)) (categories: \(names.joined(separator: " ")))",
                    at: w.location, length: w.text.count)
        return nil
    }

    static func mac(_ w: IniWord, _ diags: inout Diagnostics) -> Located<MACAddress>? {
        if let mac = MACAddress.parse(w.text) { return Located(mac, at: w.location) }
        diags.error("bad MAC address '\(w.text)': expected six hex pairs like 60:60:1f:12:34:56",
                    at: w.location, length: w.text.count)
        return nil
    }

    static func user(_ w: IniWord, _ diags: inout Diagnostics) -> Located<UserRef>? {
        if let u = Syntax.user(w.text) { return Located(u, at: w.location) }
        diags.error("bad user '\(w.text)': expected a user name or a numeric uid", at: w.location, length: w.text.count)
        return nil
    }

    static func network(_ w: IniWord, _ diags: inout Diagnostics) -> Located<IPNetwork>? {
        do {
            return Located(try IPNetwork.parse(w.text), at: w.location)
        } catch {
            let why: String
            switch error {
            case .notAnAddress: why = "bad address '\(w.text)': expected an IPv4 or IPv6 address or CIDR"
            case let .badPrefixLength(max): why = "bad prefix length in '\(w.text)': expected 0 to \(max)"
            case let .hostBitsSet(net): why = "'\(w.text)' has host bits set beyond its prefix; did you mean \(net)?"
            case let .ipv4Mapped(v4): why = "'\(w.text)' is an IPv4-mapped IPv6 address, which IPv4 packets never carry; write \(v4)"
            }
            diags.error(why, at: w.location, length: w.text.count)
            return nil
        }
    }

    static func domain(_ w: IniWord, _ diags: inout Diagnostics) -> Located<String>? {
        switch Syntax.domain(w.text) {
        case let .success(d): return Located(d, at: w.location)
        case let .failure(e):
            diags.error("invalid domain name '\(w.text)': \(e)", at: w.location, length: w.text.count)
            return nil
        }
    }

    /// An address/CIDR when it looks like one, else a domain name.
    static func hostPattern(_ w: IniWord, _ diags: inout Diagnostics) -> Located<HostPattern>? {
        if Syntax.looksLikeAddress(w.text) {
            return network(w, &diags).map { Located(.network($0.value), at: $0.location) }
        }
        return domain(w, &diags).map { Located(.domain($0.value), at: $0.location) }
    }
}
