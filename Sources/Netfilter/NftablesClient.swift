import SourcePlaces
import CNetfilter
import NftModel
#if canImport(Glibc)
import Glibc
#endif

/// Applies, updates, reads back and removes one nftables table through a transport.
///
/// Every change is one netlink batch, which the kernel commits all or nothing.
public final class NftablesClient {
    public let transport: NetlinkTransport
    /// The one table this client works on (dronewall owns exactly one).
    public let table: String
    public let family: TableFamily
    private var nextSequence: UInt32
    /// How `apply` retries when the ruleset generation moved on between its read of the learned
    /// elements and its batch (see `apply`).
    public var generationRetry = GenerationRetry()
    /// Waits between tries, in milliseconds (tests record instead of sleeping).
    package var pause: (_ milliseconds: Int) -> Void = { ms in if ms > 0 { usleep(useconds_t(ms) * 1000) } }
    /// Called after `apply` read the learned elements and before it sends its batch, with the try
    /// number from 1: where tests make the race happen.
    package var betweenDumpAndBatch: ((_ attempt: Int) -> Void)?

    /// Whether `apply` makes the table this client's socket's own (see `TableOwnership`). When
    /// the kernel refuses the flags, `apply` goes on unowned and says why in `ownershipRefused`.
    public var ownership = TableOwnership.unowned
    public private(set) var ownershipRefused: NetlinkError?

    /// `firstSequence`: the sequence number of the first message sent (tests pin it).
    public init(transport: NetlinkTransport, table: String, family: TableFamily = .inet, firstSequence: UInt32 = 1) {
        self.transport = transport
        self.table = table
        self.family = family
        self.nextSequence = firstSequence
    }

    // MARK: building batches

    /// The messages `apply` sends, without sending them (batch begin and end included). With
    /// `rulesetGeneration` the kernel runs the batch only while the ruleset is still at it.
    public func applyBatch(_ ruleset: Ruleset, rulesetGeneration generation: UInt32? = nil) throws(NetlinkError) -> [NetlinkMessage] {
        let table = ruleset.table
        guard table.name == self.table, table.family == family else {
            throw NetlinkError(kind: .invalidRuleset, errno: EINVAL, object: .table(family: "\(table.family)", name: table.name),
                               operation: "linearize", detail: "this client writes table \(family) \(self.table) only")
        }
        let lin = Linearizer(table: table)
        // Make sure the table exists so that deleting it cannot fail, then replace it. A table a
        // former daemon left behind (persist, owner gone) is replaced like any other: adopted.
        var body = [lin.tableMessage(raw(NFT_MSG_NEWTABLE), flags: NLM_F_CREATE),
                    lin.tableMessage(raw(NFT_MSG_DELTABLE), flags: 0),
                    lin.tableMessage(raw(NFT_MSG_NEWTABLE), flags: NLM_F_CREATE, comment: table.comment,
                                     tableFlags: ownership.tableFlags)]
        // Chains before sets, as nft orders them: verdict-map elements may jump to a chain.
        for c in table.chains { body.append(lin.chainMessage(c)) }
        for s in table.sets {
            body.append(lin.setMessage(s))
            if !s.elements.isEmpty {
                body += try lin.elementMessages(s, s.elements, .creatingSet)
            }
        }
        for c in table.chains {
            for (i, r) in c.rules.enumerated() { body.append(try lin.ruleMessage(r, chain: c, index: i)) }
        }
        return batch(body, generation: generation)
    }

    /// Wraps `body` in batch begin/end, numbers every message and asks for an ack on each.
    func batch(_ body: [NetlinkMessage], generation: UInt32? = nil) -> [NetlinkMessage] {
        var all = [NetlinkMessage(bytes: buildBatchControl(begin: true, flags: NLM_F_ACK, generation: generation))]
        for var m in body {
            m.bytes[6] |= UInt8(NLM_F_ACK)
            all.append(m)
        }
        all.append(NetlinkMessage(bytes: buildBatchControl(begin: false, flags: NLM_F_ACK)))
        for i in all.indices { all[i].sequence = takeSequence() }
        return all
    }

    func takeSequence() -> UInt32 {
        defer { nextSequence = nextSequence == UInt32.max ? 1 : nextSequence + 1 }
        return nextSequence
    }

    // MARK: operations

