/// A violation of the framing rules in docs/wire.md.
///
/// Codes are extensible (not an exhaustive enum) and each maps to the gRPC status the
/// peer is told in its `Error` frame before the connection is closed.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        /// gRPC status code sent on the wire.
        public let status: UInt32

        public static let reservedFlagBits = Code(name: "reserved-flag-bits", status: 3)
        public static let frameTooLarge = Code(name: "frame-too-large", status: 8)
        public static let decompressedTooLarge = Code(name: "decompressed-too-large", status: 8)
        public static let corruptCompression = Code(name: "corrupt-compression", status: 13)
        public static let malformedFrame = Code(name: "malformed-frame", status: 3)

        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
