import CNetfilter
#if canImport(Glibc)
import Glibc
#endif

/// One committed nf_tables transaction of another program that touches what dronewall relies on:
/// its table, or a base chain (which sees drone traffic beside ours, and may redirect it first).
public struct ForeignChange: Sendable, Hashable, CustomStringConvertible {
    /// The process the kernel names in the commit's generation message, when it names one.
    public var pid: UInt32?
    public var process: String?
    /// What changed, as `nft monitor` would say it: `delete table inet dronewall`, ...
    public var changes: [String]
    /// True when dronewall's own table was changed (or deleted).
    public var touchesOwnTable: Bool

    public init(pid: UInt32?, process: String?, changes: [String], touchesOwnTable: Bool) {
        (self.pid, self.process, self.changes, self.touchesOwnTable) = (pid, process, changes, touchesOwnTable)
    }

    public var description: String {
        let who = process.map { "\($0)\(pid.map { " (pid \($0))" } ?? "")" } ?? pid.map { "pid \($0)" } ?? "an unnamed process"
        return "\(who): " + changes.joined(separator: "; ")
    }
}

/// Reads the kernel's nf_tables change notifications (multicast group NFNLGRP_NFTABLES) and
/// keeps those other programs made to what matters to dronewall. The kernel sends each object
/// a commit changed, then one NFT_MSG_NEWGEN naming the process; changes sent by `ownPortID`
/// (the daemon's own socket) are dropped unread.
public final class NftablesMonitor {
    private let socket: NetlinkSocket
    private let ownPortID: UInt32
    private var decoder: NftablesChangeDecoder

    /// `ownPortID`: the socket whose changes are the daemon's own (`KernelTransport.portID`).
    public init(table: String, ownPortID: UInt32, networkNamespace: String? = nil) throws(NetlinkError) {
        socket = try NetlinkSocket(networkNamespace: networkNamespace, receiveCapacity: 1 << 20)
        socket.setReceiveBuffer(4 << 20)
        try socket.join(group: UInt32(NFNLGRP_NFTABLES.rawValue))
        self.ownPortID = ownPortID
        decoder = NftablesChangeDecoder(table: table)
    }

    /// What arrived since the last call (never waits), and whether notifications were lost (the
    /// socket overflowed): then the caller must look at the table itself.
    public func take() -> (changes: [ForeignChange], lost: Bool) {
        var out: [ForeignChange] = []
        var lost = false
        while true {
            guard let r = try? socket.receive(timeoutMilliseconds: 0) else { return (out, lost) }
            switch r {
            case .timeout: return (out, lost)
            case .overrun: lost = true
            case .data(let bytes):
                let (messages, _) = NetlinkMessage.ranges(in: bytes)
                for range in messages {
                    let m = NetlinkMessage(bytes: Array(bytes[range]))
                    if let c = decoder.add(m, ownPortID: ownPortID) { out.append(c) }
                }
            }
        }
    }
}

/// The pure part: collects one commit's object messages until its NEWGEN.
package struct NftablesChangeDecoder {
    let table: String
    private var pending: [(text: String, ownTable: Bool, deletes: String?)] = []

    package init(table: String) { self.table = table }

    /// nf_tables message types (enum nf_tables_msg_types), by their low byte.
    static let names: [UInt16: String] = [
        0: "new table", 2: "delete table", 3: "new chain", 5: "delete chain", 6: "new rule", 8: "delete rule",
        9: "new set", 11: "delete set", 12: "new elements", 14: "delete elements", 18: "new object",
        20: "delete object", 22: "new flowtable", 24: "delete flowtable",
    ]
    static let newChain: UInt16 = 3
    static let newGeneration = UInt16(NFT_MSG_NEWGEN.rawValue)

    /// Takes one notification; returns a foreign change when this message ends a commit that had one.
    package mutating func add(_ m: NetlinkMessage, ownPortID: UInt32) -> ForeignChange? {
        let b = m.bytes
        guard b.count >= 20, m.rawType >> 8 == Nfnetlink.nftables else { return nil }
        let kind = m.rawType & 0xFF
        let sender = b.host32(12)
        if kind == NftablesChangeDecoder.newGeneration {
            defer { pending.removeAll() }
            guard !pending.isEmpty else { return nil }
            // A deleted table takes everything in it along, each object notified: say it once.
            let goneTables = Set(pending.compactMap { $0.text.hasPrefix("delete table ") ? $0.deletes : nil })
            let said = pending.filter { $0.text.hasPrefix("delete table ") || !goneTables.contains($0.deletes ?? "") }
            var c = ForeignChange(pid: nil, process: nil, changes: said.map(\.text), touchesOwnTable: pending.contains { $0.ownTable })
            for a in NetlinkAttributes(b, from: 20, to: b.count) {
                switch a.type {
                case UInt16(NFTA_GEN_PROC_PID.rawValue) where a.value.count == 4: c.pid = b.big32(a.value.lowerBound)
                case UInt16(NFTA_GEN_PROC_NAME.rawValue): c.process = String(decoding: b[a.value].prefix { $0 != 0 }, as: UTF8.self)
                default: break
                }
            }
            return c
        }
        guard sender != ownPortID, let name = NftablesChangeDecoder.names[kind] else { return nil }
        var tableName = "", object = "", hook: UInt32?
        for a in NetlinkAttributes(b, from: 20, to: b.count) {
            let text = { String(decoding: b[a.value].prefix { $0 != 0 }, as: UTF8.self) }
            switch a.type {
            case 1: tableName = text()  // NFTA_{TABLE_NAME,CHAIN_TABLE,RULE_TABLE,SET_TABLE,SET_ELEM_LIST_TABLE}
            case 2 where kind >= 6 && kind <= 14: object = text()  // NFTA_RULE_CHAIN, NFTA_SET_NAME, NFTA_SET_ELEM_LIST_SET
            case 3 where kind <= 5: object = text()  // NFTA_CHAIN_NAME
            case 4 where kind == NftablesChangeDecoder.newChain:  // NFTA_CHAIN_HOOK
                hook = NetlinkAttributes(b, from: a.value.lowerBound, to: a.value.upperBound)
                    .first { $0.type == UInt16(NFTA_HOOK_HOOKNUM.rawValue) && $0.value.count == 4 }
                    .map { b.big32($0.value.lowerBound) }
            default: break
            }
        }
        let family = NftablesChangeDecoder.familyName(b[16])
        let own = tableName == table && family == "inet"
        let baseChain = hook != nil
        guard own || baseChain else { return nil }
        var text = "\(name) \(family) \(tableName)"
        if !object.isEmpty { text += kind <= 5 ? " chain \(object)" : (kind <= 8 ? " in chain \(object)" : " set \(object)") }
        if let hook, !own { text = "new base chain \(family) \(tableName) \(object) at hook \(NftablesChangeDecoder.hookName(hook))" }
        pending.append((text, own, name.hasPrefix("delete") ? "\(family) \(tableName)" : nil))
        return nil
    }
}

extension NftablesChangeDecoder {
    /// nft's name of an NFPROTO_* table family.
    static func familyName(_ nfproto: UInt8) -> String {
        [1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"][nfproto] ?? "family \(nfproto)"
    }

    /// The name of an NF_INET_* hook number (netdev's ingress is 0 too), else the number.
    static func hookName(_ n: UInt32) -> String {
        let names = ["prerouting", "input", "forward", "output", "postrouting", "ingress"]
        return names.indices.contains(Int(n)) ? names[Int(n)] : "\(n)"
    }
}
