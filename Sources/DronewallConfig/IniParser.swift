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
    /// Parses one file's text. `lines` are registered with `diagnostics` for caret display.
    /// Returns the sections found; problems go to `diagnostics` and parsing goes on.
    public static func parse(bytes: [UInt8], path: String, diagnostics: inout Diagnostics) -> [IniSection] {
        let rawLines = splitLines(bytes)
        var lines: [String] = []
        var badLines: [(Int, Int)] = []
        for (i, raw) in rawLines.enumerated() {
            if let s = String(validating: raw, as: UTF8.self) {
                lines.append(s)
            } else {
                let good = validPrefixLength(raw)
                let prefix = String(decoding: raw.prefix(good), as: UTF8.self)
                badLines.append((i + 1, prefix.count + 1))
                lines.append(String(decoding: raw, as: UTF8.self))
            }
        }
        diagnostics.register(file: path, lines: lines)
        for (line, col) in badLines {
            diagnostics.error("invalid UTF-8 (the file must be UTF-8 text)", at: SourceLocation(file: path, line: line, column: col))
        }
        let bad = Set(badLines.map(\.0))

        var sections: [IniSection] = []
        for (index, line) in lines.enumerated() {
            let lineNo = index + 1
            if bad.contains(lineNo) { continue }
            let chars = Array(stripComment(line))
            let start = chars.firstIndex { !$0.isWhitespace } ?? chars.count
            var end = chars.count
            while end > start && chars[end - 1].isWhitespace { end -= 1 }
            if start == end { continue }
            func loc(_ i: Int) -> SourceLocation { SourceLocation(file: path, line: lineNo, column: i + 1) }

            if chars[start] == "[" {
                guard chars[end - 1] == "]" else {
                    diagnostics.error("unterminated section header: expected ']'", at: loc(end))
                    continue
                }
                let inner = Array(chars[(start + 1)..<(end - 1)])
                let words = splitWords(inner, offset: start + 1)
                guard let kindWord = words.first else {
                    diagnostics.error("empty section header", at: loc(start), length: end - start)
                    continue
                }
                if words.count > 2 {
                    diagnostics.error("unexpected '\(words[2].0)' in section header", at: loc(words[2].1),
                                      length: words[2].0.count)
                }
                let name = words.count > 1 ? IniWord(text: words[1].0, location: loc(words[1].1)) : nil
                sections.append(IniSection(kind: kindWord.0, kindLocation: loc(kindWord.1), name: name, entries: []))
                continue
            }

            guard let eq = chars[start..<end].firstIndex(of: "=") else {
                diagnostics.error("expected 'key = value' or a '[section]' header", at: loc(start), length: end - start)
                continue
            }
            var keyEnd = eq
            while keyEnd > start && chars[keyEnd - 1].isWhitespace { keyEnd -= 1 }
            let key = String(chars[start..<keyEnd])
            if key.isEmpty {
                diagnostics.error("missing key before '='", at: loc(eq))
                continue
            }
            if !key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
                diagnostics.error("invalid key '\(key)'", at: loc(start), length: keyEnd - start)
                continue
            }
            var valueStart = eq + 1
            while valueStart < end && chars[valueStart].isWhitespace { valueStart += 1 }
            let value = String(chars[valueStart..<end])
            if value.isEmpty {
                diagnostics.error("empty value for '\(key)'", at: loc(eq))
                continue
            }
            guard !sections.isEmpty else {
                diagnostics.error("'\(key)' outside any section; put it under a [section] header", at: loc(start),
                                  length: keyEnd - start)
                continue
            }
            let words = splitWords(Array(chars[valueStart..<end]), offset: valueStart)
                .map { IniWord(text: $0.0, location: loc($0.1)) }
            sections[sections.count - 1].entries.append(
                IniEntry(key: key.lowercased(), keyLocation: loc(start), value: value,
                         valueLocation: loc(valueStart), words: words))
        }
        return sections
    }

    /// `#` starts a comment at the start of a line or after whitespace, so URLs keep fragments.
    static func stripComment(_ line: String) -> Substring {
        var prevWhitespace = true
        for i in line.indices {
            let c = line[i]
            if c == "#" && prevWhitespace { return line[..<i] }
            prevWhitespace = c.isWhitespace
        }
        return line[...]
    }

    static func splitWords(_ chars: [Character], offset: Int) -> [(String, Int)] {
        var out: [(String, Int)] = []
        var i = 0
        while i < chars.count {
            if chars[i].isWhitespace { i += 1; continue }
            let s = i
            while i < chars.count && !chars[i].isWhitespace { i += 1 }
            out.append((String(chars[s..<i]), s + offset))
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
