import DronewallConfig
import KernelLayout
@testable import Station
@testable import FlowLog
import Testing

/// The journal's line per new blocked flow, and its bound.
@Suite struct FlowAnnouncerTests {
    func record(_ destination: String, port: Int = 443, window: Int64 = 0, verdict: FlowVerdict = .blocked,
                host: String? = "flysafe-api.dji.com") -> FlowRecord {
        FlowRecord(key: FlowKey(drone: "alpha", reason: .category(.geofence), verdict: verdict, proto: .tcp, source: "192.0.2.18",
                                destination: destination, port: port, windowStart: window),
                   vendor: "dji", host: host, firstSeen: 0, lastSeen: 0, packets: 1, bytes: 60, attempts: 1)
    }

    @Test func aNewFlowIsOneLineAndItsLaterPacketsNone() {
        var a = FlowAnnouncer(perMinute: 60)
        let first = a.lines(for: [record("198.51.100.110")], now: 0)
        #expect(first.map(\.1) == ["blocked: drone alpha, dji geofence, tcp 198.51.100.110:443 (flysafe-api.dji.com)"])
        #expect(first.first?.0 == .notice)
        #expect(a.lines(for: [record("198.51.100.110")], now: 1_000_000).isEmpty, "the same flow again: nothing")
        let monitor = a.lines(for: [record("2001:db8:e::110", verdict: .wouldBlock, host: nil)], now: 2_000_000)
        #expect(monitor.map(\.1) == ["would-block: drone alpha, dji geofence, tcp [2001:db8:e::110]:443"])
        #expect(monitor.first?.0 == .info)
        #expect(a.lines(for: [record("198.51.100.110", window: 60_000_000)], now: 61_000_000).count == 1,
                "a new window, a new flow")
    }

    @Test func aFloodIsBoundedAndWhatWasHeldBackIsSaid() {
        var a = FlowAnnouncer(perMinute: 10)
        let flood = (1...100).map { record("198.51.100.\($0)") }
        let lines = a.lines(for: flood, now: 0)
        #expect(lines.count == 10, "ten lines, no more: the budget of a minute")
        let later = a.lines(for: [], now: 30_000_000)  // half a minute: five lines' worth
        #expect(later.map(\.1) == ["90 more new flow(s) not logged here, to spare the journal (dronewall log shows them)"])
    }

    @Test func whatItRemembersIsTheOpenWindowsFlowsOnly() {
        var a = FlowAnnouncer(perMinute: 10)
        let flood = (0..<10_050).map { record("198.51.100.\($0 % 250)", port: 1000 + $0 / 250) }
        _ = a.lines(for: flood, now: 0)
        _ = a.lines(for: flood, now: 1_000_000)
        #expect(a.remembered == 10_050, "the window is open: every flow of it is known")
        #expect(a.lines(for: [record("198.51.100.1", port: 1000)], now: 2_000_000).isEmpty)
        _ = a.lines(for: [record("198.51.100.1", window: 60_000_000)], now: 61_000_000)
        #expect(a.remembered == 1, "the first window closed: its flows are forgotten")
    }
}
