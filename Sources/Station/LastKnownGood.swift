import DronewallConfig
import DronewallPolicy
#if canImport(Glibc)
import Glibc
#endif

/// The files of the last policy the kernel accepted, kept in the state directory, so that a
/// station whose config is broken or missing at boot enforces that policy (loudly) rather than
/// nothing. What is kept is the sources, not the compiled rules: from them the daemon rebuilds
/// the whole policy — table, resolver decisions, attribution — exactly as it was applied.
public struct LastKnownGood: Sendable {
    public var configPath: String
    public var catalogueDirectories: [String]
    public var savedAtMicros: Int64
    /// Every file the load read, by path.
    public var files: [String: [UInt8]]

    public init(configPath: String, catalogueDirectories: [String], savedAtMicros: Int64, files: [String: [UInt8]]) {
        self.configPath = configPath
        self.catalogueDirectories = catalogueDirectories
        self.savedAtMicros = savedAtMicros
        self.files = files
    }

    /// The policy as it was when saved (the system's users are looked up again).
    public func load() -> PolicyLoader.Outcome {
        PolicyLoader(configPath: configPath, catalogueDirectories: catalogueDirectories,
                     reader: MemoryReader(bytes: files)).load()
    }

    static let magic = "dronewall last-known-good 1"

    /// A header of lines, then each file as `file <bytes> <path>` followed by its bytes.
    public var bytes: [UInt8] {
        var out = Array("\(LastKnownGood.magic)\nsaved \(savedAtMicros)\nconfig \(configPath)\n".utf8)
        for d in catalogueDirectories { out += Array("catalogue \(d)\n".utf8) }
        for (path, content) in files.sorted(by: { $0.key < $1.key }) {
            out += Array("file \(content.count) \(path)\n".utf8) + content + [0x0A]
        }
        return out
    }

    public init?(parsing b: [UInt8]) {
        var i = 0
        func line() -> String? {
            guard let nl = b[i...].firstIndex(of: 0x0A) else { return nil }
            defer { i = nl + 1 }
            return String(decoding: b[i..<nl], as: UTF8.self)
        }
        guard line() == LastKnownGood.magic else { return nil }
        var config: String?, saved: Int64 = 0, dirs: [String] = [], files: [String: [UInt8]] = [:]
        while i < b.count, let l = line() {
            let (key, rest) = (l.prefix { $0 != " " }, l.drop { $0 != " " }.dropFirst())
            switch key {
            case "saved": saved = Int64(rest) ?? 0
            case "config": config = String(rest)
            case "catalogue": dirs.append(String(rest))
            case "file":
                let (count, path) = (Int(rest.prefix { $0 != " " }), String(rest.drop { $0 != " " }.dropFirst()))
                guard let count, count >= 0, i + count < b.count, b[i + count] == 0x0A else { return nil }
                files[path] = Array(b[i..<(i + count)])
                i += count + 1
            default: return nil
            }
        }
        guard let config else { return nil }
        self.init(configPath: config, catalogueDirectories: dirs, savedAtMicros: saved, files: files)
    }

    public static func read(from path: String) -> LastKnownGood? { AtomicFile.read(path).flatMap(LastKnownGood.init(parsing:)) }

    /// Writes atomically (a crash leaves the previous one); returns a problem to log, if any.
    public func write(to path: String) -> String? { AtomicFile.write(bytes, to: path) }
}

/// Reads from disk and remembers every file it read: the sources of one load.
final class RecordingReader: SourceReader, @unchecked Sendable {
    private let disk = DiskReader()
    // Loads run on the daemon's main thread only.
    private(set) var files: [String: [UInt8]] = [:]

    func read(_ path: String) -> Result<[UInt8], FileReadError> {
        let r = disk.read(path)
        if case let .success(bytes) = r { files[path] = bytes }
        return r
    }

    func list(_ directory: String) -> [String]? { disk.list(directory) }
}

extension StationOptions {
    /// Reads and compiles config and catalogue, and what to keep if the kernel takes them.
    public func loadKeepingSources() -> (outcome: PolicyLoader.Outcome, sources: LastKnownGood) {
        let reader = RecordingReader()
        let loader = PolicyLoader(configPath: configPath, catalogueDirectories: catalogueDirectories, reader: reader)
        let outcome = loader.load()
        return (outcome, LastKnownGood(configPath: configPath, catalogueDirectories: catalogueDirectories,
                                       savedAtMicros: systemMicros(), files: reader.files))
    }
}

extension StationOptions {
    /// What the daemon starts with: the config as it reads now; when that has errors (or is
    /// missing), the last policy the kernel accepted, loudly, since a station must never boot
    /// into no rules because of a typo. Only without either (a first install with no valid
    /// config) nothing is applied. Returns the policy and how it came to be, for `status`.
    public func startingPolicy(_ loaded: PolicyLoader.Outcome, sources: LastKnownGood, log: (LogLevel, String) -> Void)
        throws(StationError) -> (PolicySnapshot, how: String, sources: LastKnownGood) {
        if let snapshot = loaded.snapshot { return (snapshot, "at start from \(configPath)", sources) }
        guard let kept = LastKnownGood.read(from: lastKnownGoodPath), let snapshot = kept.load().snapshot else {
            throw .config(loaded.diagnostics)
        }
        let when = isoTime(micros: kept.savedAtMicros)
        log(.error, "\(configPath) has \(loaded.diagnostics.errors.count) error(s) (above); enforcing the last-known-good "
            + "policy instead, applied from \(kept.configPath) and kept since \(when). Fix the config, then run dronewall reload.")
        return (snapshot, "at start from the last-known-good policy of \(when) (\(configPath) has errors)", kept)
    }
}

/// Whole files of the state directory: writes that a crash cannot leave half done (a temporary
/// file, fsync, rename), and reads.
enum AtomicFile {
    static func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { return out }
            out += buffer[0..<n]
        }
    }

    static func write(_ bytes: [UInt8], to path: String) -> String? {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot write \(tmp): \(String(cString: strerror(errno)))" }
        let ok = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else { return "cannot write \(path): \(String(cString: strerror(errno)))" }
        return nil
    }
}
