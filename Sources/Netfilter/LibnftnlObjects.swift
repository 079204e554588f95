import CNetfilter

/// Swift owners of libnftnl objects. Each frees its C object in `deinit`; none leaves the module.

/// libnftnl attribute ids come as named enums (imported as structs) or anonymous ones (Int).
@inline(__always) func attr(_ v: Int) -> UInt16 { UInt16(v) }
@inline(__always) func attr<T: RawRepresentable>(_ v: T) -> UInt16 where T.RawValue: BinaryInteger {
    UInt16(v.rawValue)
}
@inline(__always) func raw<T: RawRepresentable>(_ v: T) -> UInt32 where T.RawValue: BinaryInteger {
    UInt32(v.rawValue)
}

/// Bytes of a fixed-width integer in host order (how meta/ct values sit in registers).
func hostBytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

/// Builds one nf_tables netlink message with libnftnl and returns its bytes (sequence 0).
func buildMessage(_ type: UInt32, family: UInt8, flags: Int32, capacity: Int = 1 << 16,
                  _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: capacity)
    let length = buffer.withUnsafeMutableBytes { raw -> Int in
        let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
        // nftnl_nlmsg_build_hdr adds NLM_F_REQUEST and the nf_tables subsystem to the type.
        let nlh = nftnl_nlmsg_build_hdr(base, UInt16(type), UInt16(family), UInt16(flags), 0)!
        payload(nlh)
        return Int(nlh.pointee.nlmsg_len)
    }
    precondition(length <= capacity, "netlink message overflowed its buffer")
    return Array(buffer.prefix(length))
}

/// Builds a batch control message (begin or end) for the nf_tables subsystem. A batch begin
/// with `generation` carries it as NFNL_BATCH_GENID (big-endian u32), so that the kernel runs
/// the batch only if the ruleset is still at that generation.
func buildBatchControl(begin: Bool, flags: Int32, generation: UInt32? = nil) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: 64)
    let length = buffer.withUnsafeMutableBytes { raw -> Int in
        let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
        let nlh = begin ? nftnl_batch_begin(base, 0)! : nftnl_batch_end(base, 0)!
        nlh.pointee.nlmsg_flags |= UInt16(flags)
        return Int(nlh.pointee.nlmsg_len)
    }
    var bytes = Array(buffer.prefix(length))
    if begin, let generation {
        bytes.appendAttribute(UInt16(NFNL_BATCH_GENID.rawValue), bigEndianBytes(generation))
        bytes.replaceSubrange(0..<4, with: hostBytes(UInt32(bytes.count)))
    }
    return bytes
}

/// Runs `body` with a pointer to the message's header, for libnftnl's parsers.
func withHeader<R>(_ message: NetlinkMessage, _ body: (UnsafePointer<nlmsghdr>) -> R) -> R {
    message.bytes.withUnsafeBytes { raw in
        // Copy into aligned storage: libmnl reads the header and attributes with natural alignment.
        let aligned = UnsafeMutableRawPointer.allocate(byteCount: max(raw.count, 16), alignment: 8)
        defer { aligned.deallocate() }
        aligned.copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        return body(aligned.assumingMemoryBound(to: nlmsghdr.self))
    }
}

final class TableObject {
    let ptr: OpaquePointer
    init(family: UInt8, name: String) {
        ptr = nftnl_table_alloc()!
        nftnl_table_set_u32(ptr, attr(NFTNL_TABLE_FAMILY), UInt32(family))
        _ = nftnl_table_set_str(ptr, attr(NFTNL_TABLE_NAME), name)
    }
    init() { ptr = nftnl_table_alloc()! }
    deinit { nftnl_table_free(ptr) }

