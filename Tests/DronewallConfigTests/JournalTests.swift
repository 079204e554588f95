import DronewallConfig
import Testing

/// Log lines for the journal or a terminal.
@Suite struct JournalTests {
    @Test func theJournalGetsLevelsATerminalGetsWords() {
        #expect(Journal.lines(.warning, "a\nb", tag: "d: ", leveled: true) == "<4>d: a\n<4>d: b\n")
        #expect(Journal.lines(.warning, "a", tag: "d: ", leveled: false) == "d: warning: a\n")
        #expect(Journal.lines(.error, "a", tag: "d: ", leveled: false) == "d: error: a\n")
        #expect(Journal.lines(.notice, "a", tag: "d: ", leveled: false) == "d: a\n")
    }
}
