import Foundation
import XCTest
@testable import Netfilter

/// NflogReader against the real kernel, in a fresh network namespace that is always removed.
/// Needs root (CAP_NET_ADMIN, namespaces); skips with a printed reason otherwise.
final class NflogLabTests: XCTestCase {
    let prefix = "dw drone=a cat=geofence "

    struct Lab {
        let namespace: String
        let group: UInt16
    }

    /// A namespace with a veth pair whose end dw0 holds 192.0.2.1/24 and 2001:db8::1/64, and a table whose output
    /// chain counts, logs to a random group and drops everything sent to 192.0.2.77 / 2001:db8::77.
    func withLab(_ body: (Lab) throws -> Void) throws {
        guard geteuid() == 0 else {
            print("NflogLabTests skipped: not root (needs CAP_NET_ADMIN and network namespaces)")
            throw XCTSkip("not root: NFLOG lab tests need CAP_NET_ADMIN and network namespaces")
        }
        let name = "dwnflog-\(UInt32.random(in: 0...UInt32.max))"
        let add = try run(["ip", "netns", "add", name])
        guard add.status == 0 else {
            print("NflogLabTests skipped: cannot create a network namespace: \(add.stderr)")
            throw XCTSkip("cannot create a network namespace: \(add.stderr)")
        }
        defer { _ = try? run(["ip", "netns", "delete", name]) }
        let lab = Lab(namespace: name, group: UInt16.random(in: 100...60000))
        for cmd in [["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "dw0", "type", "veth", "peer", "name", "dw1"],
                    ["ip", "link", "set", "dw0", "up"],
                    ["ip", "link", "set", "dw1", "up"],
                    ["ip", "addr", "add", "192.0.2.1/24", "dev", "dw0"],
                    ["ip", "addr", "add", "2001:db8::1/64", "dev", "dw0", "nodad"]] {
            let r = try run(["ip", "netns", "exec", name] + cmd)
            XCTAssertEqual(r.status, 0, "\(cmd): \(r.stderr)")
        }
        let rules = """
            table inet nflogtest {
              chain out {
                type filter hook output priority 0; policy accept;
                ip daddr 192.0.2.77 counter log group \(lab.group) prefix "\(prefix)" drop
                ip6 daddr 2001:db8::77 counter log group \(lab.group) prefix "\(prefix)" drop
              }
            }
            """
        let r = try run(["ip", "netns", "exec", name, "nft", "-f", "-"], stdin: rules)
        XCTAssertEqual(r.status, 0, r.stderr)
        try body(lab)
    }

    @discardableResult
    func run(_ args: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(stdin.data(using: .utf8)!) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// Starts a Python sender in the namespace; the caller reads while it runs.
    func startSender(_ lab: Lab, _ script: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", lab.namespace, "python3", "-c", script]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Reads until the sender has exited and nothing more arrived for `quietMilliseconds`.
    func drain(_ reader: NflogReader, while sender: Process, quietMilliseconds: Int = 300) throws -> [NflogEvent] {
        var events: [NflogEvent] = []
        var quiet = 0
        while sender.isRunning || quiet < quietMilliseconds {
            let got = try reader.read(timeoutMilliseconds: 50)
            events += got
            quiet = got.isEmpty && !sender.isRunning ? quiet + 50 : 0
        }
        return events
    }

    /// Packets the kernel counted on the rules (the `counter` before `log`).
    func kernelCount(_ lab: Lab) throws -> Int {
        let r = try run(["ip", "netns", "exec", lab.namespace, "nft", "list", "chain", "inet", "nflogtest", "out"])
        return r.stdout.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "counter packets ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }.reduce(0, +)
    }

    // MARK: tests

    func testLoggedPacketsArriveDecodedWithConsecutiveSequenceNumbers() throws {
        try withLab { lab in
            let reader = try NflogReader(group: lab.group, networkNamespace: lab.namespace)
            // Every packet is dropped in output, so each send fails with EPERM after being logged.
            let sender = try startSender(lab, """
                import socket
                for port in (5353, 5354, 5355):
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.bind(("192.0.2.1", 40000 + port - 5353))
                    try: s.sendto(b"telemetry", ("192.0.2.77", port))
                    except OSError: pass
                s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                s.bind(("2001:db8::1", 41000))
                s.settimeout(0.2)
                try: s.connect(("2001:db8::77", 443))
                except OSError: pass
                """)
            let events = try drain(reader, while: sender)
            XCTAssertEqual(sender.terminationStatus, 0)
            // TCP may retransmit its SYN while connect waits; take the first of each kind.
            guard events.count >= 4 else { return XCTFail("expected 4 events or more: \(events)") }
            XCTAssertEqual(events.compactMap(\.sequence), (0..<UInt32(events.count)).map { $0 },
                           "one instance numbers its packets 0, 1, 2, ...")
            for e in events {
                XCTAssertEqual(e.group, lab.group)
                XCTAssertEqual(e.prefix, prefix)
                XCTAssertEqual(e.uid, 0, "output-hook packets carry the socket's uid")
                XCTAssertNotNil(e.outputInterfaceIndex)
            }
            let udp = events.prefix(3).compactMap(\.packet)
            XCTAssertEqual(udp.map(\.proto), [.udp, .udp, .udp])
            XCTAssertEqual(udp.map(\.source), Array(repeating: [192, 0, 2, 1], count: 3))
            XCTAssertEqual(udp.map(\.destination), Array(repeating: [192, 0, 2, 77], count: 3))
            XCTAssertEqual(udp.map(\.sourcePort), [40000, 40001, 40002])
            XCTAssertEqual(udp.map(\.destinationPort), [5353, 5354, 5355])
            XCTAssertEqual(udp.map(\.length), [37, 37, 37], "20 IP + 8 UDP + 9 payload")
            let tcp = try XCTUnwrap(events[3].packet)
            XCTAssertTrue(tcp.isIPv6)
            XCTAssertEqual(tcp.proto, .tcp)
            XCTAssertEqual(tcp.source, [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])
            XCTAssertEqual(tcp.destination, [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x77])
            XCTAssertEqual(tcp.sourcePort, 41000)
            XCTAssertEqual(tcp.destinationPort, 443)
            print("NFLOG lab: conntrack data \(reader.conntrackEnabled ? "on" : "refused by this kernel, reading without")")
            XCTAssertEqual(reader.stats.events, UInt64(events.count))
            XCTAssertEqual(reader.stats.sequenceGaps, 0)
            XCTAssertEqual(reader.stats.malformed, 0)
            XCTAssertEqual(try kernelCount(lab), events.count)
        }
    }

    /// A second reader of the same group is told who holds it.
    func testSecondBinderOfAGroupGetsAClearError() throws {
        try withLab { lab in
            do {
                let first = try NflogReader(group: lab.group, networkNamespace: lab.namespace)
                XCTAssertThrowsError(try NflogReader(group: lab.group, networkNamespace: lab.namespace)) { error in
                    let e = error as! NetlinkError
                    XCTAssertEqual(e.errno, EBUSY, e.description)
                    XCTAssertTrue(e.description.contains("bound by another process"), e.description)
                }
                withExtendedLifetime(first) {}
            }
            // Once the first reader is gone the group is free again.
            _ = try NflogReader(group: lab.group, networkNamespace: lab.namespace)
        }
    }

    /// Many packets as fast as the senders go: every logged packet is either received or counted lost.
    /// NFLOG_FLOOD (packets, default 20000) and NFLOG_SENDERS (processes, default 1) push harder by hand.
    func testFloodCountsAddUp() throws {
        try withLab { lab in
            let reader = try NflogReader(group: lab.group, networkNamespace: lab.namespace)
            let environment = ProcessInfo.processInfo.environment
            let sent = Int(environment["NFLOG_FLOOD"] ?? "") ?? 20_000
            let senders = max(Int(environment["NFLOG_SENDERS"] ?? "") ?? 1, 1)
            let started = Date()
            let sender = try startSender(lab, """
                import os, socket
                children = []
                for k in range(\(senders) - 1):
                    pid = os.fork()
                    if pid == 0:
                        children = None
                        break
                    children.append(pid)
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for i in range(\(sent / senders)):
                    try: s.sendto(b"x", ("192.0.2.77", 9))
                    except OSError: pass
                if children is None:
                    os._exit(0)
                for pid in children:
                    os.waitpid(pid, 0)
                """)
            var events: [NflogEvent] = []
            var first: Date?, last = Date()
            var quiet = 0
            while sender.isRunning || quiet < 300 {
                let got = try reader.read(timeoutMilliseconds: 50)
                if !got.isEmpty {
                    if first == nil { first = Date() }
                    last = Date()
                }
                events += got
                quiet = got.isEmpty && !sender.isRunning ? quiet + 50 : 0
            }
            let logged = try kernelCount(lab)
            let s = reader.stats
            let seconds = max(last.timeIntervalSince(first ?? started), 0.001)
            print("NFLOG flood: sent \(sent), kernel logged \(logged), received \(events.count), "
                  + "lost by sequence gaps \(s.sequenceGaps), ENOBUFS \(s.enobufs), malformed \(s.malformed), "
                  + "receive buffer \(s.receiveBufferBytes) B, \(Int(Double(events.count) / seconds)) events/s "
                  + "over \(String(format: "%.3f", seconds)) s")
            XCTAssertEqual(logged, sent / senders * senders)
            XCTAssertEqual(s.malformed, 0)
            if s.enobufs == 0 {
                XCTAssertEqual(events.count + Int(s.sequenceGaps), logged, "received + lost == logged")
            } else {
                // After ENOBUFS the kernel drops every batch until the queue is drained; packets dropped after
                // the last one received leave no gap behind them.
                XCTAssertLessThanOrEqual(events.count + Int(s.sequenceGaps), logged)
            }
            XCTAssertEqual(Set(events.compactMap(\.sequence)).count, events.count, "no duplicates")
        }
    }
}