    func message(_ type: UInt32, family: UInt8, flags: Int32) -> [UInt8] {
        buildMessage(type, family: family, flags: flags) { nftnl_table_nlmsg_build_payload($0, ptr) }
    }
    var name: String? { nftnl_table_get_str(ptr, attr(NFTNL_TABLE_NAME)).map { String(cString: $0) } }
    var handle: UInt64? {
        nftnl_table_is_set(ptr, attr(NFTNL_TABLE_HANDLE)) ? nftnl_table_get_u64(ptr, attr(NFTNL_TABLE_HANDLE)) : nil
    }
    func setData(_ a: UInt16, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = nftnl_table_set_data(ptr, a, $0.baseAddress, UInt32($0.count)) }
    }
    func data(_ a: UInt16) -> [UInt8]? {
        guard nftnl_table_is_set(ptr, a) else { return nil }
        var len: UInt32 = 0
        guard let p = nftnl_table_get_data(ptr, a, &len) else { return nil }
        return Array(UnsafeRawBufferPointer(start: p, count: Int(len)))
    }
    /// The comment nft keeps in the table's user data.
    var comment: String? { data(attr(NFTNL_TABLE_USERDATA)).flatMap(udataComment) }
}

/// The comment TLV (type 0 for tables, chains and set elements alike, NUL-terminated) in nft user data.
func udataComment(_ u: [UInt8]) -> String? {
    var i = 0
    while i + 2 <= u.count {
        let type = u[i], len = Int(u[i + 1])
        guard i + 2 + len <= u.count else { return nil }
        if type == 0 { return String(decoding: u[(i + 2)..<(i + 2 + len)].prefix { $0 != 0 }, as: UTF8.self) }
        i += 2 + len
    }
    return nil
}

/// The comment TLV for user data: at most 127 bytes of text plus the NUL (nft's limit is 128).
func udataCommentTLV(_ text: String) -> [UInt8] {
    let bytes = Array(text.utf8.prefix(127)) + [0]
    return [0, UInt8(bytes.count)] + bytes
}

final class ChainObject {
    let ptr: OpaquePointer
    init() { ptr = nftnl_chain_alloc()! }
    deinit { nftnl_chain_free(ptr) }

    func setString(_ a: UInt16, _ s: String) { _ = nftnl_chain_set_str(ptr, a, s) }
    func setU32(_ a: UInt16, _ v: UInt32) { nftnl_chain_set_u32(ptr, a, v) }
    func setS32(_ a: UInt16, _ v: Int32) { nftnl_chain_set_s32(ptr, a, v) }
    func setData(_ a: UInt16, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = nftnl_chain_set_data(ptr, a, $0.baseAddress, UInt32($0.count)) }
    }
    /// The comment nft keeps in the chain's user data.
    var comment: String? {
        guard nftnl_chain_is_set(ptr, attr(NFTNL_CHAIN_USERDATA)) else { return nil }
        var len: UInt32 = 0
        guard let p = nftnl_chain_get_data(ptr, attr(NFTNL_CHAIN_USERDATA), &len) else { return nil }
        return udataComment(Array(UnsafeRawBufferPointer(start: p, count: Int(len))))
    }
    func string(_ a: UInt16) -> String? {
        guard nftnl_chain_is_set(ptr, a) else { return nil }
        return nftnl_chain_get_str(ptr, a).map { String(cString: $0) }
    }
    func u32(_ a: UInt16) -> UInt32? { nftnl_chain_is_set(ptr, a) ? nftnl_chain_get_u32(ptr, a) : nil }
    func message(_ type: UInt32, family: UInt8, flags: Int32) -> [UInt8] {
        buildMessage(type, family: family, flags: flags) { nftnl_chain_nlmsg_build_payload($0, ptr) }
    }
}

final class SetObject {
    let ptr: OpaquePointer
    init() { ptr = nftnl_set_alloc()! }
    deinit { nftnl_set_free(ptr) }

