import Foundation
import Testing
@testable import FlowLog

/// A wrong --db path or a log the daemon never filled gives the operator a fitting message.
@Suite struct FlowLogProblemTests {
    func classify(contents: Data) throws -> FlowLogProblem? {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dwprob-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("flows.db").path
        try contents.write(to: URL(fileURLWithPath: path))
        do {
            _ = try FlowStore(readOnlyPath: path).recent(limit: 1)
            return nil
        } catch {
            return FlowLogProblem(error)
        }
    }

    @Test func emptyFileIsAnEmptyLog() throws {
        #expect(try classify(contents: Data()) == .empty)
    }

    @Test func textFileIsNotAFlowLog() throws {
        #expect(try classify(contents: Data(String(repeating: "not a database\n", count: 100).utf8)) == .notAFlowLog)
    }

    @Test func otherErrorsKeepTheirText() {
        struct Odd: Error {}
        if case .other = FlowLogProblem(Odd()) {} else { Issue.record("a foreign error is .other") }
    }
}
