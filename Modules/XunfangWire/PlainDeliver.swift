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
        var payloadRange: Range<Int>?
        let read = RawReader.fields(of: 7, in: frame) { tag, reader in
            switch tag {
            case 1 << 3:
                guard let value = reader.varint() else { return false }
                subscriptionID = value
            case 2 << 3 | 2:
                guard let range = reader.delimited(), let text = reader.string(range, reusing: &recent.topic) else { return false }
                topic = text
            case 3 << 3 | 2:
                payloadRange = reader.delimited()
                return payloadRange != nil
            case 5 << 3 | 2:
                guard let range = reader.delimited(), let text = reader.string(range) else { return false }
                messageID = text
            case 6 << 3:
                guard let value = reader.varint() else { return false }
                sequence = value
            case 7 << 3 | 2:
                guard let range = reader.delimited(), let text = reader.string(range, reusing: &recent.publisher) else { return false }
                publisher = text
            case 8 << 3:
                guard let value = reader.uint32() else { return false }
                attempt = value
            case 9 << 3:
                guard let value = reader.varint() else { return false }
                publishedAtUnixMs = Int64(bitPattern: value)
            default:
                return false
            }
            return true
        }
        guard read else { return nil }
        payload = RawReader.slice(frame, payloadRange)
    }
}