    func setString(_ a: UInt16, _ s: String) { _ = nftnl_set_set_str(ptr, a, s) }
    func setU32(_ a: UInt16, _ v: UInt32) { nftnl_set_set_u32(ptr, a, v) }
    func setU64(_ a: UInt16, _ v: UInt64) { nftnl_set_set_u64(ptr, a, v) }
    func setData(_ a: UInt16, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = nftnl_set_set_data(ptr, a, $0.baseAddress, UInt32($0.count)) }
    }
    func string(_ a: UInt16) -> String? {
        guard nftnl_set_is_set(ptr, a) else { return nil }
        return nftnl_set_get_str(ptr, a).map { String(cString: $0) }
    }
    func u32(_ a: UInt16) -> UInt32? { nftnl_set_is_set(ptr, a) ? nftnl_set_get_u32(ptr, a) : nil }
    /// Adds an element; the set takes ownership of the C element.
    func add(_ element: ElementObject) {
        nftnl_set_elem_add(ptr, element.take())
    }
    func message(_ type: UInt32, family: UInt8, flags: Int32) -> [UInt8] {
        buildMessage(type, family: family, flags: flags) { nftnl_set_nlmsg_build_payload($0, ptr) }
    }
    func elementsMessage(_ type: UInt32, family: UInt8, flags: Int32) -> [UInt8] {
        buildMessage(type, family: family, flags: flags) { nftnl_set_elems_nlmsg_build_payload($0, ptr) }
    }
    /// Element flags of every element parsed into this set.
    /// Every parsed element with what a carry-over or `explain` needs.
    func elements() -> [KernelElement] {
        var out: [KernelElement] = []
        guard let iter = nftnl_set_elems_iter_create(ptr) else { return out }
        defer { nftnl_set_elems_iter_destroy(iter) }
        func bytes(_ elem: OpaquePointer, _ a: UInt16) -> [UInt8]? {
            guard nftnl_set_elem_is_set(elem, a) else { return nil }
            var len: UInt32 = 0
            guard let p = nftnl_set_elem_get(elem, a, &len) else { return nil }
            return Array(UnsafeRawBufferPointer(start: p, count: Int(len)))
        }
        var e = nftnl_set_elems_iter_next(iter)
        while let elem = e {
            let u64 = { (a: UInt16) in nftnl_set_elem_is_set(elem, a) ? nftnl_set_elem_get_u64(elem, a) : nil }
            out.append(KernelElement(key: bytes(elem, attr(NFTNL_SET_ELEM_KEY)) ?? [],
                                     data: bytes(elem, attr(NFTNL_SET_ELEM_DATA)),
                                     timeoutMilliseconds: u64(attr(NFTNL_SET_ELEM_TIMEOUT)),
                                     expiresMilliseconds: u64(attr(NFTNL_SET_ELEM_EXPIRATION)),
                                     comment: bytes(elem, attr(NFTNL_SET_ELEM_USERDATA)).flatMap(udataComment)))
            e = nftnl_set_elems_iter_next(iter)
        }
        return out
    }

    func elementFlags() -> [UInt32] {
        var out: [UInt32] = []
        guard let iter = nftnl_set_elems_iter_create(ptr) else { return out }
        defer { nftnl_set_elems_iter_destroy(iter) }
        var e = nftnl_set_elems_iter_next(iter)
        while let elem = e {
            let flags = nftnl_set_elem_is_set(elem, attr(NFTNL_SET_ELEM_FLAGS))
                ? nftnl_set_elem_get_u32(elem, attr(NFTNL_SET_ELEM_FLAGS)) : 0
            out.append(flags)
            e = nftnl_set_elems_iter_next(iter)
        }
        return out
    }
}

/// A set element before it is handed to a set (which then owns and frees it).
final class ElementObject {
    private var ptr: OpaquePointer?
    init() { ptr = nftnl_set_elem_alloc()! }
    deinit { if let ptr { nftnl_set_elem_free(ptr) } }

    func setData(_ a: UInt16, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = nftnl_set_elem_set(ptr!, a, $0.baseAddress, UInt32($0.count)) }
    }
    func setU32(_ a: UInt16, _ v: UInt32) { nftnl_set_elem_set_u32(ptr!, a, v) }
    func setU64(_ a: UInt16, _ v: UInt64) { nftnl_set_elem_set_u64(ptr!, a, v) }
    func setString(_ a: UInt16, _ s: String) { _ = nftnl_set_elem_set_str(ptr!, a, s) }
    fileprivate func take() -> OpaquePointer {
        let p = ptr!
        ptr = nil
        return p
    }
}

