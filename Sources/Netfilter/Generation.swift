import CNetfilter
#if canImport(Glibc)
import Glibc
#endif

/// The nf_tables ruleset generation: a per-network-namespace counter the kernel bumps on every
/// committed batch, whatever table it wrote (ours, firewalld's, the learner's element adds).
///
/// Kernel facts relied on (torvalds/linux, net/netfilter/nf_tables_api.c and nfnetlink.c):
/// - NFT_MSG_GETGEN is answered by one NFT_MSG_NEWGEN message whose NFTA_GEN_ID is
///   `base_seq`, big-endian (nf_tables_fill_gen_info).
/// - nf_tables_commit bumps `base_seq`, skipping 0 (`while (++base_seq == 0)`), so a real
///   generation is never 0 — and 0 in a batch begin means "no check" (nf_tables_valid_genid:
///   `genid == 0 || base_seq == genid`, tested under the commit mutex).
/// - nfnetlink_rcv_batch asks valid_genid before it looks at a single message of the batch; on a
///   mismatch it answers the batch begin with -ERESTART and drops the whole batch, so nothing of
///   it ran: `netlink_ack(oskb, nlh, -ERESTART, NULL)`.
package enum GenerationCodec {
    /// NFT_MSG_GETGEN as nft sends it: no flags beyond NLM_F_REQUEST, family AF_UNSPEC, no payload.
    package static func request() -> NetlinkMessage {
        NetlinkMessage(bytes: buildMessage(raw(NFT_MSG_GETGEN), family: UInt8(AF_UNSPEC), flags: 0) { _ in })
    }

    /// True for an NFT_MSG_GETGEN request.
    package static func isRequest(_ m: NetlinkMessage) -> Bool {
        m.rawType == Nfnetlink.nftables << 8 | UInt16(NFT_MSG_GETGEN.rawValue)
    }

    /// NFTA_GEN_ID of an NFT_MSG_NEWGEN reply; nil for any other message.
    package static func generation(ofReply m: NetlinkMessage) -> UInt32? {
        guard m.rawType == Nfnetlink.nftables << 8 | UInt16(NFT_MSG_NEWGEN.rawValue) else { return nil }
        for a in NetlinkAttributes(m.bytes, from: 20, to: m.bytes.count)
        where a.type == UInt16(NFTA_GEN_ID.rawValue) && a.value.count == 4 {
            return m.bytes.big32(a.value.lowerBound)
        }
        return nil
    }

    /// The reply the kernel gives to NFT_MSG_GETGEN (for fakes): nfgenmsg with the low 16 bits of
    /// the generation as res_id, then NFTA_GEN_ID.
    package static func reply(generation: UInt32, sequence: UInt32) -> NetlinkMessage {
        var b: [UInt8] = []
        b.appendHost32(0)  // length, set below
        b.appendHost16(Nfnetlink.nftables << 8 | UInt16(NFT_MSG_NEWGEN.rawValue))
        b.appendHost16(0)
        b.appendHost32(sequence)
        b.appendHost32(0)  // port id
        b += [UInt8(AF_UNSPEC), Nfnetlink.version0, UInt8(generation >> 8 & 0xFF), UInt8(generation & 0xFF)]
        b.appendAttribute(UInt16(NFTA_GEN_ID.rawValue), bigEndianBytes(generation))
        b.replaceSubrange(0..<4, with: hostBytes(UInt32(b.count)))
        return NetlinkMessage(bytes: b)
    }

    /// The NFNL_BATCH_GENID a batch begin carries; nil when it carries none.
    package static func generation(ofBatchBegin m: NetlinkMessage) -> UInt32? {
        guard m.kind == .batchBegin else { return nil }
        for a in NetlinkAttributes(m.bytes, from: 20, to: m.bytes.count)
        where a.type == UInt16(NFNL_BATCH_GENID.rawValue) && a.value.count == 4 {
            return m.bytes.big32(a.value.lowerBound)
        }
        return nil
    }
}

extension NftablesClient {
    /// The ruleset generation the kernel is at now (see `GenerationCodec`).
    public func rulesetGeneration() throws(NetlinkError) -> UInt32 {
        var m = GenerationCodec.request()
        m.sequence = takeSequence()
        let replies: [NetlinkMessage]
        do {
            replies = try transport.request(m)
        } catch {
            var e = error
            e.operation = "read ruleset generation"
            throw e
        }
        guard let g = replies.lazy.compactMap(GenerationCodec.generation(ofReply:)).first else {
            throw NetlinkError(kind: .protocolViolation, errno: EPROTO, operation: "read ruleset generation",
                               detail: "the kernel's answer carries no generation id")
        }
        return g
    }
}
