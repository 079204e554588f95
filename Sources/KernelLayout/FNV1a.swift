/// 64-bit FNV-1a, for fingerprints where 32 bits would collide too often.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 14_695_981_039_346_656_037
    public init() {}
    /// Adds the string's UTF-8 bytes and a separator, so ("ab", "c") and ("a", "bc") differ.
    public mutating func add(_ s: String) {
        for b in s.utf8 { value = (value ^ UInt64(b)) &* 1_099_511_628_211 }
        value = (value ^ 0x0a) &* 1_099_511_628_211
    }
}

/// 32-bit FNV-1a: a small stable hash (Swift's `Hasher` is seeded per process).
public struct FNV1a: Sendable {
    public private(set) var value: UInt32 = 2_166_136_261
    public init() {}
    /// Adds the string's UTF-8 bytes and a separator, so ("ab", "c") and ("a", "bc") differ.
    public mutating func add(_ s: String) {
        for b in s.utf8 { value = (value ^ UInt32(b)) &* 16_777_619 }
        value = (value ^ 0x0a) &* 16_777_619
    }
    /// The hash of a string alone, without a separator.
    public static func hash(_ s: String) -> UInt32 {
        var h = FNV1a()
        for b in s.utf8 { h.value = (h.value ^ UInt32(b)) &* 16_777_619 }
        return h.value
    }
}
