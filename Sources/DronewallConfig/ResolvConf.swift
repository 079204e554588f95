/// The station's own resolver configuration (`/etc/resolv.conf`, resolv.conf(5)).
public enum ResolvConf {
    public static let defaultPath = "/etc/resolv.conf"
    /// systemd-resolved's stub listener: apps that resolve through it are relayed by
    /// systemd-resolved (its own user, its own sockets).
    public static let systemdResolvedStub = "127.0.0.53"

    /// The `nameserver` addresses, in order (an IPv6 zone suffix `%eth0` is dropped).
    public static func nameservers(in bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { return nil }
            return String(words[1].split(separator: "%")[0])
        }
    }
}
