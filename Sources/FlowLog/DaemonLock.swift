#if canImport(Glibc)
import Glibc
#endif

/// One dronewalld per flow log: the daemon holds an flock on `<db>.lock` while it runs, so a
/// second one stops before it touches the kernel, and `dronewall apply` can tell one runs.
public enum DaemonLock {
    /// Takes `<db>.lock` (0600: an operator must not be able to hold it) for the life of the
    /// process; nil when taken, else why not.
    public static func take(databasePath: String) -> String? {
        let path = databasePath + ".lock"
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot open \(path): \(String(cString: strerror(errno)))" }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            close(fd)
            return e == EWOULDBLOCK ? "another dronewalld is running on \(databasePath) (\(path) is locked); nothing was changed"
                : "cannot lock \(path): \(String(cString: strerror(e)))"
        }
        return nil // fd stays open: the lock lasts until exit
    }

    /// True while a daemon holds the lock.
    public static func isHeld(databasePath: String) -> Bool {
        let fd = open(databasePath + ".lock", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) != 0 { return errno == EWOULDBLOCK }
        flock(fd, LOCK_UN)
        return false
    }
}
