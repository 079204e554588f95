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

    public init(exitCode: Int32, output: String = "", errors: String = "") {
        self.exitCode = exitCode
        self.output = output
        self.errors = errors
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