    /// Replaces dronewall's table with `ruleset` in one batch; on error nothing changed.
    /// Addresses learned at run time (elements of the timeout sets) are read from the table
    /// being replaced and go into the new one in the same batch, with their remaining time, so
    /// a drone holding a cached answer stays classified. Returns how many were carried over.
    /// If any nftables commit lands between that read and the batch, the kernel refuses the
    /// batch and `apply` reads again, up to `generationRetry.attempts` times.
    @discardableResult
    public func apply(_ ruleset: Ruleset, carryingLearnedElements carry: Bool = true) throws(NetlinkError) -> Int {
        do {
            return try replace(ruleset, carry: carry)
        } catch where ownership != .unowned && error.errno == EOPNOTSUPP && error.isAboutTable {
            // A kernel before 6.9 knows no `persist`: an owned table would go with the daemon,
            // leaving the station open. Never owner without persist: the table stays unowned.
            ownership = .unowned
            ownershipRefused = error
            return try replace(ruleset, carry: carry)
        }
    }

    private func replace(_ ruleset: Ruleset, carry: Bool) throws(NetlinkError) -> Int {
        guard carry, !ruleset.learnedSets.isEmpty else {
            try send(try applyBatch(ruleset), operation: "apply")
            return 0
        }
        // The learner (another process) may add an element after our dump and before our batch
        // commits; the old table and that element would go together. So the batch carries the
        // generation read before the dump, and the kernel refuses it whole if anything committed
        // since: then read again and retry.
        return try retryingConcurrentChanges(operation: "apply") { generation, attempt throws(NetlinkError) in
            var r = ruleset
            let carried = try carryLearnedElements(into: &r)
            betweenDumpAndBatch?(attempt)
            try send(try applyBatch(r, rulesetGeneration: generation), operation: "apply")
            return carried
        }
    }

