public import Foundation
public import NIOCore
public import SwiftProtobuf
public import XunfangCodec

extension FrameEncoder {
    /// Appends `message` as one frame, compressing payloads of `compressAbove` bytes or more.
    public static func write<M: SwiftProtobuf.Message>(_ message: M, into out: inout ByteBuffer, compressAbove: Int = .max) throws {
        let body: ByteBuffer = try message.serializedBytes()
        write(payload: body, compressed: body.readableBytes >= compressAbove, into: &out)
    }
}

extension FrameEncoder {
    /// Appends `Frame{deliver: Deliver{...}}` around `sharedFields`, the message's fields
    /// that are the same for every subscriber (Deliver fields 2–7 and 9, encoded once),
    /// adding `subscription_id` (1) before and `delivery_attempt` (8) after. Protobuf
    /// readers accept fields in any order, so this equals the generated encoding.
    public static func writeDeliver(sharedFields: ByteBuffer, subscriptionID: UInt64, attempt: UInt32, into out: inout ByteBuffer) {
        writeDeliver(subscriptionID: subscriptionID, attempt: attempt, sharedSize: sharedFields.readableBytes, into: &out) {
            $0.buffer(sharedFields)
        }
    }

    /// A Deliver frame around shared fields of `sharedSize` bytes that `shared` writes.
    static func writeDeliver(subscriptionID: UInt64, attempt: UInt32, sharedSize: Int, into out: inout ByteBuffer,
                             shared: (inout RawWriter) -> Void) {
        let inner = 1 + varintSize(subscriptionID) + sharedSize + 1 + varintSize(UInt64(attempt))
        out.writeFrame(size: frameSize(inner: inner)) { writer in
            writer.frameHeader(kind: 7, inner: inner)  // Frame.deliver
            writer.byte(1 << 3)                        // Deliver.subscription_id
            writer.varint(subscriptionID)
            shared(&writer)
            writer.byte(8 << 3)                        // Deliver.delivery_attempt
            writer.varint(UInt64(attempt))
        }
    }

    /// Appends `Frame{publish: Publish{topic, payload, message_id}}` as the generated
    /// encoder would, without building the message: the SDK's publish hot path.
    public static func writePlainPublish(topic: String, payload: Data, messageID: String, receiptRef: UInt64 = 0,
                                         into out: inout ByteBuffer) {
        let inner = textSize(topic) + bytesSize(.data(payload)) + textSize(messageID) + uintSize(receiptRef)
        out.writeFrame(size: frameSize(inner: inner)) { writer in
            writer.frameHeader(kind: 4, inner: inner)  // Frame.publish
            writer.text(1, topic)
            writer.bytes(2, .data(payload))
            writer.text(4, messageID)
            writer.uint(5, receiptRef)
        }
    }

    static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    static func writeVarint(_ value: UInt64, into buffer: inout ByteBuffer) {
        var rest = value
        while rest >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        buffer.writeInteger(UInt8(rest))
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
