/// The shared lexical layer of configs and catalogue files: `[kind name]` headers,
/// `key = value` lines, `#` comments, space-separated lists. It knows no key names;
/// the config and catalogue readers give the words their meaning.

/// A word of a value with its place (for per-item errors).
public struct IniWord: Sendable, Hashable {
    public var text: String
    public var location: SourceLocation
}

public struct IniEntry: Sendable {
    public var key: String
    public var keyLocation: SourceLocation
    /// The whole value, trimmed, without a trailing comment.
    public var value: String
    public var valueLocation: SourceLocation
    /// The value split on whitespace.
    public var words: [IniWord]
}

public struct IniSection: Sendable {
    public var kind: String
    public var kindLocation: SourceLocation
    /// The text after the kind, e.g. the drone name; nil for `[station]`.
    public var name: IniWord?
    public var entries: [IniEntry]
}

public enum IniParser {
    /// Parses one file's text. Its lines are registered with `diagnostics` for caret display.
    /// Returns the sections found; problems go to `diagnostics` and parsing goes on.
    public static func parse(bytes: [UInt8], path: String, diagnostics: inout Diagnostics) -> [IniSection] {
        var sections: [IniSection] = []
        forEachSection(bytes: bytes, path: path, diagnostics: &diagnostics) { section, _ in sections.append(section) }
        return sections
    }

    /// `parse`, handing each section to `body` once it is complete (with the diagnostics), so that
    /// a large file's sections need not all be held at once.
    public static func forEachSection(bytes: [UInt8], path: String, diagnostics: inout Diagnostics,
                                      _ body: (IniSection, inout Diagnostics) -> Void) {
        let rawLines = splitLines(bytes)
        var badLines: [(Int, Int)] = []
        for (i, raw) in rawLines.enumerated() where !raw.allSatisfy({ $0 < 0x80 }) && String(validating: raw, as: UTF8.self) == nil {
            let good = validPrefixLength(raw)
            let prefix = String(decoding: raw.prefix(good), as: UTF8.self)
            badLines.append((i + 1, prefix.count + 1))
        }
        if bytes.count < UInt32.max {
            diagnostics.register(file: path, bytes: bytes,
                                 lines: rawLines.map { .init(start: UInt32($0.startIndex), end: UInt32($0.endIndex)) })
        } else {
            diagnostics.register(file: path, lines: rawLines.map { String(decoding: $0, as: UTF8.self) })
        }
        for (line, col) in badLines {
            diagnostics.error("invalid UTF-8 (the file must be UTF-8 text)", at: SourceLocation(file: path, line: line, column: col))
        }
        let bad = Set(badLines.map(\.0))

        var current: IniSection?
        for (index, raw) in rawLines.enumerated() where !bad.contains(index + 1) {
            // The grammar is ASCII: an ASCII line is read as bytes (a byte is a character there);
            // a line with other characters as characters, so that columns count characters
            // and every Unicode space separates words.
            let header = raw.allSatisfy({ $0 < 0x80 })
                ? raw.withUnsafeBufferPointer { parseLine($0, line: index + 1, path: path, into: &current, &diagnostics) }
                : parseLine(Array(String(decoding: raw, as: UTF8.self)), line: index + 1, path: path, into: &current, &diagnostics)
            if let header {
                if let done = current { body(done, &diagnostics) }
                current = header
            }
        }
        if let last = current { body(last, &diagnostics) }
    }

    /// One line's entry, added to `current`, or its header, returned as the next section;
    /// `chars` are its bytes or characters.
    static func parseLine<C: RandomAccessCollection>(_ chars: C, line lineNo: Int, path: String,
                                                     into current: inout IniSection?, _ diagnostics: inout Diagnostics) -> IniSection?
    where C.Element: LineUnit, C.Index == Int {
        let content = commentStart(chars)
        let start = chars[0..<content].firstIndex { !$0.isSpace } ?? content
        var end = content
        while end > start && chars[end - 1].isSpace { end -= 1 }
        if start == end { return nil }
        func loc(_ i: Int) -> SourceLocation { SourceLocation(file: path, line: lineNo, column: i + 1) }

        if chars[start] == .openBracket {
            guard chars[end - 1] == .closeBracket else {
                diagnostics.error("unterminated section header: expected ']'", at: loc(end))
                return nil
            }
            let words = splitWords(chars, from: start + 1, to: end - 1)
            guard let kindWord = words.first else {
                diagnostics.error("empty section header", at: loc(start), length: end - start)
                return nil
            }
            if words.count > 2 {
                diagnostics.error("unexpected '\(words[2].0)' in section header", at: loc(words[2].1),
                                  length: words[2].0.count)
            }
            let name = words.count > 1 ? IniWord(text: words[1].0, location: loc(words[1].1)) : nil
            return IniSection(kind: kindWord.0, kindLocation: loc(kindWord.1), name: name, entries: [])
        }

        guard let eq = chars[start..<end].firstIndex(of: .equals) else {
            diagnostics.error("expected 'key = value' or a '[section]' header", at: loc(start), length: end - start)
            return nil
        }
        var keyEnd = eq
        while keyEnd > start && chars[keyEnd - 1].isSpace { keyEnd -= 1 }
        let key = C.Element.string(chars[start..<keyEnd])
        if key.isEmpty {
            diagnostics.error("missing key before '='", at: loc(eq))
            return nil
        }
        if !key.utf8.allSatisfy({ isKeyByte($0) }) {
            diagnostics.error("invalid key '\(key)'", at: loc(start), length: keyEnd - start)
            return nil
        }
        var valueStart = eq + 1
        while valueStart < end && chars[valueStart].isSpace { valueStart += 1 }
        let value = C.Element.string(chars[valueStart..<end])
        if value.isEmpty {
            diagnostics.error("empty value for '\(key)'", at: loc(eq))
            return nil
        }
        guard current != nil else {
            diagnostics.error("'\(key)' outside any section; put it under a [section] header", at: loc(start),
                              length: keyEnd - start)
            return nil
        }
        let words = splitWords(chars, from: valueStart, to: end).map { IniWord(text: $0.0, location: loc($0.1)) }
        current!.entries.append(
            IniEntry(key: key.lowercased(), keyLocation: loc(start), value: value,
                     valueLocation: loc(valueStart), words: words))
        return nil
    }

