import Testing
@testable import DronewallConfig

/// Places as a user reads them in `check`'s messages: columns count characters (a tab is one,
/// "é" is one), whatever bytes UTF-8 needs for them, on lines with and without such characters.
@Suite struct IniParserTests {
    func parse(_ text: String) -> ([IniSection], Diagnostics) {
        var d = Diagnostics()
        let s = IniParser.parse(bytes: Array(text.utf8), path: "/t.conf", diagnostics: &d)
        return (s, d)
    }

    func places(_ s: IniSection) -> [String] {
        [s.kindLocation.description] + (s.name.map { ["\($0.text)@\($0.location.column)"] } ?? [])
            + s.entries.flatMap { e in
                ["\(e.key)@\(e.keyLocation.column)=\(e.value)@\(e.valueLocation.column)"]
                    + e.words.map { "\($0.text)@\($0.location.column)" }
            }
    }

    @Test func columnsCountCharactersAfterMultiByteTextAndTabs() {
        let (sections, d) = parse("""
            [drone caméra-1]
            \tallow-host = ex.org\tdrönë.example  tiles.example.org # comment
            source = https://example.org/a#frag   # here the comment starts
            \u{00A0}note = a\u{00A0}b\u{3000}c   d
            """)
        #expect(d.all.isEmpty)
        #expect(sections.count == 1)
        #expect(places(sections[0]) == [
            "/t.conf:1:2", "caméra-1@8",
            "allow-host@2=ex.org\tdrönë.example  tiles.example.org@15", "ex.org@15", "drönë.example@22", "tiles.example.org@37",
            "source@1=https://example.org/a#frag@10", "https://example.org/a#frag@10",
            // No-break and ideographic spaces are whitespace too (Character.isWhitespace).
            "note@2=a\u{00A0}b\u{3000}c   d@9", "a@9", "b@11", "c@13", "d@17",
        ])
    }

    @Test func errorsPointAtTheCharacterOnEitherKindOfLine() {
        let (_, d) = parse("""
            [vendor x]
            name = y
            bad key = 1
            \tbäd = 2
            [endpoint é.example extra]
            [unterminated
            ümlaut
            = value
            k =
            """)
        #expect(d.errors.map { "\($0.location!.line):\($0.location!.column) \($0.message) ~\($0.length)" } == [
            "3:1 invalid key 'bad key' ~7",
            "4:2 invalid key 'bäd' ~3",
            "5:21 unexpected 'extra' in section header ~5",
            "6:14 unterminated section header: expected ']' ~1",
            "7:1 expected 'key = value' or a '[section]' header ~6",
            "8:1 missing key before '=' ~1",
            "9:3 empty value for 'k' ~1",
        ])
        // The caret lines up under the character, a tab kept as a tab.
        #expect(d.errors[1].description.hasSuffix("\tbäd = 2\n\t^~~\n"))
    }

    @Test func aCommentNeedsSpaceBeforeIt() {
        let (sections, _) = parse("[s]\na = b#c d #e\n# whole line\nc = \u{00A0}#x\n")
        #expect(sections[0].entries.map(\.value) == ["b#c d"])
        #expect(sections[0].entries.count == 1)
    }
}
