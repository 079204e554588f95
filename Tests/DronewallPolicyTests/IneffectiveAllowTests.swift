import DronewallConfig
import Testing

/// `check` tells an admin when an `allow` cannot work because a host also serves a category that
/// stays blocked (the fixture's sync.acme.example and 203.0.113.20 serve flight-logs, firmware
/// and telemetry; fw.acme.example serves firmware only).
@Suite struct IneffectiveAllowTests {
    func allowWarnings(_ text: String) -> [String] {
        let (_, d) = snapshot(text: "[station]\nuplink-interfaces = eth0\n" + text)
        return d.warnings.filter { $0.message.hasPrefix("allow = ") }
            .map { "\($0.location!.line):\($0.location!.column) \($0.message)" }
    }

    @Test func namesTheHostsThatKeepAnAllowFromWorking() {
        let firmware = "allow = firmware has no effect for 203.0.113.20 (also flight-logs, telemetry); "
            + "sync.acme.example (also flight-logs, telemetry): a host is allowed only when every category it serves is allowed"
        let onlyTelemetry = "203.0.113.20 (also telemetry); sync.acme.example (also telemetry): "
            + "a host is allowed only when every category it serves is allowed"
        // Drones a and c have the same blocked categories, b allows what those hosts also serve, and
        // d blocks telemetry again: each gets the answer for its own policy.
        let warnings = allowWarnings("""
            [drone a]
            address = 192.0.2.10
            policy = local-data
            allow = firmware
            [drone b]
            address = 192.0.2.11
            policy = local-data
            allow = firmware flight-logs telemetry
            [drone c]
            address = 192.0.2.12
            policy = allowlist
            allow = maps firmware
            [drone d]
            address = 192.0.2.13
            policy = local-data
            allow = firmware flight-logs
            [drone e]
            address = 192.0.2.14
            policy = local-data
            allow = firmware
            """)
        #expect(warnings == [
            "6:9 " + firmware,
            "14:14 " + firmware,
            "18:9 allow = firmware has no effect for " + onlyTelemetry,
            // logs.acme.example serves flight-logs alone: allowed, so not named.
            "18:18 allow = flight-logs has no effect for " + onlyTelemetry,
            "22:9 " + firmware,
        ])
    }
}
