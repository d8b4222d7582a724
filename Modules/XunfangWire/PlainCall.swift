public import NIOCore

/// A `Frame{request}` without metadata, read in place: calls are the bus's other
/// stream of frames it passes through untouched, on both of their hops. Anything
/// unusual is left to the generated decoder, as with `PlainPublish`.
public struct PlainRequest {
    public var callID: UInt64 = 0
    public var method = ""
    public var payload = ByteBuffer()
    public var timeoutMs: UInt64 = 0
    /// Set by the bus when forwarding; whatever a client puts here, the bus overwrites.
    public var caller = ""

    /// Reuses `recent.method` and `recent.caller` when the frame repeats them.
    public init?(frame: ByteBuffer, recent: inout Recent) {
        var payloadRange: Range<Int>?
        let read = frame.withUnsafeReadableBytes { raw -> Bool in
            var reader = RawReader(raw)
            guard reader.byte() == 9 << 3 | 2, let length = reader.varint(), length == UInt64(reader.remaining) else { return false }
            var seen: UInt8 = 0
            while !reader.isAtEnd {
                guard let tag = reader.byte() else { return false }
                let field = tag >> 3
                guard field < 8, seen & (1 << field) == 0 else { return false }
                seen |= 1 << field
                switch tag {
                case 1 << 3:
                    guard let value = reader.varint() else { return false }
                    callID = value
                case 2 << 3 | 2:
                    guard let range = reader.delimited(), let text = reader.string(range, reusing: &recent.method) else { return false }
                    method = text
                case 3 << 3 | 2:
                    guard let range = reader.delimited() else { return false }
                    payloadRange = range
                case 5 << 3:
                    guard let value = reader.varint() else { return false }
                    timeoutMs = value
                case 6 << 3 | 2:
                    guard let range = reader.delimited(), let text = reader.string(range, reusing: &recent.caller) else { return false }
                    caller = text
                default:
                    return false
                }
            }
            return true
        }
        guard read else { return nil }
        if let range = payloadRange { payload = frame.getSlice(at: frame.readerIndex + range.lowerBound, length: range.count)! }
    }

    /// The method and caller of the request read before on the same connection.
    public struct Recent {
        var method = ""
        var caller = ""
        public init() {}
    }
}

/// A `Frame{response}` without metadata, read in place.
public struct PlainResponse {
    public var callID: UInt64 = 0
    public var code: UInt32 = 0
    public var message = ""
    public var payload = ByteBuffer()

    public init?(frame: ByteBuffer) {
        var payloadRange: Range<Int>?
        let read = frame.withUnsafeReadableBytes { raw -> Bool in
            var reader = RawReader(raw)
            guard reader.byte() == 10 << 3 | 2, let length = reader.varint(), length == UInt64(reader.remaining) else { return false }
            var seen: UInt8 = 0
            while !reader.isAtEnd {
                guard let tag = reader.byte() else { return false }
                let field = tag >> 3
                guard field < 8, seen & (1 << field) == 0 else { return false }
                seen |= 1 << field
                switch tag {
                case 1 << 3:
                    guard let value = reader.varint() else { return false }
                    callID = value
                case 2 << 3:
                    guard let value = reader.varint(), let narrow = UInt32(exactly: value) else { return false }
                    code = narrow
                case 3 << 3 | 2:
                    guard let range = reader.delimited(), let text = reader.string(range) else { return false }
                    message = text
                case 4 << 3 | 2:
                    guard let range = reader.delimited() else { return false }
                    payloadRange = range
                default:
                    return false
                }
            }
            return true
        }
        guard read else { return nil }
        if let range = payloadRange { payload = frame.getSlice(at: frame.readerIndex + range.lowerBound, length: range.count)! }
    }
}

/// A `Frame{receipt}` read in place: the answer to every confirmed publish.
public struct PlainReceipt {
    public var ref: UInt64 = 0
    public var code: UInt32 = 0
    public var message = ""
    public var sequence: UInt64 = 0
    public var messageID = ""

    public init?(frame: ByteBuffer) {
        let read = frame.withUnsafeReadableBytes { raw -> Bool in
            var reader = RawReader(raw)
            guard reader.byte() == 15 << 3 | 2, let length = reader.varint(), length == UInt64(reader.remaining) else { return false }
            var seen: UInt8 = 0
            while !reader.isAtEnd {
                guard let tag = reader.byte() else { return false }
                let field = tag >> 3
                guard field < 8, seen & (1 << field) == 0 else { return false }
                seen |= 1 << field
                switch tag {
                case 1 << 3:
                    guard let value = reader.varint() else { return false }
                    ref = value
                case 2 << 3:
                    guard let value = reader.varint(), let narrow = UInt32(exactly: value) else { return false }
                    code = narrow
                case 3 << 3 | 2:
                    guard let range = reader.delimited(), let text = reader.string(range) else { return false }
                    message = text
                case 4 << 3:
                    guard let value = reader.varint() else { return false }
                    sequence = value
                case 5 << 3 | 2:
                    guard let range = reader.delimited(), let text = reader.string(range) else { return false }
                    messageID = text
                default:
                    return false
                }
            }
            return true
        }
        guard read else { return nil }
    }
}

extension FrameEncoder {
    /// Appends `Frame{request}` without metadata, as the generated encoder would.
    public static func writeRequest(callID: UInt64, method: String, payload: PlainPayload, timeoutMs: UInt64, caller: String,
                                    into out: inout ByteBuffer) {
        var inner = 0
        if callID != 0 { inner += 1 + varintSize(callID) }
        if !method.isEmpty { inner += fieldSize(method.utf8.count) }
        if payload.count > 0 { inner += fieldSize(payload.count) }
        if timeoutMs != 0 { inner += 1 + varintSize(timeoutMs) }
        if !caller.isEmpty { inner += fieldSize(caller.utf8.count) }
        out.writeFrame(size: frameSize(inner: inner)) { writer in
            writer.frameHeader(kind: 9, inner: inner)
            if callID != 0 {
                writer.byte(1 << 3)
                writer.varint(callID)
            }
            if !method.isEmpty { writer.field(2, method) }
            if payload.count > 0 { writer.field(3, payload) }
            if timeoutMs != 0 {
                writer.byte(5 << 3)
                writer.varint(timeoutMs)
            }
            if !caller.isEmpty { writer.field(6, caller) }
        }
    }

    /// Appends `Frame{response}` without metadata, as the generated encoder would.
    public static func writeResponse(callID: UInt64, code: UInt32, message: String, payload: PlainPayload, into out: inout ByteBuffer) {
        var inner = 0
        if callID != 0 { inner += 1 + varintSize(callID) }
        if code != 0 { inner += 1 + varintSize(UInt64(code)) }
        if !message.isEmpty { inner += fieldSize(message.utf8.count) }
        if payload.count > 0 { inner += fieldSize(payload.count) }
        out.writeFrame(size: frameSize(inner: inner)) { writer in
            writer.frameHeader(kind: 10, inner: inner)
            if callID != 0 {
                writer.byte(1 << 3)
                writer.varint(callID)
            }
            if code != 0 {
                writer.byte(2 << 3)
                writer.varint(UInt64(code))
            }
            if !message.isEmpty { writer.field(3, message) }
            if payload.count > 0 { writer.field(4, payload) }
        }
    }
}
