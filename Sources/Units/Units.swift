/// Durations and sizes as people write them in config files and on the command line.
/// Config (`log-retention = 90d`) and reports (`--since 24h`) share this one reading.
public enum Units {
    /// `45s`, `30m`, `48h`, `90d`, `12w` in seconds; nil when malformed or too large.
    public static func durationSeconds(_ s: String) -> Int64? {
        guard let unit = s.last, let n = digits(s.dropLast()) else { return nil }
        let scale: Int64
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3600
        case "d": scale = 86_400
        case "w": scale = 604_800
        default: return nil
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : v
    }

    /// `64K`, `500M`, `2G` (powers of 1024) or plain bytes; nil when malformed or too large.
    public static func byteSize(_ s: String) -> Int64? {
        guard let last = s.last else { return nil }
        let scale: Int64
        var body = Substring(s)
        switch last {
        case "K", "k": scale = 1 << 10; body = body.dropLast()
        case "M", "m": scale = 1 << 20; body = body.dropLast()
        case "G", "g": scale = 1 << 30; body = body.dropLast()
        default: scale = 1
        }
        guard let n = digits(body) else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : v
    }

    /// Only ASCII digits: Int64("+5") would accept a sign, and Character.isNumber accepts "٣".
    static func digits(_ s: Substring) -> Int64? {
        guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(s)
    }
}
