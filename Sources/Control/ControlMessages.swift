#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What `dronewall` asks the running daemon. While `dronewalld` runs it is the table's only
/// writer (the kernel lets only its socket change an owned table), so every command that changes
/// the table is a request to it.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable {
        /// Compile `config` and `catalogue` and apply them; from then on they are the daemon's.
        case apply
        /// Read the daemon's config and catalogue again and apply them (as SIGHUP does).
        case reload
        /// Delete the table and stop: nothing is enforced until the daemon starts again.
        case flush
        /// The daemon's state, for `dronewall status`.
        case status
    }

    public var command: Command
    public var config: String?
    public var catalogue: [String]?

    public init(_ command: Command, config: String? = nil, catalogue: [String]? = nil) {
        self.command = command
        self.config = config
        self.catalogue = catalogue
    }
}

/// The daemon's answer: what `dronewall` prints and the exit status it ends with.
public struct ControlReply: Codable, Sendable, Equatable {
    public var exitCode: Int32
    /// For standard output.
    public var output: String
    /// For standard error: diagnostics, warnings, the reason of a refusal.
    public var errors: String
    /// The daemon's state, answering `status`.
    public var status: DaemonStatus?

    public init(exitCode: Int32, output: String = "", errors: String = "", status: DaemonStatus? = nil) {
        self.exitCode = exitCode
        self.output = output
        self.errors = errors
        self.status = status
    }
}

/// What `dronewall status` shows of the running daemon (text, and `--format json` as is).
public struct DaemonStatus: Codable, Sendable, Equatable {
    public var pid: Int32
    /// `dronewalld` when the table belongs to the daemon's socket, `none` where the kernel cannot keep it owned.
    public var tableOwner: String
    /// How the table in force came to be: at start from the config, from the last-known-good policy, by apply, on reload.
    public var applied: String
    /// When (UTC, ISO 8601).
    public var appliedAt: String
    public var config: String
    /// Other programs' commits that touched the table or added a base chain, since the daemon started.
    public var foreignChanges: Int
    public var lastForeignChange: String?
    /// Every file the policy in force was read from, with its SHA-256 (`sha256sum` prints the same).
    public var sources: [SourceFile]
    /// The last apply or reload that was refused (when, and why), while the rules stayed as they were.
    public var lastRefusal: String?

    public struct SourceFile: Codable, Sendable, Equatable {
        public var path: String
        public var bytes: Int
        public var sha256: String
        public init(path: String, bytes: Int, sha256: String) { (self.path, self.bytes, self.sha256) = (path, bytes, sha256) }
    }

    public init(pid: Int32, tableOwner: String, applied: String, appliedAt: String, config: String,
                foreignChanges: Int, lastForeignChange: String?, sources: [SourceFile], lastRefusal: String? = nil) {
        (self.pid, self.tableOwner, self.applied, self.appliedAt, self.config) = (pid, tableOwner, applied, appliedAt, config)
        (self.foreignChanges, self.lastForeignChange, self.sources) = (foreignChanges, lastForeignChange, sources)
        self.lastRefusal = lastRefusal
    }

    /// The lines `status` prints.
    public var text: String {
        "dronewalld: running, pid \(pid)\n"
            + "table owner: \(tableOwner == "dronewalld" ? "dronewalld (no other program can change or delete it)" : "none (this kernel cannot keep it owned)")\n"
            + "applied: \(applied), \(appliedAt)\n"
            + (lastRefusal.map { "last refused: \($0)\n" } ?? "")
            + "config: \(config)\n"
            + "foreign changes seen: \(foreignChanges)" + (lastForeignChange.map { " (last: \($0))" } ?? "") + "\n"
            + "policy sources (sha256):\n" + sources.map { "  \($0.sha256)  \($0.path)\n" }.joined()
    }
}

/// One JSON object per line, each way.
enum ControlCodec {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return ((try? encoder.encode(value)).map { Array($0) } ?? Array("{}".utf8)) + [0x0A]
    }

    static func decode<T: Decodable>(_ type: T.Type, from line: [UInt8]) -> T? {
        try? JSONDecoder().decode(type, from: Data(line))
    }
}
