import CNetfilter
import NftModel

/// What one change does to one set: add elements, or delete them by key.
public enum ElementOp: Sendable, Hashable {
    case add([SetElement])
    /// A map element is deleted by its key alone, as nft does: whatever value the kernel holds goes.
    case delete(keys: [Value])
}

/// Elements to delete from or add to one set, as part of one batch.
public struct ElementChange: Sendable {
    public var set: NamedSet
    public var op: ElementOp

    public init(set: NamedSet, op: ElementOp) {
        self.set = set
        self.op = op
    }

    public static func add(_ elements: [SetElement], to set: NamedSet) -> ElementChange { .init(set: set, op: .add(elements)) }
    public static func delete(keys: [Value], from set: NamedSet) -> ElementChange { .init(set: set, op: .delete(keys: keys)) }

    public var isDelete: Bool { if case .delete = op { true } else { false } }

    /// The elements as sent: key-only ones for a delete.
    public var elements: [SetElement] {
        switch op {
        case let .add(elements): return elements
        case let .delete(keys): return keys.map { SetElement(key: $0) }
        }
    }
}

/// A set element as the kernel reports it (for carrying learned addresses over a re-apply,
/// and for `explain`).
public struct KernelElement: Sendable, Hashable {
    public var key: [UInt8]
    public var data: [UInt8]?
    public var timeoutMilliseconds: UInt64?
    /// Time left before the kernel removes the element.
    public var expiresMilliseconds: UInt64?
    public var comment: String?

    public init(key: [UInt8], data: [UInt8]? = nil, timeoutMilliseconds: UInt64? = nil,
                expiresMilliseconds: UInt64? = nil, comment: String? = nil) {
        (self.key, self.data, self.timeoutMilliseconds) = (key, data, timeoutMilliseconds)
        (self.expiresMilliseconds, self.comment) = (expiresMilliseconds, comment)
    }
}

extension NftablesClient {
    /// Deletes and adds elements of several sets of the client's table in one batch, in the
    /// order given (a delete then an add of the same key replaces it atomically: a new value or
    /// a fresh timeout). Each `set` gives name, types and flags (its own elements are ignored).
    public func change(_ changes: [ElementChange], operation: String = "update elements") throws(NetlinkError) {
        let lin = Linearizer(family: family, tableName: table)
        var body: [NetlinkMessage] = []
        for c in changes {
            switch c.op {
            case let .add(elements) where !elements.isEmpty:
                body += try lin.elementMessages(c.set, elements, .addingToLiveSet)
            case let .delete(keys) where !keys.isEmpty:
                body += try lin.elementMessages(c.set, keys.map { SetElement(key: $0) }, .deletingFromLiveSet)
            default:
                continue
            }
        }
        guard !body.isEmpty else { return }
        try send(batch(body), operation: operation)
    }

    /// The elements of one set; nil when the table or set does not exist.
    public func elements(set name: String) throws(NetlinkError) -> [KernelElement]? {
        let q = SetObject()
        q.setString(attr(NFTNL_SET_TABLE), table)
        q.setString(attr(NFTNL_SET_NAME), name)
        var m = NetlinkMessage(bytes: buildMessage(raw(NFT_MSG_GETSETELEM), family: family.nfproto, flags: NLM_F_DUMP) {
            nftnl_set_elems_nlmsg_build_payload($0, q.ptr)
        })
        m.sequence = takeSequence()
        let replies: [NetlinkMessage]
        do {
            replies = try transport.request(m)
        } catch where error.isNotFound {
            return nil
        } catch {
            var e = error
            e.operation = "list elements of set \(name)"
            throw e
        }
        let collected = SetObject()
        for r in replies { _ = withHeader(r) { nftnl_set_elems_nlmsg_parse($0, collected.ptr) } }
        return collected.elements()
    }
}
