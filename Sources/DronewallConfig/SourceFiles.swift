#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where config and catalogue text comes from. Tests pass an in-memory tree.
public protocol SourceReader: Sendable {
    /// The file's bytes, or nil when it cannot be read (the reason in `error`).
    func read(_ path: String) -> Result<[UInt8], FileReadError>
    /// Names (not paths) of the regular files in `directory`, or nil if it does not exist.
    func list(_ directory: String) -> [String]?
}

public struct FileReadError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot read \(path): \(reason)" }
}

/// Reads from the real file system.
public struct DiskReader: SourceReader {
    public init() {}

    public func read(_ path: String) -> Result<[UInt8], FileReadError> {
        do {
            return .success([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            return .failure(FileReadError(path: path, reason: exists ? "permission denied or unreadable" : "no such file"))
        }
    }

    public func list(_ directory: String) -> [String]? {
        var isDir: Bool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir else { return nil }
        return (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }
}

/// An in-memory file tree: path -> contents.
public struct MemoryReader: SourceReader {
    public var files: [String: [UInt8]]
    public init(_ files: [String: String]) { self.files = files.mapValues { Array($0.utf8) } }
    public init(bytes: [String: [UInt8]]) { self.files = bytes }

    public func read(_ path: String) -> Result<[UInt8], FileReadError> {
        files[path].map { .success($0) } ?? .failure(FileReadError(path: path, reason: "no such file"))
    }

    public func list(_ directory: String) -> [String]? {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        let names = files.keys.filter { $0.hasPrefix(prefix) && !$0.dropFirst(prefix.count).contains("/") }
            .map { String($0.dropFirst(prefix.count)) }
        return names.isEmpty ? nil : names
    }
}

/// Joins a directory and a name the way a user would type it.
func joinPath(_ dir: String, _ name: String) -> String {
    dir.isEmpty ? name : (dir.hasSuffix("/") ? dir + name : dir + "/" + name)
}

/// The directory part of a path ("" for a bare name).
func directoryOf(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "" }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

#if canImport(Glibc)
import Glibc
#endif

/// Standard error for diagnostics: writes straight to fd 2, since the C `stderr` global is
/// not concurrency-safe in Swift 6.
public enum StandardError {
    public static func write(_ s: String) {
        guard !s.isEmpty else { return }
        let bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { break }
            off += n
        }
    }
}
