/// Sizes a connection accepts, agreed in the handshake and checked before any buffering.
public struct WireLimits: Hashable, Sendable {
    /// Largest length the 4-byte prefix may announce (the flag and prefix excluded).
    public var maxFrameBytes: Int
    /// Largest payload a compressed frame may inflate to.
    public var maxDecompressedBytes: Int

    public init(maxFrameBytes: Int = WireLimits.defaultMaxFrameBytes,
                maxDecompressedBytes: Int = WireLimits.defaultMaxDecompressedBytes) {
        self.maxFrameBytes = maxFrameBytes
        self.maxDecompressedBytes = maxDecompressedBytes
    }

    public static let defaultMaxFrameBytes = 4 * 1024 * 1024
    public static let defaultMaxDecompressedBytes = 16 * 1024 * 1024
    /// Before the handshake completes only a small Hello is acceptable.
    public static let handshake = WireLimits(maxFrameBytes: 64 * 1024, maxDecompressedBytes: 64 * 1024)
}
