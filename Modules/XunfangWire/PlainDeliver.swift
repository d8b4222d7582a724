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
        let read = frame.withUnsafeReadableBytes { raw -> Bool in
            var reader = RawReader(raw)
            guard reader.byte() == 7 << 3 | 2, let length = reader.varint(), length == UInt64(reader.remaining) else { return false }
            var seen: UInt16 = 0
            while !reader.isAtEnd {
                guard let tag = reader.byte() else { return false }
                let field = tag >> 3
                // Each field once; a repeat (last one wins in protobuf) goes to the general decoder.
                guard field < 16, seen & (1 << field) == 0 else { return false }
                seen |= 1 << field
                switch tag {
                case 1 << 3:
                    guard let value = reader.varint() else { return false }
                    subscriptionID = value
                case 2 << 3 | 2:
                    guard let range = reader.delimited(), let text = reader.string(range, reusing: &recent.topic) else { return false }
                    topic = text
                case 3 << 3 | 2:
                    guard let range = reader.delimited() else { return false }
                    payloadRange = range
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
                    guard let value = reader.varint(), let narrow = UInt32(exactly: value) else { return false }
                    attempt = narrow
                case 9 << 3:
                    guard let value = reader.varint() else { return false }
                    publishedAtUnixMs = Int64(bitPattern: value)
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
