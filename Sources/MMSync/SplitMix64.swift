// The one small deterministic generator of the project (Steele, Lea, Flood 2014): the
// same sequence on every machine, for seeded workloads, tests and seed mixing.

/// SplitMix64: 64-bit state, one add and a mix per number.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    @inlinable public init(seed: UInt64) { state = seed }

    @inlinable public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The output function alone: a good 64-bit hash of `x`.
    @inlinable public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<n (n > 0); modulo bias is irrelevant at test sizes.
    @inlinable public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// True with probability `percent`/100.
    @inlinable public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
