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
