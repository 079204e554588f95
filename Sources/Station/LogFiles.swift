import DronewallConfig
#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time in microseconds since the epoch (flow records, loss and counter times).
public func systemMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Which kernel table instance a counter reading came from: the table handle alone repeats after
/// a reboot or in another network namespace.
public func tableInstanceIdentity(tableHandle: UInt64?) -> String {
    var boot = "?"
    let fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        close(fd)
        if n > 0 { boot = String(decoding: buf[0..<n], as: UTF8.self).filter { !$0.isWhitespace } }
    }
    var st = stat()
    let netns = stat("/proc/self/ns/net", &st) == 0 ? String(st.st_ino) : "?"
    return "boot \(boot) netns \(netns) table \(tableHandle.map(String.init) ?? "?")"
}

/// The flow log's directory and files: root writes, group `group` (operators) reads.
enum LogFiles {
    static let defaultDirectory = "/var/lib/dronewall"

    /// Creates missing directories (0750, owned by root and `group`), and makes the database and
    /// its -wal and -shm 0640 root:`group`. A directory the daemon did not create (an operator's
    /// `--db` choice) keeps its owner and modes, with a warning when operators cannot reach the log.
    static func prepare(databasePath: String, group: String, log: (String) -> Void) -> String? {
        umask(0o027)
        let dir = parent(databasePath)
        var created: [String] = []
        if !dir.isEmpty && access(dir, F_OK) != 0 {
            var path = ""
            for part in dir.split(separator: "/", omittingEmptySubsequences: false) {
                path += (path.isEmpty && part.isEmpty) ? "/" : (path.hasSuffix("/") || path.isEmpty ? "" : "/") + part
                if !path.isEmpty && access(path, F_OK) != 0 {
                    guard mkdir(path, 0o750) == 0 else { return "cannot create \(path): \(String(cString: strerror(errno)))" }
                    created.append(path)
                }
            }
        }
        guard let gr = getgrnam(group) else {
            log("group '\(group)' does not exist: only root can read reports")
            return nil
        }
        let gid = gr.pointee.gr_gid
        for path in created { _ = chown(path, 0, gid) }
        if dir == defaultDirectory {
            _ = chown(dir, 0, gid)
            _ = chmod(dir, 0o750)
        } else if !dir.isEmpty, let blocked = untraversable(dir, gid: gid) {
            log("members of group '\(group)' cannot enter \(blocked), so they cannot read reports from \(databasePath)")
        }
        // SQLite gives -wal and -shm the owner of the database file, so set it before opening.
        if access(databasePath, F_OK) != 0 {
            let fd = open(databasePath, O_CREAT | O_WRONLY | O_CLOEXEC, 0o640)
            if fd >= 0 { close(fd) }
        }
        shareFiles(databasePath: databasePath, group: group)
        return nil
    }

    /// The database, -wal and -shm: 0640 root:`group` (again once the database is open and they exist).
    static func shareFiles(databasePath: String, group: String) {
        guard let gr = getgrnam(group) else { return }
        for suffix in ["", "-wal", "-shm"] where access(databasePath + suffix, F_OK) == 0 {
            _ = chown(databasePath + suffix, 0, gr.pointee.gr_gid)
            _ = chmod(databasePath + suffix, 0o640)
        }
    }

    /// The first directory on the way to `dir` (itself included) that group `gid` cannot search.
    static func untraversable(_ dir: String, gid: gid_t) -> String? {
        var path = dir.hasPrefix("/") ? "" : "."
        for part in dir.split(separator: "/") {
            path += "/" + part
            var st = stat()
            guard stat(path, &st) == 0 else { return path }
            let mode = st.st_mode
            if mode & 0o001 == 0 && !(st.st_gid == gid && mode & 0o010 != 0) { return path }
        }
        return nil
    }

    /// `name` in the directory of `path` (the state directory beside the flow log).
    static func sibling(of path: String, named name: String) -> String {
        let dir = parent(path)
        return dir.isEmpty ? name : dir + "/" + name
    }

    static func parent(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    }
}
