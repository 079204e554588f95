import Foundation

/// Network namespaces for root tests: each test gets its own, named with a random suffix so that
/// runs can go side by side, and removed afterwards also when the test fails.
public enum TestNamespace {
    /// Why a namespace could not be made (root was checked by the suite's trait already).
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Creates `PREFIX-<random>` with `ip netns add`, runs `body` with its name, and deletes it whatever happens.
    public static func with<T>(prefix: String, _ body: (String) throws -> T) throws -> T {
        let name = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
        let add = try run(["ip", "netns", "add", name])
        guard add.status == 0 else { throw Failure(description: "ip netns add \(name): \(add.stderr)") }
        defer { _ = try? run(["ip", "netns", "delete", name]) }
        return try body(name)
    }

    /// Runs a command found on PATH, feeding it `stdin`, and returns its exit status and output.
    @discardableResult
    public static func run(_ args: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        // Read the output before waiting: a command blocked on a full pipe would never exit.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