final class RuleObject {
    let ptr: OpaquePointer
    init() { ptr = nftnl_rule_alloc()! }
    deinit { nftnl_rule_free(ptr) }

    func setString(_ a: UInt16, _ s: String) { _ = nftnl_rule_set_str(ptr, a, s) }
    func setU32(_ a: UInt16, _ v: UInt32) { nftnl_rule_set_u32(ptr, a, v) }
    func string(_ a: UInt16) -> String? {
        guard nftnl_rule_is_set(ptr, a) else { return nil }
        return nftnl_rule_get_str(ptr, a).map { String(cString: $0) }
    }
    func u64(_ a: UInt16) -> UInt64? { nftnl_rule_is_set(ptr, a) ? nftnl_rule_get_u64(ptr, a) : nil }

    /// Appends an expression; the rule owns it from then on.
    func append(_ name: String, _ configure: (Expression) -> Void) {
        let e = nftnl_expr_alloc(name)!
        configure(Expression(ptr: e))
        nftnl_rule_add_expr(ptr, e)
    }
    func message(_ type: UInt32, family: UInt8, flags: Int32) -> [UInt8] {
        buildMessage(type, family: family, flags: flags) { nftnl_rule_nlmsg_build_payload($0, ptr) }
    }

    /// libnftnl's debug text of the rule, as `nft --debug=netlink` prints it: a
    /// `family table chain` line, then one `  [ expr ... ]` line per expression.
    var debugText: String {
        var size = 1 << 14
        while true {
            var buffer = [CChar](repeating: 0, count: size)
            let n = Int(nftnl_rule_snprintf(&buffer, size, ptr, raw(NFTNL_OUTPUT_DEFAULT), 0))
            guard n >= 0 else { return "" }
            // Like snprintf, libnftnl returns the length it needed; retry when it did not fit.
            if n < size { return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            size = n + 1
        }
    }

    /// Visits the rule's expressions (name and a borrowed view).
    func forEachExpression(_ body: (String, Expression) -> Void) {
        guard let iter = nftnl_expr_iter_create(ptr) else { return }
        defer { nftnl_expr_iter_destroy(iter) }
        var e = nftnl_expr_iter_next(iter)
        while let expr = e {
            let name = nftnl_expr_get_str(expr, attr(NFTNL_EXPR_NAME)).map { String(cString: $0) } ?? ""
            body(name, Expression(ptr: expr))
            e = nftnl_expr_iter_next(iter)
        }
    }
}

/// A borrowed view of an expression owned by a rule.
struct Expression {
    let ptr: OpaquePointer
    func u32(_ a: Int, _ v: UInt32) { nftnl_expr_set_u32(ptr, attr(a), v) }
    func u16(_ a: Int, _ v: UInt16) { nftnl_expr_set_u16(ptr, attr(a), v) }
    func u64(_ a: Int, _ v: UInt64) { nftnl_expr_set_u64(ptr, attr(a), v) }
    /// Hands a standalone expression to this one (dynset's inner expression); ownership moves.
    func adopt(_ a: Int, _ inner: OpaquePointer) { _ = nftnl_expr_set(ptr, attr(a), UnsafeRawPointer(inner), 0) }
    func s32(_ a: Int, _ v: Int32) { nftnl_expr_set_u32(ptr, attr(a), UInt32(bitPattern: v)) }
    func string(_ a: Int, _ s: String) { _ = nftnl_expr_set_str(ptr, attr(a), s) }
    func data(_ a: Int, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = nftnl_expr_set(ptr, attr(a), $0.baseAddress, UInt32($0.count)) }
    }
    func getU64(_ a: Int) -> UInt64? { nftnl_expr_is_set(ptr, attr(a)) ? nftnl_expr_get_u64(ptr, attr(a)) : nil }
    func getString(_ a: Int) -> String? {
        guard nftnl_expr_is_set(ptr, attr(a)) else { return nil }
        return nftnl_expr_get_str(ptr, attr(a)).map { String(cString: $0) }
    }
}
