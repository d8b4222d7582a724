public import NIOCore
public import SwiftProtobuf

// ByteBuffer as protobuf's byte container lets messages be decoded straight from the
// receive buffer and encoded straight into a send buffer, without a [UInt8] in between.
extension ByteBuffer: @retroactive SwiftProtobufContiguousBytes {
    public init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        self = ByteBuffer(bytes: sequence)
    }

    public var count: Int { readableBytes }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeReadableBytes(body)
    }

    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeMutableReadableBytes(body)
    }
}

extension FrameEncoder {
    /// Appends `message` as one frame, compressing payloads of `compressAbove` bytes or more.
    public static func write<M: SwiftProtobuf.Message>(_ message: M, into out: inout ByteBuffer, compressAbove: Int = .max) throws {
        let body: ByteBuffer = try message.serializedBytes()
        write(payload: body, compressed: body.readableBytes >= compressAbove, into: &out)
    }
}

extension FrameDecoder {
    /// Decodes one frame payload as `M`; a malformed payload is a `malformedFrame` violation.
    public static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, from payload: ByteBuffer) throws(WireError) -> M {
        do {
            return try M(serializedBytes: payload)
        } catch {
            throw WireError(.malformedFrame, "payload is not a valid \(M.protoMessageName): \(error)")
        }
    }
}