    /// ASCII letters and digits, "-" and "_".
    static func isKeyByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"): return true
        default: return false
        }
    }

    /// Where the line's comment starts (its length without one): `#` starts a comment at the start
    /// of a line or after whitespace, so URLs keep fragments.
    static func commentStart<C: RandomAccessCollection>(_ chars: C) -> Int where C.Element: LineUnit, C.Index == Int {
        var prevWhitespace = true
        for i in chars.indices {
            if chars[i] == .hash && prevWhitespace { return i }
            prevWhitespace = chars[i].isSpace
        }
        return chars.endIndex
    }

    /// The words of chars[from..<to] with the offset of each.
    static func splitWords<C: RandomAccessCollection>(_ chars: C, from: Int, to: Int) -> [(String, Int)]
    where C.Element: LineUnit, C.Index == Int {
        var out: [(String, Int)] = []
        var i = from
        while i < to {
            if chars[i].isSpace { i += 1; continue }
            let s = i
            while i < to && !chars[i].isSpace { i += 1 }
            out.append((C.Element.string(chars[s..<i]), s))
        }
        return out
    }

    static func splitLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var s = 0
        for i in 0..<bytes.count where bytes[i] == 0x0A {
            var e = i
            if e > s && bytes[e - 1] == 0x0D { e -= 1 }
            out.append(bytes[s..<e])
            s = i + 1
        }
        if s < bytes.count { out.append(bytes[s..<bytes.count]) }
        return out
    }

    /// Length in bytes of the longest valid UTF-8 prefix (to place the caret).
    static func validPrefixLength(_ bytes: ArraySlice<UInt8>) -> Int {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            let n = b < 0x80 ? 1 : b >> 5 == 0x6 ? 2 : b >> 4 == 0xE ? 3 : b >> 3 == 0x1E ? 4 : 0
            if n == 0 || i + n > bytes.endIndex { break }
            if String(validating: bytes[i..<(i + n)], as: UTF8.self) == nil { break }
            i += n
        }
        return i - bytes.startIndex
    }
}

/// What a line is read in: bytes (for an ASCII line) or characters.
protocol LineUnit: Equatable {
    /// Whitespace as `Character.isWhitespace` has it.
    var isSpace: Bool { get }
    static var hash: Self { get }
    static var equals: Self { get }
    static var openBracket: Self { get }
    static var closeBracket: Self { get }
    static func string<S: Collection>(_ units: S) -> String where S.Element == Self
}

extension UInt8: LineUnit {
    /// The ASCII characters with Unicode's White_Space property: tab, LF, VT, FF, CR, space.
    var isSpace: Bool { self == 0x20 || (self >= 0x09 && self <= 0x0D) }
    static var hash: UInt8 { UInt8(ascii: "#") }
    static var equals: UInt8 { UInt8(ascii: "=") }
    static var openBracket: UInt8 { UInt8(ascii: "[") }
    static var closeBracket: UInt8 { UInt8(ascii: "]") }
    static func string<S: Collection>(_ units: S) -> String where S.Element == UInt8 { String(decoding: units, as: UTF8.self) }
}

extension Character: LineUnit {
    var isSpace: Bool { isWhitespace }
    static var hash: Character { "#" }
    static var equals: Character { "=" }
    static var openBracket: Character { "[" }
    static var closeBracket: Character { "]" }
    static func string<S: Collection>(_ units: S) -> String where S.Element == Character { String(units) }
}
