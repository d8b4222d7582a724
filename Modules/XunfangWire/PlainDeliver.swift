public import NIOCore

/// A `Frame{deliver}` without headers, read in place on the client side: the SDK's
/// counterpart of `PlainPublish`. Deliveries are most of what a subscriber receives, and
/// reading them without the generated `Frame` saves its allocations per message. Frames
/// it declines go to the generated decoder, which has the final word.
public struct PlainDeliver {
    public var subscriptionID: UInt64 = 0
    public var topic = ""
    public var payload = ByteBuffer()
    public var messageID = ""
    public var sequence: UInt64 = 0
    public var publisher = ""
    public var attempt: UInt32 = 0
    public var publishedAtUnixMs: Int64 = 0

    /// The topic and publisher of the delivery read before, whose strings are reused
    /// when the next one repeats them (a stream usually does): no allocation for either.
    public struct Recent {
        var topic = ""
        var publisher = ""
        public init() {}
    }

    public init?(frame: ByteBuffer) {
        var recent = Recent()
        self.init(frame: frame, recent: &recent)
    }

    public init?(frame: ByteBuffer, recent: inout Recent) {
        var reader = frame
        guard reader.readInteger(as: UInt8.self) == 7 << 3 | 2,
              let length = WireScan.varint(&reader), length == UInt64(reader.readableBytes) else { return nil }
        var seen: UInt16 = 0
        while reader.readableBytes > 0 {
            guard let tag = reader.readInteger(as: UInt8.self) else { return nil }
            let field = tag >> 3
            // Each field once; a repeat (last one wins in protobuf) goes to the general decoder.
            guard field < 16, seen & (1 << field) == 0 else { return nil }
            seen |= 1 << field
            switch tag {
            case 1 << 3:
                guard let value = WireScan.varint(&reader) else { return nil }
                subscriptionID = value
            case 2 << 3 | 2:
                guard let text = WireScan.string(&reader, reusing: &recent.topic) else { return nil }
                topic = text
            case 3 << 3 | 2:
                guard let bytes = WireScan.delimited(&reader) else { return nil }
                payload = bytes
            case 5 << 3 | 2:
                guard let text = WireScan.string(&reader) else { return nil }
                messageID = text
            case 6 << 3:
                guard let value = WireScan.varint(&reader) else { return nil }
                sequence = value
            case 7 << 3 | 2:
                guard let text = WireScan.string(&reader, reusing: &recent.publisher) else { return nil }
                publisher = text
            case 8 << 3:
                guard let value = WireScan.varint(&reader), let narrow = UInt32(exactly: value) else { return nil }
                attempt = narrow
            case 9 << 3:
                guard let value = WireScan.varint(&reader) else { return nil }
                publishedAtUnixMs = Int64(bitPattern: value)
            default:
                return nil
            }
        }
    }
}
