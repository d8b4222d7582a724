public import NIOCore
import XunfangCodec

/// The 5-byte prefix of gRPC's Length-Prefixed-Message.
public enum FramePrefix {
    public static let size = 5
    /// Bit 0 of the flag byte: the payload is zlib (RFC 1950) compressed.
    public static let compressedFlag: UInt8 = 0x01
    /// Every other bit is reserved and must be zero.
    public static let reservedMask: UInt8 = 0xFE
}

/// Splits a byte stream into frame payloads, enforcing `WireLimits`.
///
/// Pure and incremental: feed it whatever arrived and call `next(from:)` until it returns
/// `nil`. The length is checked against the limit as soon as the 5-byte prefix is
/// readable, so an oversize frame is refused before its body is buffered, and a
/// compressed payload is inflated with a hard output cap, so a bomb costs at most
/// `maxDecompressedBytes`.
///
/// ```swift
/// var decoder = FrameDecoder(limits: .handshake)
/// buffer.writeBytes(bytesFromSocket)
/// while let payload = try decoder.next(from: &buffer) { handle(payload) }
/// ```
public struct FrameDecoder: Sendable {
    public var limits: WireLimits

    public init(limits: WireLimits = WireLimits()) {
        self.limits = limits
    }

    /// The next complete frame's (decompressed) payload, or `nil` if more bytes are needed.
    /// Consumes the frame's bytes only when it returns a payload.
    public func next(from buffer: inout ByteBuffer) throws(WireError) -> ByteBuffer? {
        guard let flags = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        if flags & FramePrefix.reservedMask != 0 {
            throw WireError(.reservedFlagBits, "flag byte 0x\(String(flags, radix: 16)) has reserved bits set")
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex + 1, endianness: .big, as: UInt32.self) else {
            return nil
        }
        if Int(length) > limits.maxFrameBytes {
            throw WireError(.frameTooLarge, "frame of \(length) bytes exceeds the limit of \(limits.maxFrameBytes)")
        }
        guard buffer.readableBytes >= FramePrefix.size + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: FramePrefix.size)
        var payload = buffer.readSlice(length: Int(length))!
        guard flags & FramePrefix.compressedFlag != 0 else { return payload }
        return try Self.inflate(&payload, limit: limits.maxDecompressedBytes)
    }

    /// Inflates a compressed frame's payload to at most `limit` bytes.
    public static func inflate(_ payload: inout ByteBuffer, limit: Int) throws(WireError) -> ByteBuffer {
        do throws(ZlibError) {
            return try Zlib.inflate(&payload, limit: limit)
        } catch {
            switch error {
            case .tooLarge(let limit): throw WireError(.decompressedTooLarge, "compressed frame inflates past the limit of \(limit) bytes")
            case .corrupt(let why): throw WireError(.corruptCompression, "compressed frame is \(why)")
            }
        }
    }
}

/// Writes frames: prefix plus payload, compressing when asked.
public enum FrameEncoder {
    /// Appends one frame whose payload is `payload`'s readable bytes.
    public static func write(payload: ByteBuffer, compressed: Bool = false, into out: inout ByteBuffer) {
        var body = payload
        var flags: UInt8 = 0
        if compressed {
            if let deflated = Zlib.deflate(payload) {
                body = deflated
                flags = FramePrefix.compressedFlag
            }
        }
        out.writeInteger(flags, as: UInt8.self)
        out.writeInteger(UInt32(body.readableBytes), endianness: .big, as: UInt32.self)
        out.writeImmutableBuffer(body)
    }

    /// Appends one uncompressed frame whose payload is written by `body`, without an
    /// intermediate buffer: the length is patched in after `body` returns.
    public static func write(into out: inout ByteBuffer, body: (inout ByteBuffer) -> Void) {
        out.writeInteger(UInt8(0), as: UInt8.self)
        let lengthIndex = out.writerIndex
        out.writeInteger(UInt32(0), as: UInt32.self)
        let start = out.writerIndex
        body(&out)
        out.setInteger(UInt32(out.writerIndex - start), at: lengthIndex, endianness: .big, as: UInt32.self)
    }
}

/// The receive side of a connection: takes reads as they come and yields complete frame
/// payloads. Both the bus and the SDK read through it.
///
/// Payloads are slices of the read buffers, not copies. Only a frame that straddles two
/// reads is gathered into a buffer of its own; the rest of each read is consumed in place.
public struct FrameReader: Sendable {
    private var decoder: FrameDecoder
    /// A frame begun in an earlier read, or nil.
    private var partial: ByteBuffer?
    /// The unread rest of the latest read.
    private var current: ByteBuffer?

    public init(limits: WireLimits) {
        decoder = FrameDecoder(limits: limits)
    }

    /// Limits apply from the next frame on (raised after the handshake).
    public var limits: WireLimits {
        get { decoder.limits }
        set { decoder.limits = newValue }
    }

    /// Adds what a read delivered. Call `next()` until it returns nil before appending again.
    public mutating func append(_ incoming: inout ByteBuffer) {
        guard var gathering = partial else {
            current = incoming
            return
        }
        partial = nil
        // Take from `incoming` just what completes the straddling frame.
        if gathering.readableBytes < FramePrefix.size {
            var head = incoming.readSlice(length: min(FramePrefix.size - gathering.readableBytes, incoming.readableBytes))!
            gathering.writeBuffer(&head)
        }
        if let length = gathering.getInteger(at: gathering.readerIndex + 1, endianness: .big, as: UInt32.self),
           Int(length) <= decoder.limits.maxFrameBytes {
            let missing = FramePrefix.size + Int(length) - gathering.readableBytes
            var rest = incoming.readSlice(length: min(missing, incoming.readableBytes))!
            gathering.writeBuffer(&rest)
        }
        // An oversize prefix is left for `next()` to refuse, before anything more is buffered.
        partial = gathering
        current = incoming.readableBytes > 0 ? incoming : nil
    }

    /// The next complete payload, or `nil` until more bytes arrive.
    public mutating func next() throws(WireError) -> ByteBuffer? {
        if partial != nil {
            guard let payload = try decoder.next(from: &partial!) else { return nil }
            partial = nil
            return payload
        }
        guard current != nil else { return nil }
        if let payload = try decoder.next(from: &current!) { return payload }
        if let rest = current, rest.readableBytes > 0 {
            // Copied out, sized for the whole frame when its length is known (and allowed),
            // so the read buffer is not kept alive and the frame fills without regrowing.
            var capacity = rest.readableBytes
            if let length = rest.getInteger(at: rest.readerIndex + 1, endianness: .big, as: UInt32.self),
               Int(length) <= decoder.limits.maxFrameBytes {
                capacity = FramePrefix.size + Int(length)
            }
            var copy = ByteBuffer()
            copy.reserveCapacity(capacity)
            copy.writeImmutableBuffer(rest)
            partial = copy
        }
        current = nil
        return nil
    }
}
