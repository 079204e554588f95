import DronewallConfig
#if canImport(Glibc)
import Glibc
#endif

func log(_ s: String) { StandardError.write("dronewalld: \(s)\n") }

func nowMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Seconds as microseconds, saturating: the config caps durations, but a trap here would lose the log.
func saturatingMicros(seconds: Int64) -> Int64 {
    let (v, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
    return overflow ? (seconds < 0 ? .min : .max) : v
}

/// a - b, saturating (a cutoff before the epoch of Int64 just means "keep everything").
func saturatingDifference(_ a: Int64, _ b: Int64) -> Int64 {
    let (v, overflow) = a.subtractingReportingOverflow(b)
    return overflow ? (b > 0 ? .min : .max) : v
}

/// SIGTERM and SIGINT are blocked and stay pending until the main loop polls them between
/// reads (no asynchronous handler touching shared state).
struct ShutdownSignal {
    private var set = sigset_t()

    init() {
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// True once a shutdown signal has arrived (polls without waiting).
    func requested() -> Bool {
        var pending = set
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        return sigtimedwait(&pending, nil, &zero) > 0
    }
}

/// The flow log's directory and files: root writes, group `group` (operators) reads.
enum LogFiles {
    /// Creates the directory (0750) and makes the group own it; files created later get 0640.
    static func prepare(databasePath: String, group: String) -> String? {
        umask(0o027)
        let dir = databasePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !dir.isEmpty && access(dir, F_OK) != 0 {
            var path = ""
            for part in dir.split(separator: "/", omittingEmptySubsequences: false) {
                path += (path.isEmpty && part.isEmpty) ? "/" : (path.hasSuffix("/") || path.isEmpty ? "" : "/") + part
                if !path.isEmpty && access(path, F_OK) != 0 && mkdir(path, 0o750) != 0 {
                    return "cannot create \(path): \(String(cString: strerror(errno)))"
                }
            }
        }
        guard let gr = getgrnam(group) else {
            log("group '\(group)' does not exist: only root can read reports")
            return nil
        }
        let gid = gr.pointee.gr_gid
        if !dir.isEmpty { _ = chown(dir, 0, gid) }
        // SQLite gives -wal and -shm the owner of the database file, so set it before opening.
        if access(databasePath, F_OK) != 0 {
            let fd = open(databasePath, O_CREAT | O_WRONLY | O_CLOEXEC, 0o640)
            if fd >= 0 { close(fd) }
        }
        for suffix in ["", "-wal", "-shm"] where access(databasePath + suffix, F_OK) == 0 {
            _ = chown(databasePath + suffix, 0, gid)
            _ = chmod(databasePath + suffix, 0o640)
        }
        return nil
    }
}
