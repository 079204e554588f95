import NetAddress

/// Kernel interval maps reject overlapping elements, but the catalogue may list a
/// network and a more specific one inside it. This turns nested prefixes into
/// disjoint ones where the more specific value wins, as matching does.
///
/// One sort and one sweep (O(n log n) plus the output), with addresses as fixed-size
/// integers (UInt32, UInt128): a catalogue of 100,000 networks is as cheap as a few.
enum IntervalFlattening {
    /// Each network without the more specific ones inside it, as the fewest prefixes that cover
    /// what remains, with that network's value; sorted by address bytes (an IPv4 piece before an
    /// IPv6 one whose first four bytes are not smaller). A network listed twice gives its pieces
    /// once per listing, in input order. Networks are as `IPNetwork.init` makes them (host bits 0).
    static func flatten<V>(_ items: [(IPNetwork, V)]) -> [(IPNetwork, V)] {
        var v4: [Prefix<UInt32>] = [], v6: [Prefix<UInt128>] = []
        for (index, (net, _)) in items.enumerated() {
            if net.isIPv4 { v4.append(Prefix(net, index: index)) } else { v6.append(Prefix(net, index: index)) }
        }
        let flat4 = disjoint(v4), flat6 = disjoint(v6)
        // The families never overlap; merge them in the byte order of their first four bytes
        // (where those tie, the four IPv4 bytes are a prefix of the sixteen and sort first).
        var out: [(IPNetwork, V)] = []
        out.reserveCapacity(flat4.count + flat6.count)
        var a = 0, b = 0
        while a < flat4.count || b < flat6.count {
            if b == flat6.count || (a < flat4.count && flat4[a].start <= UInt32(truncatingIfNeeded: flat6[b].start >> 96)) {
                out.append((flat4[a].network, items[flat4[a].index].1)); a += 1
            } else {
                out.append((flat6[b].network, items[flat6[b].index].1)); b += 1
            }
        }
        return out
    }

    /// A prefix as an integer of the family's width: `start` has its host bits clear; `index`
    /// is the input item it belongs to.
    struct Prefix<Address: FixedWidthInteger & UnsignedInteger> {
        var start: Address
        var length: Int
        var index: Int

        init(start: Address, length: Int, index: Int) {
            self.start = start; self.length = length; self.index = index
        }

        init(_ net: IPNetwork, index: Int) {
            self.init(start: Address(truncatingIfNeeded: net.value), length: net.prefixLength, index: index)
        }

        /// Last address of the prefix (`>>` by the full width gives 0, so a host is its own last).
        var last: Address { start | Address.max >> length }

        var network: IPNetwork {
            IPNetwork(value: UInt128(start), prefixLength: length, isIPv4: Address.bitWidth == 32)
        }
    }

    /// A network seen by the sweep whose end is not yet passed: the input listings of it and the
    /// first address after the last more specific network inside it (nil: past the end of the space).
    private struct Open<Address: FixedWidthInteger & UnsignedInteger> {
        var last: Address
        var listings: Range<Int>
        var next: Address?
    }

    /// Disjoint pieces of one family's prefixes in address order; see `flatten`.
    static func disjoint<Address>(_ prefixes: [Prefix<Address>]) -> [Prefix<Address>] {
        // By start, then widest first: a network comes after every network that contains it
        // (prefixes nest or are disjoint), and listings of one network stay in input order.
        let sorted = prefixes.sorted { ($0.start, $0.length, $0.index) < ($1.start, $1.length, $1.index) }
        var out: [Prefix<Address>] = []
        out.reserveCapacity(sorted.count)
        // The open networks, each inside the one below it on the stack.
        var open: [Open<Address>] = []

        // Covers lo...hi (inside one open network) with the widest aligned blocks, for each listing.
        func emit(_ lo: Address, _ hi: Address, _ listings: Range<Int>) {
            var lo = lo
            while true {
                var hostBits = lo.trailingZeroBitCount // the bit width when lo is 0
                while hostBits > 0 && Address.max >> (Address.bitWidth - hostBits) > hi - lo { hostBits -= 1 }
                for k in listings {
                    out.append(Prefix(start: lo, length: Address.bitWidth - hostBits, index: sorted[k].index))
                }
                let size = Address.max >> (Address.bitWidth - hostBits) // block size - 1
                if hi - lo == size { return }
                lo += size + 1
            }
        }
        // What is left of the innermost open network after its last inner network.
        func close() {
            let o = open.removeLast()
            if let next = o.next, next <= o.last { emit(next, o.last, o.listings) }
        }

        var i = 0
        while i < sorted.count {
            var j = i + 1
            while j < sorted.count && sorted[j].start == sorted[i].start && sorted[j].length == sorted[i].length { j += 1 }
            let net = sorted[i]
            while let top = open.last, top.last < net.start { close() }
            if let parent = open.last {
                // The parent contains this network: its part before it is final now.
                if let next = parent.next, next < net.start { emit(next, net.start - 1, parent.listings) }
                open[open.count - 1].next = net.last == Address.max ? nil : net.last + 1
            }
            open.append(Open(last: net.last, listings: i..<j, next: net.start))
            i = j
        }
        while !open.isEmpty { close() }
        return out
    }
}
