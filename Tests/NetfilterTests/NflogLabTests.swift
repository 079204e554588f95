import Foundation
import Testing
@testable import Netfilter
import NetfilterTesting

/// NflogReader against the real kernel, in a fresh network namespace that is always removed.
/// Needs root (CAP_NET_ADMIN, namespaces); without it the suite reports skipped.
@Suite(.enabled(if: geteuid() == 0, "not root: NFLOG lab tests need CAP_NET_ADMIN and network namespaces"), .serialized)
struct NflogLabTests {
    let prefix = "dw drone=a cat=geofence "

    struct Lab {
        let namespace: String
        let group: UInt16
    }

    /// A namespace with a veth pair whose end dw0 holds 192.0.2.1/24 and 2001:db8::1/64, and a table whose output
    /// chain counts, logs to a random group and drops everything sent to 192.0.2.77 / 2001:db8::77.
    func withLab(_ body: (Lab) throws -> Void) throws {
        try TestNamespace.with(prefix: "dwnflog") { name in
            let lab = Lab(namespace: name, group: UInt16.random(in: 100...60000))
            for cmd in [["ip", "link", "set", "lo", "up"],
                        ["ip", "link", "add", "dw0", "type", "veth", "peer", "name", "dw1"],
                        ["ip", "link", "set", "dw0", "up"],
                        ["ip", "link", "set", "dw1", "up"],
                        ["ip", "addr", "add", "192.0.2.1/24", "dev", "dw0"],
                        ["ip", "addr", "add", "2001:db8::1/64", "dev", "dw0", "nodad"]] {
                let r = try run(["ip", "netns", "exec", name] + cmd)
                #expect(r.status == 0, "\(cmd): \(r.stderr)")
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
            #expect(r.status == 0, "\(r.stderr)")
            try body(lab)
        }
    }

    @discardableResult
    func run(_ args: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestNamespace.run(args, stdin: stdin)
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

    @Test func loggedPacketsArriveDecodedWithConsecutiveSequenceNumbers() throws {
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
            #expect(sender.terminationStatus == 0)
            // TCP may retransmit its SYN while connect waits; take the first of each kind.
            guard events.count >= 4 else {
                Issue.record("expected 4 events or more: \(events)")
                return
            }
            #expect(events.compactMap(\.sequence) == (0..<UInt32(events.count)).map { $0 },
                    "one instance numbers its packets 0, 1, 2, ...")
            for e in events {
                #expect(e.group == lab.group)
                #expect(e.prefix == prefix)
                #expect(e.uid == 0, "output-hook packets carry the socket's uid")
                #expect(e.outputInterfaceIndex != nil)
            }
            let udp = events.prefix(3).compactMap(\.packet)
            #expect(udp.map(\.proto) == [.udp, .udp, .udp])
            #expect(udp.map(\.source) == Array(repeating: [192, 0, 2, 1], count: 3))
            #expect(udp.map(\.destination) == Array(repeating: [192, 0, 2, 77], count: 3))
            #expect(udp.map(\.sourcePort) == [40000, 40001, 40002])
            #expect(udp.map(\.destinationPort) == [5353, 5354, 5355])
            #expect(udp.map(\.length) == [37, 37, 37], "20 IP + 8 UDP + 9 payload")
            let tcp = try #require(events[3].packet)
            #expect(tcp.isIPv6)
            #expect(tcp.proto == .tcp)
            #expect(tcp.source == [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])
            #expect(tcp.destination == [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x77])
            #expect(tcp.sourcePort == 41000)
            #expect(tcp.destinationPort == 443)
            print("NFLOG lab: conntrack data \(reader.conntrackEnabled ? "on" : "refused by this kernel, reading without")")
            #expect(reader.stats.events == UInt64(events.count))
            #expect(reader.stats.sequenceGaps == 0)
            #expect(reader.stats.malformed == 0)
            #expect(try kernelCount(lab) == events.count)
        }
    }

    /// A second reader of the same group is told who holds it.
    @Test func secondBinderOfAGroupGetsAClearError() throws {
        try withLab { lab in
            do {
                let first = try NflogReader(group: lab.group, networkNamespace: lab.namespace)
                let e = try #require(throws: NetlinkError.self) {
                    try NflogReader(group: lab.group, networkNamespace: lab.namespace)
                }
                #expect(e.errno == EBUSY, "\(e)")
                #expect(e.description.contains("bound by another process"), "\(e)")
                withExtendedLifetime(first) {}
            }
            // Once the first reader is gone the group is free again.
            _ = try NflogReader(group: lab.group, networkNamespace: lab.namespace)
        }
    }

    /// Many packets as fast as the senders go: every logged packet is either received or counted lost.
    /// NFLOG_FLOOD (packets, default 20000) and NFLOG_SENDERS (processes, default 1) push harder by hand.
    @Test func floodCountsAddUp() throws {
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
            #expect(logged == sent / senders * senders)
            #expect(s.malformed == 0)
            if s.enobufs == 0 {
                #expect(events.count + Int(s.sequenceGaps) == logged, "received + lost == logged")
            } else {
                // After ENOBUFS the kernel drops every batch until the queue is drained; packets dropped after
                // the last one received leave no gap behind them.
                #expect(events.count + Int(s.sequenceGaps) <= logged)
            }
            #expect(Set(events.compactMap(\.sequence)).count == events.count, "no duplicates")
        }
    }
}
