/// The kernel's uapi constants the pure codecs need, as Swift values (the C name beside each), so that the
/// message splitter, the ack parser and the NFLOG decoder build without the C headers.

/// linux/netlink.h
enum Netlink {
    static let noop: UInt16 = 0x1             // NLMSG_NOOP
    static let error: UInt16 = 0x2            // NLMSG_ERROR
    static let done: UInt16 = 0x3             // NLMSG_DONE
    static let request: UInt16 = 0x1          // NLM_F_REQUEST
    static let multipart: UInt16 = 0x2        // NLM_F_MULTI
    static let ack: UInt16 = 0x4              // NLM_F_ACK
    static let dumpInterrupted: UInt16 = 0x10 // NLM_F_DUMP_INTR
    static let dump: UInt16 = 0x300           // NLM_F_DUMP (NLM_F_ROOT | NLM_F_MATCH)
    static let capped: UInt16 = 0x100         // NLM_F_CAPPED: an ack echoes only the request's header
    static let ackTLVs: UInt16 = 0x200        // NLM_F_ACK_TLVS: extended-ack attributes follow
    static let errorMessage: UInt16 = 1       // NLMSGERR_ATTR_MSG
    static let errorOffset: UInt16 = 2        // NLMSGERR_ATTR_OFFS
    static let attributeTypeMask: UInt16 = 0x3FFF // NLA_TYPE_MASK: without NLA_F_NESTED, NLA_F_NET_BYTEORDER
}

/// linux/netfilter/nfnetlink.h
enum Nfnetlink {
    static let batchBegin: UInt16 = 0x10      // NFNL_MSG_BATCH_BEGIN
    static let batchEnd: UInt16 = 0x11        // NFNL_MSG_BATCH_END
    static let ulog: UInt16 = 4               // NFNL_SUBSYS_ULOG
    static let nftables: UInt16 = 10          // NFNL_SUBSYS_NFTABLES
    static let version0: UInt8 = 0            // NFNETLINK_V0
}

/// linux/netfilter/nfnetlink_log.h (and CTA_MARK from linux/netfilter/nfnetlink_conntrack.h)
enum NfnetlinkLog {
    static let packet = Nfnetlink.ulog << 8 | 0 // NFULNL_MSG_PACKET
    static let config = Nfnetlink.ulog << 8 | 1 // NFULNL_MSG_CONFIG

    /// enum nfulnl_attr_type (NFULA_*)
    enum Attribute: UInt16 {
        case packetHeader = 1, mark, timestamp, inputInterface, outputInterface, physicalInput, physicalOutput
        case hardwareAddress, payload, prefix, uid, sequence, globalSequence, gid, hardwareType, hardwareHeader
        case hardwareLength, conntrack, conntrackInfo, vlan, l2Header
    }

    /// enum nfulnl_attr_config (NFULA_CFG_*)
    enum ConfigAttribute: UInt16 {
        case command = 1, mode, bufferSize, timeout, queueThreshold, flags
    }

    static let bind: UInt8 = 1                // NFULNL_CFG_CMD_BIND
    static let unbind: UInt8 = 2              // NFULNL_CFG_CMD_UNBIND
    static let copyPacket: UInt8 = 2          // NFULNL_COPY_PACKET
    static let flagSequence: UInt16 = 0x1     // NFULNL_CFG_F_SEQ
    static let flagConntrack: UInt16 = 0x4    // NFULNL_CFG_F_CONNTRACK
    static let conntrackMark: UInt16 = 8      // CTA_MARK, inside NFULA_CT
}
