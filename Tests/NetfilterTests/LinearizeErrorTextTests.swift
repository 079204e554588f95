import Testing
import NftModel
@testable import Netfilter
import NetfilterTesting

/// The texts a linearize error names its object and value with: nft's own notation
/// (`NftTextRenderer.render(value:)`), and never a trap on a malformed IR value.
@Suite struct LinearizeErrorTextTests {
    func linearizeError(_ table: Table) -> NetlinkError? {
        do { _ = try NftablesClient(transport: RecordingTransport(), table: table.name).applyBatch(Ruleset(table: table)) } catch {
            return error
        }
        return nil
    }

    @Test func mapValueOfTheWrongTypeIsNamedInNftText() throws {
        let e = try #require(linearizeError(Table(name: "dronewall", sets: [
            NamedSet(name: "marks", keyType: .ipv4Address, dataType: .mark,
                     elements: [SetElement(key: .network(Fixtures.net("192.0.2.1")), data: .verdict(.accept))]),
        ])))
        #expect(e.object == .element(set: "marks", value: "192.0.2.1"))
        #expect(e.detail == "value accept is not of type mark")
    }

    @Test func markIsRenderedAsNftPrintsIt() throws {
        let e = try #require(linearizeError(Table(name: "dronewall", chains: [
            Chain(name: "c", rules: [Rule([.equals(.socketUID, .mark(0x800), negated: false)], [], .verdict(.drop))]),
        ])))
        #expect(e.object == .rule(chain: "c", index: 1))
        #expect(e.detail == "meta skuid cannot be compared with 0x00000800")
    }

    @Test func labelBitBeyond127IsAnErrorNotATrap() throws {
        for (match, statement) in [(Match.conntrackLabel(128, negated: false), nil),
                                   (nil, Statement.setConntrackLabel(255))] {
            let rule = Rule(match.map { [$0] } ?? [], statement.map { [$0] } ?? [], .verdict(.accept))
            let e = try #require(linearizeError(Table(name: "dronewall", chains: [Chain(name: "c", rules: [rule])])))
            #expect(e.object == .rule(chain: "c", index: 1))
            #expect(e.detail == "conntrack label bit \(match == nil ? 255 : 128) is beyond 127")
        }
    }

    @Test func shortEtherKeyIsAnErrorNotATrap() throws {
        let e = try #require(linearizeError(Table(name: "dronewall", sets: [
            NamedSet(name: "macs", keyType: .etherAddress, elements: [SetElement(key: .ether([2, 0, 0xab]))]),
        ])))
        #expect(e.object == .element(set: "macs", value: "02:00:ab"))
    }
}