    /// Runs `body` with the ruleset generation read first, again while the kernel refuses its
    /// batch for a stale generation (ERESTART on batch begin, see GenerationCodec) or marks a
    /// dump interrupted, up to `generationRetry.attempts` times. Every commit to any nftables
    /// table of the namespace bumps the generation (firewalld, docker, the learner's every
    /// answer), so a retry or two is normal on a busy station.
    func retryingConcurrentChanges<T>(operation: String,
                                      _ body: (_ generation: UInt32, _ attempt: Int) throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            do throws(NetlinkError) {
                return try body(try rulesetGeneration(), attempt)
            } catch where NftablesClient.isConcurrentChange(error) {
                guard attempt < generationRetry.attempts else {
                    var e = error
                    e.operation = operation
                    e.detail = "the nftables ruleset changed while the table was read or before the batch, "
                        + "\(attempt) times in a row (some program writes nftables tables without pause); "
                        + "the running table is unchanged, try again"
                    throw e
                }
                pause(generationRetry.pauseMilliseconds * attempt)
            }
        }
    }

    /// Retries of `apply` when the ruleset changes under it.
    public struct GenerationRetry: Sendable, Hashable {
        /// Tries in all, the first included.
        public var attempts: Int
        /// The pause after try n is n times this.
        public var pauseMilliseconds: Int

        public init(attempts: Int = 10, pauseMilliseconds: Int = 10) {
            self.attempts = max(1, attempts)
            self.pauseMilliseconds = max(0, pauseMilliseconds)
        }
    }

    /// A batch refused for a stale generation (ERESTART on batch begin), or a dump the kernel
    /// marked interrupted by a commit (NLM_F_DUMP_INTR): both mean "someone wrote; read again".
    static func isConcurrentChange(_ e: NetlinkError) -> Bool {
        (e.errno == ERESTART && e.kind == .rejected && e.object == .batch)
            || (e.errno == EINTR && e.kind == .protocolViolation)
    }

    /// Copies the live elements of every timeout set (not meters) that the new ruleset also
    /// declares, with the same types; keys the new ruleset lists itself keep the new entry.
    func carryLearnedElements(into ruleset: inout Ruleset) throws(NetlinkError) -> Int {
        var carried = 0
        let learned = Set(ruleset.learnedSets.map(\.name))
        for i in ruleset.table.sets.indices where learned.contains(ruleset.table.sets[i].name) {
            let set = ruleset.table.sets[i]
            guard let live = try elements(set: set.name) else {
                continue
            }
            let own = Set(set.elements.map(\.key))
            for e in live {
                // An element about to expire is not worth a place in the batch.
                guard e.key.count == set.keyType.byteLength, let left = e.expiresMilliseconds, left >= 1000 else { continue }
                var data: Value?
                if let dataType = set.dataType {
                    guard dataType == .mark, let d = e.data, d.count == 4 else { continue }
                    data = .mark(d.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
                }
                let key = Value.network(IPNetwork(bytes: e.key, prefixLength: e.key.count * 8))
                guard !own.contains(key) else { continue }
                ruleset.table.sets[i].elements.append(SetElement(key: key, data: data, timeoutMilliseconds: left,
                                                                 comment: e.comment))
                carried += 1
            }
        }
        return carried
    }

    /// Deletes the table (only it) and reports whether it existed.
    @discardableResult
    public func flush() throws(NetlinkError) -> Bool {
        let lin = Linearizer(family: family, tableName: table)
        do {
            try send(batch([lin.tableMessage(raw(NFT_MSG_DELTABLE), flags: 0)]), operation: "flush")
            return true
        } catch where error.isNotFound {
            return false
        }
    }

    /// Sends a batch and turns the first error ack into a `NetlinkError` naming its object.
    func send(_ messages: [NetlinkMessage], operation: String) throws(NetlinkError) {
        let acks: [NetlinkAck]
        do {
            acks = try transport.sendBatch(messages)
        } catch {
            var e = error
            e.operation = operation
            throw e
        }
        let failed = acks.filter { !$0.isSuccess }
        guard let first = failed.first else { return }
        func describe(_ ack: NetlinkAck) -> (object: KernelObject?, origin: SourceLocation?) {
            guard let m = messages.first(where: { $0.sequence == ack.sequence }) else { return (nil, nil) }
            if m.kind == .batchBegin || m.kind == .batchEnd { return (.batch, nil) }
            if let offset = ack.errorOffset, let part = NftablesClient.part(of: m, at: offset) {
                return (part.object, part.origin)
            }
            return (m.subject?.object, m.subject?.origin)
        }
        let (object, origin) = describe(first)
        let later = failed.dropFirst().map { ack -> String in
            let (o, org) = describe(ack)
            var s = (o?.description ?? "message \(ack.sequence)") + (org.map { " (from \($0))" } ?? "")
            s += ": " + NetlinkError.strerror(ack.errno)
            if let x = ack.extendedMessage { s += ": " + x }
            return s
        }
        throw NetlinkError(kind: NetlinkError.kind(forErrno: first.errno, default: .rejected), errno: first.errno,
                           extendedAck: first.extendedMessage, object: object, origin: origin,
                           operation: operation, laterErrors: Array(later))
    }

    /// The list item (set element) of `message` that contains byte `offset`, using the
    /// NFTA_SET_ELEM_LIST_ELEMENTS nest as built by libnftnl.
    static func part(of message: NetlinkMessage, at offset: UInt32) -> MessageSubject? {
        guard !message.parts.isEmpty else { return nil }
        let b = message.bytes
        guard let list = NetlinkAttributes(b, from: 20, to: b.count) // after nlmsghdr + nfgenmsg
            .first(where: { $0.type == UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue) }) else { return nil }
        for (index, item) in NetlinkAttributes(b, from: list.value.lowerBound, to: list.value.upperBound).enumerated()
        where Int(offset) >= item.offset && Int(offset) < item.value.upperBound {
            return index < message.parts.count ? message.parts[index] : nil
        }
        return nil
    }
}

/// Who may change the table. An owned table (`NFT_TABLE_F_OWNER`) accepts changes, deletes and
/// flushes only from the netlink socket that created it: `nft flush ruleset` passes it by, and
/// no other program can edit it. With `NFT_TABLE_F_PERSIST` it outlives that socket (the daemon
/// stopped, crashed, was upgraded), unowned until the next daemon replaces it with its own.
/// Both flags came with Linux 6.9 (persist; owner with 5.12): uapi linux/netfilter/nf_tables.h,
/// enum nft_table_flags.
public enum TableOwnership: Sendable, Hashable {
    /// Anyone with CAP_NET_ADMIN may change or delete the table (kernels before 6.9, the CLI).
    case unowned
    /// This client's socket owns the table, and the table persists when the socket goes.
    case ownedAndPersistent

    static let ownerFlag: UInt32 = 0x2    // NFT_TABLE_F_OWNER
    static let persistFlag: UInt32 = 0x4  // NFT_TABLE_F_PERSIST

    var tableFlags: UInt32 {
        switch self {
        case .unowned: return 0
        case .ownedAndPersistent: return TableOwnership.ownerFlag | TableOwnership.persistFlag
        }
    }
}

extension NetlinkError {
    /// The kernel refused the table message itself (not a chain, set or rule in it).
    var isAboutTable: Bool {
        if case .table? = object { return true }
        return false
    }
}
