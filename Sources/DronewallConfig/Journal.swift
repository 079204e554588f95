#if canImport(Glibc)
import Glibc
#endif

/// How much a log line matters, as syslog(3) numbers it.
public enum LogLevel: Int32, Sendable, Hashable {
    case error = 3, warning = 4, notice = 5, info = 6
}

/// Log lines on standard error. Under systemd, whose journal reads a leading `<N>` on each line
/// of a service's standard error as its syslog level (sd-daemon(3)), each line carries it; in a
/// terminal or a pipe the lines stay plain.
public enum Journal {
    /// True when standard error is the journal's stream: systemd sets $JOURNAL_STREAM to the
    /// "device:inode" of the stream it connected (systemd.exec(5)).
    public static let isStandardError: Bool = {
        guard let v = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return v == "\(st.st_dev):\(st.st_ino)"
    }()

    /// `text` as one or more lines for standard error: with the level prefix when `leveled`,
    /// else with `error: ` or `warning: ` in words where the level is one of those.
    public static func lines(_ level: LogLevel, _ text: String, tag: String, leveled: Bool = Journal.isStandardError) -> String {
        let word = leveled ? "" : (level == .error ? "error: " : level == .warning ? "warning: " : "")
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { (leveled ? "<\(level.rawValue)>" : "") + tag + word + $0 + "\n" }.joined()
    }
}
