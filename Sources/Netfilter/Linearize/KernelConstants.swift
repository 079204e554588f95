import CNetfilter
import NftModel

// IR words -> kernel constants and byte layouts, plus byte helpers the linearizer shares.

extension TableFamily {
    var nfproto: UInt8 {
        switch self { case .inet: return UInt8(NFPROTO_INET) }
    }
    init(nfproto: UInt8) { self = .inet }
}

extension Hook {
    var number: UInt32 {
        switch self {
        case .prerouting: return raw(NF_INET_PRE_ROUTING)
        case .input: return raw(NF_INET_LOCAL_IN)
        case .forward: return raw(NF_INET_FORWARD)
        case .output: return raw(NF_INET_LOCAL_OUT)
        case .postrouting: return raw(NF_INET_POST_ROUTING)
        }
    }
}

extension Verdict {
    var code: Int32 {
        switch self {
        case .accept: return Int32(NF_ACCEPT)
        case .drop: return Int32(NF_DROP)
        case .return: return NFT_RETURN.rawValue
        case .jump: return NFT_JUMP.rawValue
        case .goto: return NFT_GOTO.rawValue
        }
    }
    var chain: String? {
        switch self {
        case .jump(let c), .goto(let c): return c
        default: return nil
        }
    }
}

extension DataType {
    /// nft's byte order of the type (BYTEORDER_HOST_ENDIAN 1, BYTEORDER_BIG_ENDIAN 2; verdicts 0).
    var nftByteOrder: UInt32 {
        switch self {
        case .verdict: return 0
        case .uid, .mark, .interfaceName, .conntrackStatus: return 1
        case .ipv4Address, .ipv6Address, .etherAddress, .inetService: return 2
        }
    }
}

extension Value {
    /// The value as it sits in a register or set key of `type`; nil when the types do not fit.
    func bytes(as type: DataType) -> [UInt8]? {
        switch (self, type) {
        case (.network(let n), .ipv4Address) where n.isIPv4 && n.isHost: return n.bytes
        case (.network(let n), .ipv6Address) where !n.isIPv4 && n.isHost: return n.bytes
        case (.ether(let b), .etherAddress) where b.count == 6: return b
        case (.interfaceName(let name), .interfaceName):
            let u = Array(name.utf8)
            guard !u.isEmpty, u.count < 16, !u.contains(0) else { return nil }
            return u + [UInt8](repeating: 0, count: 16 - u.count)
        case (.uid(let u), .uid): return hostBytes(u)
        case (.mark(let m), .mark): return hostBytes(m)
        case (.port(let p), .inetService): return [UInt8(p >> 8), UInt8(p & 0xFF)]
        default: return nil
        }
    }

    /// First and last key of the value as an interval (network order).
    func range(as type: DataType) -> (first: [UInt8], last: [UInt8])? {
        switch (self, type) {
        case (.network(let n), .ipv4Address) where n.isIPv4: return (n.first, n.last)
        case (.network(let n), .ipv6Address) where !n.isIPv4: return (n.first, n.last)
        default:
            // Other key types only as single values; host-order intervals are not used by dronewall.
            guard !type.isHostByteOrder, let b = bytes(as: type) else { return nil }
            return (b, b)
        }
    }
}

/// Big-endian increment; nil on overflow (the range reaches the top of the address space).
func increment(_ bytes: [UInt8]) -> [UInt8]? {
    var out = bytes
    for i in stride(from: out.count - 1, through: 0, by: -1) {
        if out[i] == 0xFF { out[i] = 0 } else { out[i] += 1; return out }
    }
    return nil
}

/// One nftnl userdata TLV holding a u32 in host order.
func udataU32(_ type: UInt8, _ value: UInt32) -> [UInt8] { [type, 4] + hostBytes(value) }

/// Bytes a value of `length` takes in registers (whole 32-bit registers).
func registerBytes(_ length: Int) -> Int { (length + 3) / 4 * 4 }
