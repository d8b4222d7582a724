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
        let read = RawReader.fields(of: 9, in: frame) { tag, reader in
            switch tag {
            case 1 << 3:
                guard let value = reader.varint() else { return false }
                callID = value
            case 2 << 3 | 2:
                guard let range = reader.delimited(), let text = reader.string(range, reusing: &recent.method) else { return false }
                method = text
            case 3 << 3 | 2:
                payloadRange = reader.delimited()
                return payloadRange != nil
            case 5 << 3:
                guard let value = reader.varint() else { return false }
                timeoutMs = value
            case 6 << 3 | 2:
                guard let range = reader.delimited(), let text = reader.string(range, reusing: &recent.caller) else { return false }
                caller = text
            default:
                return false
            }
            return true
        }
        guard read else { return nil }
        payload = RawReader.slice(frame, payloadRange)
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
        let read = RawReader.fields(of: 10, in: frame) { tag, reader in
            switch tag {
            case 1 << 3:
                guard let value = reader.varint() else { return false }
                callID = value
            case 2 << 3:
                guard let value = reader.uint32() else { return false }
                code = value
            case 3 << 3 | 2:
                guard let range = reader.delimited(), let text = reader.string(range) else { return false }
                message = text
            case 4 << 3 | 2:
                payloadRange = reader.delimited()
                return payloadRange != nil
            default:
                return false
            }
            return true
        }
        guard read else { return nil }
        payload = RawReader.slice(frame, payloadRange)
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
        let read = RawReader.fields(of: 15, in: frame) { tag, reader in
            switch tag {
            case 1 << 3:
                guard let value = reader.varint() else { return false }
                ref = value
            case 2 << 3:
                guard let value = reader.uint32() else { return false }
                code = value
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
            return true
        }
        guard read else { return nil }
    }
}

extension FrameEncoder {
    /// Appends `Frame{request}` without metadata, as the generated encoder would.
    public static func writeRequest(callID: UInt64, method: String, payload: PlainPayload, timeoutMs: UInt64, caller: String,
                                    into out: inout ByteBuffer) {
        let inner = uintSize(callID) + textSize(method) + bytesSize(payload) + uintSize(timeoutMs) + textSize(caller)
        out.writeFrame(size: frameSize(inner: inner)) { writer in
            writer.frameHeader(kind: 9, inner: inner)
            writer.uint(1, callID)
            writer.text(2, method)
            writer.bytes(3, payload)
            writer.uint(5, timeoutMs)
            writer.text(6, caller)
        }
    }

    /// Appends `Frame{response}` without metadata, as the generated encoder would.
    public static func writeResponse(callID: UInt64, code: UInt32, message: String, payload: PlainPayload, into out: inout ByteBuffer) {
        let inner = uintSize(callID) + uintSize(UInt64(code)) + textSize(message) + bytesSize(payload)
        out.writeFrame(size: frameSize(inner: inner)) { writer in
            writer.frameHeader(kind: 10, inner: inner)
            writer.uint(1, callID)
            writer.uint(2, UInt64(code))
            writer.text(3, message)
            writer.bytes(4, payload)
        }
    }

    /// Appends `Frame{receipt}` as the generated encoder would.
    public static func writeReceipt(ref: UInt64, code: UInt32, message: String, sequence: UInt64, messageID: String,
                                    into out: inout ByteBuffer) {
        let inner = uintSize(ref) + uintSize(UInt64(code)) + textSize(message) + uintSize(sequence) + textSize(messageID)
        out.writeFrame(size: frameSize(inner: inner)) { writer in
            writer.frameHeader(kind: 15, inner: inner)
            writer.uint(1, ref)
            writer.uint(2, UInt64(code))
            writer.text(3, message)
            writer.uint(4, sequence)
            writer.text(5, messageID)
        }
    }
}
