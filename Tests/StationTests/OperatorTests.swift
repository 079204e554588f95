import Control
import DronewallPolicy
import Foundation
import Station
import Testing

/// The daemon's answers to `dronewall apply`, `reload`, `flush` and `status` (and SIGHUP), over
/// the scripted kernel, with config files in a temporary directory.
extension StationTests {
    /// A config and catalogue on disk; `body` gets the daemon's operator and the config path.
    func withOperator(_ body: (inout Operator, Rig, _ dir: String) throws -> Void) throws {
        try withStation { station, rig in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operator-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir + "/vendors", withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try Self.catalogue.write(toFile: dir + "/vendors/acme.rules", atomically: true, encoding: .utf8)
            try Self.config.write(toFile: dir + "/dronewall.conf", atomically: true, encoding: .utf8)
            try station.start()
            var desk = Operator(station: station, options: StationOptions(configPath: dir + "/dronewall.conf",
                                                                          catalogueDirectories: [dir + "/vendors"],
                                                                          databasePath: dir + "/flows.db"),
                                how: "at start", sources: LastKnownGood(configPath: dir + "/dronewall.conf",
                                                                        catalogueDirectories: [], savedAtMicros: 0,
                                                                        files: [dir + "/dronewall.conf": Array(Self.config.utf8)]))
            try body(&desk, rig, dir)
            _ = station.stop(drainNFLOG: false)
        }
    }

    @Test func aBrokenConfigIsRefusedWithItsPlaceAndTheTableStays() throws {
        try withOperator { desk, rig, dir in
            try (Self.config + "policy = sometimes\n").write(toFile: dir + "/broken.conf", atomically: true, encoding: .utf8)
            let (reply, stop) = desk.answer(ControlRequest(.apply, config: dir + "/broken.conf"))
            #expect(reply.exitCode == 65 && !stop)
            #expect(reply.errors.contains("broken.conf:6:1: error: 'policy' is set twice"), "\(reply.errors)")
            #expect(reply.errors.contains("the running table is unchanged"))
            #expect(rig.kernel.applied.count == 1, "only the start applied")
            #expect(desk.options.configPath == dir + "/dronewall.conf", "the daemon keeps its own config")
            let status = desk.answer(ControlRequest(.status)).reply.output
            #expect(status.contains("last refused: ") && status.contains("broken.conf:6:1: error: 'policy' is set twice")
                    && status.contains("the rules stayed as they were"), "\(status)")
        }
    }

    @Test func anAppliedConfigBecomesTheDaemonsAndReloadReadsItAgain() throws {
        try withOperator { desk, rig, dir in
            let other = dir + "/other.conf"
            try (Self.config + "block-host = 198.51.100.0/24\n").write(toFile: other, atomically: true, encoding: .utf8)
            let (reply, _) = desk.answer(ControlRequest(.apply, config: other))
            #expect(reply.exitCode == 0)
            #expect(reply.output.hasPrefix("applied table inet dronewall: 1 drone(s)"), "\(reply.output)")
            let lines = reply.output.split(separator: "\n")
            #expect(lines.first?.hasSuffix("; generation 0x\(String(desk.station.snapshot.generation >> 16, radix: 16))") == true)
            #expect(lines.first?.contains("changed in place") == true, "the daemon's own table: only the difference went")
            #expect(lines.last?.hasPrefix("read and compiled in ") == true && lines.last?.hasSuffix(" later") == true)
            #expect(reply.errors.contains("dronewalld now enforces \(other)"))
            #expect(rig.kernel.applied.count == 2)

            try (Self.config + "block-host = 198.51.100.0/25\n").write(toFile: other, atomically: true, encoding: .utf8)
            let reloaded = desk.reload()
            #expect(reloaded.exitCode == 0 && rig.kernel.applied.count == 3)
            let last = try #require(rig.kernel.applied.last)
            #expect(last.table.sets.contains { $0.elements.contains { "\($0.key)".contains("198.51.100.0/25") } },
                    "SIGHUP reads the file as it is now")
        }
    }

    @Test func aFlushDeletesTheTableAndStopsTheDaemon() throws {
        try withOperator { desk, rig, dir in
            let (status, _) = desk.answer(ControlRequest(.status))
            #expect(status.output.contains("table owner: dronewalld"))
            // The hash an auditor gets with sha256sum.
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            p.arguments = [dir + "/dronewall.conf"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
            #expect(status.status?.sources.first { $0.path == dir + "/dronewall.conf" }?.sha256 == String(expected))
            #expect(status.output.contains("\(expected)  \(dir)/dronewall.conf"))
            let (reply, stop) = desk.answer(ControlRequest(.flush))
            #expect(stop && reply.exitCode == 0)
            #expect(reply.output.hasPrefix("deleted table inet dronewall"))
            #expect(rig.kernel.calls.last == "flush")
        }
    }
}

/// The last policy the kernel accepted, kept for a boot with a broken config.
extension StationTests {
    @Test func anAcceptedPolicyIsKeptAndABrokenConfigAtStartEnforcesIt() throws {
        try withOperator { desk, _, dir in
            let options = desk.options
            let other = dir + "/other.conf"
            try (Self.config + "block-host = 198.51.100.0/24\n").write(toFile: other, atomically: true, encoding: .utf8)
            #expect(desk.answer(ControlRequest(.apply, config: other)).reply.exitCode == 0)
            let kept = try #require(LastKnownGood.read(from: options.lastKnownGoodPath), "saved beside the flow log")
            #expect(kept.configPath == other && kept.files[other] != nil && kept.files[dir + "/vendors/acme.rules"] != nil)
            #expect(LastKnownGood(parsing: kept.bytes)?.files == kept.files, "the file reads back as written")

            // Boot: the config is broken now. The daemon enforces what was applied last.
            try "[drone a]\npolicy = sometimes\n".write(toFile: other, atomically: true, encoding: .utf8)
            var asked = options
            asked.configPath = other
            var logged: [String] = []
            let (snapshot, how, kept2) = try asked.startingPolicy(asked.load(), sources: kept, log: { logged.append($1) })
            #expect(kept2.savedAtMicros == kept.savedAtMicros)
            #expect(snapshot.fingerprint == desk.station.snapshot.fingerprint, "the same policy, rebuilt from its sources")
            #expect(how.contains("last-known-good"))
            #expect(logged.first?.contains("error(s) (above); enforcing the last-known-good policy") == true)
            #expect(logged.first?.contains("dronewall reload") == true)

            // A first install: no valid config and nothing kept. Nothing is applied.
            try? FileManager.default.removeItem(atPath: options.lastKnownGoodPath)
            #expect(throws: StationError.self) { _ = try asked.startingPolicy(asked.load(), sources: kept, log: { _, _ in }) }
        }
    }
}
