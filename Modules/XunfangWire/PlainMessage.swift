public import NIOCore

/// A message the bus passes through without decoding it: what `PlainPublish` read in
/// place, plus what the bus adds. Socket deliveries are written straight from its parts,
/// so the payload is copied once, from the publisher's read buffer to the subscriber's
/// write buffer, and nothing is allocated for the encoding.
public struct PlainMessage {
    public var topic: String
    public var payload: ByteBuffer
    /// The publisher's id, or empty when the bus numbered the message (`number`).
    public var givenID: String
    public var number: UInt64
    public var ids: MessageIDs
    public var publisher: String
    public var publishedAtUnixMs: Int64

    public init(topic: String, payload: ByteBuffer, givenID: String, number: UInt64, ids: MessageIDs, publisher: String, publishedAtUnixMs: Int64) {
        self.topic = topic
        self.payload = payload
        self.givenID = givenID
        self.number = number
        self.ids = ids
        self.publisher = publisher
        self.publishedAtUnixMs = publishedAtUnixMs
    }

    public var messageID: String { givenID.isEmpty ? ids.string(number) : givenID }
}

/// The ids a bus gives messages published without one: its boot id, a dash and a
/// counter in base 36. Seven random characters and up to seven digits keep every id
/// within 15 bytes, which Swift stores inline: no allocation where an id is read.
public struct MessageIDs: Sendable {
    public let prefix: [UInt8]

    public init(bootID: String) {
        prefix = Array(bootID.utf8) + [UInt8(ascii: "-")]
    }

    public func string(_ number: UInt64) -> String {
        String(decoding: prefix, as: UTF8.self) + String(number, radix: 36)
    }

    func byteCount(_ number: UInt64) -> Int {
        var digits = 1
        var rest = number / 36
        while rest > 0 {
            digits += 1
            rest /= 36
        }
        return prefix.count + digits
    }

    func write(_ number: UInt64, into out: inout ByteBuffer) {
        out.writeBytes(prefix)
        let digits = byteCount(number) - prefix.count
        out.writeRepeatingByte(0, count: digits)
        var rest = number
        for offset in stride(from: out.writerIndex - 1, through: out.writerIndex - digits, by: -1) {
            let digit = UInt8(rest % 36)
            out.setInteger(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10, at: offset)
            rest /= 36
        }
    }
}

extension PlainMessage {
    /// The bytes of `Deliver` fields 2, 3, 5, 7 and 9: everything but the subscription id
    /// and the attempt, as `FrameEncoder.writeDeliver(sharedFields:)` takes them.
    public var sharedFieldsSize: Int {
        let topicBytes = topic.utf8.count
        let payloadBytes = payload.readableBytes
        let idBytes = givenID.isEmpty ? ids.byteCount(number) : givenID.utf8.count
        let publisherBytes = publisher.utf8.count
        var size = 1 + FrameEncoder.varintSize(UInt64(topicBytes)) + topicBytes
        if payloadBytes > 0 { size += 1 + FrameEncoder.varintSize(UInt64(payloadBytes)) + payloadBytes }
        size += 1 + FrameEncoder.varintSize(UInt64(idBytes)) + idBytes
        if publisherBytes > 0 { size += 1 + FrameEncoder.varintSize(UInt64(publisherBytes)) + publisherBytes }
        if publishedAtUnixMs != 0 { size += 1 + FrameEncoder.varintSize(UInt64(bitPattern: publishedAtUnixMs)) }
        return size
    }

    public func writeSharedFields(into out: inout ByteBuffer) {
        out.writeInteger(UInt8(2 << 3 | 2))  // topic
        FrameEncoder.writeVarint(UInt64(topic.utf8.count), into: &out)
        out.writeString(topic)
        if payload.readableBytes > 0 {
            out.writeInteger(UInt8(3 << 3 | 2))  // payload
            FrameEncoder.writeVarint(UInt64(payload.readableBytes), into: &out)
            out.writeImmutableBuffer(payload)
        }
        out.writeInteger(UInt8(5 << 3 | 2))  // message_id
        if givenID.isEmpty {
            FrameEncoder.writeVarint(UInt64(ids.byteCount(number)), into: &out)
            ids.write(number, into: &out)
        } else {
            FrameEncoder.writeVarint(UInt64(givenID.utf8.count), into: &out)
            out.writeString(givenID)
        }
        if !publisher.isEmpty {
            out.writeInteger(UInt8(7 << 3 | 2))  // publisher
            FrameEncoder.writeVarint(UInt64(publisher.utf8.count), into: &out)
            out.writeString(publisher)
        }
        if publishedAtUnixMs != 0 {
            out.writeInteger(UInt8(9 << 3))  // published_at_unix_ms
            FrameEncoder.writeVarint(UInt64(bitPattern: publishedAtUnixMs), into: &out)
        }
    }

    /// The shared fields in a buffer of their own, for a message bound for many
    /// subscribers or for a queue.
    public var sharedFields: ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: sharedFieldsSize)
        writeSharedFields(into: &out)
        return out
    }
}

extension FrameEncoder {
    /// Appends `Frame{deliver}` for `message`, the fields in the order
    /// `writeDeliver(sharedFields:)` uses.
    public static func writeDeliver(_ message: PlainMessage, subscriptionID: UInt64, attempt: UInt32, into out: inout ByteBuffer) {
        let inner = 1 + varintSize(subscriptionID) + message.sharedFieldsSize + 1 + varintSize(UInt64(attempt))
        let frameLength = 1 + varintSize(UInt64(inner)) + inner
        out.reserveCapacity(minimumWritableBytes: FramePrefix.size + frameLength)
        out.writeInteger(UInt8(0))
        out.writeInteger(UInt32(frameLength), endianness: .big)
        out.writeInteger(UInt8(7 << 3 | 2))  // Frame.deliver
        writeVarint(UInt64(inner), into: &out)
        out.writeInteger(UInt8(1 << 3))      // subscription_id
        writeVarint(subscriptionID, into: &out)
        message.writeSharedFields(into: &out)
        out.writeInteger(UInt8(8 << 3))      // delivery_attempt
        writeVarint(UInt64(attempt), into: &out)
    }
}
