import GRDB

/// What went wrong opening or reading the flow log, in terms an operator can act on
/// (the CLI maps these to messages and exit codes without knowing SQLite).
public enum FlowLogProblem: Sendable, Equatable {
    /// The file or its WAL companions cannot be opened with the caller's rights.
    case notPermitted
    /// The file is not an SQLite database (a wrong --db path).
    case notAFlowLog
    /// A database without the flow tables: the daemon never got to create them.
    case empty
    case other(String)

    public init(_ error: any Error) {
        guard let e = error as? DatabaseError else { self = .other("\(error)"); return }
        switch e.resultCode {
        case .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_AUTH: self = .notPermitted
        case .SQLITE_NOTADB, .SQLITE_CORRUPT: self = .notAFlowLog
        case .SQLITE_ERROR where (e.message ?? "").hasPrefix("no such table"): self = .empty
        default: self = .other(e.message ?? "\(e)")
        }
    }
}
