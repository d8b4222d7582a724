import NIOCore

/// Writes protobuf primitives through a raw pointer into space a `ByteBuffer` has made
/// ready, so a whole frame costs one buffer call instead of one per field. (Each
/// `ByteBuffer` call is out of line in NIO and checks capacity and exclusivity.)
///
/// Callers size the frame first; `ByteBuffer.writeFrame(size:_:)` checks that exactly
/// that many bytes were written.
struct RawWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var offset = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        base = buffer.baseAddress!
        capacity = buffer.count
    }

    mutating func byte(_ value: UInt8) {
        precondition(offset < capacity)
        base.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
        offset += 1
    }

    mutating func bigEndian(_ value: UInt32) {
        precondition(offset + 4 <= capacity)
        base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
        offset += 4
    }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            byte(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        byte(UInt8(rest))
    }

    /// `value` in base 36 (0-9, a-z), most significant digit first, in `digits` places.
    mutating func base36(_ value: UInt64, digits: Int) {
        precondition(digits > 0 && offset + digits <= capacity)
        var rest = value
        for position in stride(from: offset + digits - 1, through: offset, by: -1) {
            let digit = UInt8(rest % 36)
            base.storeBytes(of: digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10, toByteOffset: position, as: UInt8.self)
            rest /= 36
        }
        offset += digits
    }

    mutating func bytes(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        precondition(offset + raw.count <= capacity)
        (base + offset).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        offset += raw.count
    }

    mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
    }

    mutating func buffer(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes($0) }
    }

    /// A length-delimited field: tag, length, bytes.
    mutating func field(_ number: UInt8, _ text: String) {
        byte(number << 3 | 2)
        varint(UInt64(text.utf8.count))
        string(text)
    }

    /// Proto3 leaves fields at their default out: these write nothing for 0, "" and no bytes.
    mutating func uint(_ number: UInt8, _ value: UInt64) {
        guard value != 0 else { return }
        byte(number << 3)
        varint(value)
    }

    mutating func text(_ number: UInt8, _ value: String) {
        guard !value.isEmpty else { return }
        field(number, value)
    }

    mutating func bytes(_ number: UInt8, _ payload: PlainPayload) {
        guard payload.count > 0 else { return }
        field(number, payload)
    }

    mutating func field(_ number: UInt8, _ payload: PlainPayload) {
        byte(number << 3 | 2)
        varint(UInt64(payload.count))
        payload.withUnsafeBytes { bytes($0) }
    }

    /// The 5-byte prefix of an uncompressed frame and the tag and length of the `Frame`
    /// field (`kind`) that holds a message of `inner` bytes.
    mutating func frameHeader(kind: UInt8, inner: Int) {
        byte(0)
        bigEndian(UInt32(1 + FrameEncoder.varintSize(UInt64(inner)) + inner))
        byte(kind << 3 | 2)
        varint(UInt64(inner))
    }
}

/// The size of a length-delimited field holding `count` bytes.
func fieldSize(_ count: Int) -> Int {
    1 + FrameEncoder.varintSize(UInt64(count)) + count
}

/// The sizes of what `RawWriter.uint`, `.text` and `.bytes` write.
func uintSize(_ value: UInt64) -> Int { value == 0 ? 0 : 1 + FrameEncoder.varintSize(value) }
func textSize(_ value: String) -> Int { value.isEmpty ? 0 : fieldSize(value.utf8.count) }
func bytesSize(_ payload: PlainPayload) -> Int { payload.count == 0 ? 0 : fieldSize(payload.count) }

/// The size of a whole frame whose `Frame` field holds `inner` bytes.
func frameSize(inner: Int) -> Int {
    FramePrefix.size + 1 + FrameEncoder.varintSize(UInt64(inner)) + inner
}

extension ByteBuffer {
    /// Appends exactly `size` bytes written by `body`.
    mutating func writeFrame(size: Int, _ body: (inout RawWriter) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            var writer = RawWriter(raw)
            body(&writer)
            precondition(writer.offset == size, "frame size mismatch: wrote \(writer.offset), sized \(size)")
            return size
        }
    }
}
