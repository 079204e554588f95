@_exported import SourcePlaces

/// Diagnostics with places, collected over a whole run and printed like compilers do:
/// `PATH:LINE:COL: error: MESSAGE`, the source line, and a caret under the place.

/// A value together with the place it was written.
public struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var location: SourceLocation
    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

public enum Severity: String, Sendable {
    case error, warning, note
}

/// One message about one place.
public struct Diagnostic: Sendable, CustomStringConvertible {
    public var severity: Severity
    public var location: SourceLocation?
    public var message: String
    /// The text of the line the location points into, for the caret display.
    public var sourceLine: String?
    /// How many characters to underline (at least one caret).
    public var length: Int
    /// Follow-up notes, e.g. "first claimed here" for duplicates.
    public var notes: [Diagnostic]

    public init(_ severity: Severity, _ message: String, at location: SourceLocation? = nil,
                sourceLine: String? = nil, length: Int = 1, notes: [Diagnostic] = []) {
        self.severity = severity
        self.message = message
        self.location = location
        self.sourceLine = sourceLine
        self.length = max(1, length)
        self.notes = notes
    }

    /// The full text: header, source line, caret line, then notes.
    public var description: String {
        var out = location.map { "\($0): " } ?? ""
        out += "\(severity.rawValue): \(message)\n"
        if let line = sourceLine, let loc = location {
            out += line + "\n"
            // Keep tabs so the caret lines up under tab-indented text.
            let lead = line.prefix(max(0, loc.column - 1)).map { $0 == "\t" ? "\t" : " " }.joined()
            out += lead + "^" + String(repeating: "~", count: length - 1) + "\n"
        }
        for note in notes { out += note.description }
        return out
    }
}

/// Collects diagnostics from every stage of a run.
public struct Diagnostics: Sendable {
    public private(set) var all: [Diagnostic] = []
    /// Source lines by file, so any stage can attach the line to its message.
    private var sources: [String: SourceText] = [:]

    /// A file's lines: as strings, or as the file's bytes and where each line is in them (made
    /// into a string only when a message shows it: a 100k-entry catalogue has 400k lines).
    private enum SourceText {
        case lines([String])
        case bytes([UInt8], lines: [LineSpan])

        var count: Int {
            switch self {
            case let .lines(l): l.count
            case let .bytes(_, spans): spans.count
            }
        }

        subscript(_ i: Int) -> String {
            switch self {
            case let .lines(l): return l[i]
            case let .bytes(b, spans): return String(decoding: b[Int(spans[i].start)..<Int(spans[i].end)], as: UTF8.self)
            }
        }
    }

    /// A line's bytes in its file, without the line break.
    struct LineSpan {
        var start: UInt32
        var end: UInt32
    }

    public init() {}

    public var errors: [Diagnostic] { all.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { all.filter { $0.severity == .warning } }
    public var hasErrors: Bool { all.contains { $0.severity == .error } }

    /// Registers a file's lines so later diagnostics can show them.
    public mutating func register(file: String, lines: [String]) { sources[file] = .lines(lines) }

    /// Registers a file by its bytes and the span of each line in them (invalid UTF-8 is shown
    /// with replacement characters).
    mutating func register(file: String, bytes: [UInt8], lines: [LineSpan]) { sources[file] = .bytes(bytes, lines: lines) }

    public func line(at location: SourceLocation) -> String? {
        guard let lines = sources[location.file], location.line >= 1, location.line <= lines.count else { return nil }
        return lines[location.line - 1]
    }

    public mutating func error(_ message: String, at location: SourceLocation?, length: Int = 1,
                               notes: [Diagnostic] = []) {
        add(.error, message, at: location, length: length, notes: notes)
    }

    public mutating func warning(_ message: String, at location: SourceLocation?, length: Int = 1,
                                 notes: [Diagnostic] = []) {
        add(.warning, message, at: location, length: length, notes: notes)
    }

    /// A note to attach to another diagnostic (shows its own line and caret).
    public func note(_ message: String, at location: SourceLocation, length: Int = 1) -> Diagnostic {
        Diagnostic(.note, message, at: location, sourceLine: line(at: location), length: length)
    }

    public mutating func add(_ severity: Severity, _ message: String, at location: SourceLocation?,
                             length: Int = 1, notes: [Diagnostic] = []) {
        all.append(Diagnostic(severity, message, at: location,
                              sourceLine: location.flatMap { line(at: $0) }, length: length, notes: notes))
    }

    public mutating func append(contentsOf other: Diagnostics) {
        all += other.all
        sources.merge(other.sources) { a, _ in a }
    }

    /// Everything in file order (files as first read, then line and column); place-less first.
    public var sorted: [Diagnostic] {
        var fileOrder: [String: Int] = [:]
        for d in all { if let f = d.location?.file, fileOrder[f] == nil { fileOrder[f] = fileOrder.count } }
        func key(_ d: Diagnostic) -> (Int, Int, Int) {
            guard let l = d.location else { return (-1, 0, 0) }
            return (fileOrder[l.file] ?? 0, l.line, l.column)
        }
        return all.enumerated().sorted { a, b in
            let ka = key(a.element), kb = key(b.element)
            return ka != kb ? ka < kb : a.offset < b.offset
        }.map(\.element)
    }

    /// Everything, sorted by place, ready for stderr.
    public var rendered: String { sorted.map(\.description).joined() }
}

/// Edit distance (Levenshtein), for "did you mean" suggestions.
func editDistance(_ lhs: String, _ rhs: String) -> Int {
    let x = Array(lhs.unicodeScalars), y = Array(rhs.unicodeScalars)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var row = [Int](0...y.count)
    for i in 1...x.count {
        var diagonal = row[0]
        row[0] = i
        for j in 1...y.count {
            let above = row[j]
            row[j] = Swift.min(above + 1, row[j - 1] + 1, diagonal + (x[i - 1] == y[j - 1] ? 0 : 1))
            diagonal = above
        }
    }
    return row[y.count]
}

/// The closest candidate within a small distance, or nil.
public func suggestion(for word: String, among candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0)) }.min { $0.1 < $1.1 }
    guard let (best, d) = scored, d <= max(2, word.count / 3) else { return nil }
    return best
}

/// " (did you mean 'x'?)" or "".
func didYouMean(_ word: String, _ candidates: [String]) -> String {
    suggestion(for: word, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
}
