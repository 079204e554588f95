import Units

/// UTC time text without Foundation: ISO 8601 printing and the `--since` / `--until` forms.
public enum TimeText {
    /// `2026-11-25T12:09:20Z` (microseconds dropped).
    public static func iso8601(micros: Int64) -> String {
        let secs = floorDiv(micros, 1_000_000)
        let days = floorDiv(secs, 86_400)
        let rem = secs - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem % 3600 / 60, 2)):\(pad(rem % 60, 2))Z"
    }

    /// `2026-11-25`.
    public static func day(micros: Int64) -> String { String(iso8601(micros: micros).prefix(10)) }

    /// A relative duration (`90s`, `15m`, `24h`, `7d`, `2w`) before `nowMicros`, or an absolute
    /// ISO 8601 UTC time (`2026-11-25`, `2026-11-25T12:00`, `2026-11-25T12:00:00Z`).
    public static func parse(_ text: String, nowMicros: Int64) -> Int64? {
        if let d = Units.durationSeconds(text) {
            // Overflow-checked: `--since 99999999999999s` is an error, not a trap.
            let (micros, o1) = d.multipliedReportingOverflow(by: 1_000_000)
            let (t, o2) = nowMicros.subtractingReportingOverflow(micros)
            return o1 || o2 ? nil : t
        }
        return parseISO8601(text)
    }

    static func parseISO8601(_ text: String) -> Int64? {
        var s = Substring(text)
        if s.hasSuffix("Z") { s = s.dropLast() }
        let parts = s.split(separator: "T", maxSplits: 1, omittingEmptySubsequences: false)
        let date = parts[0].split(separator: "-", omittingEmptySubsequences: false).map { Int64($0) }
        guard date.count == 3, let y = date[0], let m = date[1], let d = date[2], (1...12).contains(m),
              (1...31).contains(d), parts[0].count == 10 else { return nil }
        var secs: Int64 = 0
        if parts.count == 2 {
            let t = parts[1].split(separator: ":", omittingEmptySubsequences: false).map { Int64($0) }
            guard (2...3).contains(t.count), t.allSatisfy({ $0 != nil }) else { return nil }
            let h = t[0]!, mi = t[1]!, se = t.count == 3 ? t[2]! : 0
            guard (0...23).contains(h), (0...59).contains(mi), (0...60).contains(se) else { return nil }
            secs = h * 3600 + mi * 60 + se
        }
        return (days(fromCivil: y, m, d) * 86_400 + secs) * 1_000_000
    }

    // Days <-> civil date (proleptic Gregorian), after Howard Hinnant's public-domain algorithms.
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
