import Foundation
import NIOCore
import Testing
import XunfangProto
import XunfangWire

/// The hex examples in docs/wire.md, produced by the real encoder.
@Suite("docs/wire.md examples")
struct WireExamplesTests {
    func hex(_ frame: Xunfang_Bus_V1_Frame) throws -> String {
        var out = ByteBuffer()
        try FrameEncoder.write(frame, into: &out)
        return out.readableBytesView.map { String(format: "%02x", $0) }.joined(separator: " ")
    }

    @Test("a Ping with nonce 1")
    func ping() throws {
        var frame = Xunfang_Bus_V1_Frame()
        frame.ping.nonce = 1
        #expect(try hex(frame) == "00 00 00 00 04 5a 02 08 01")
    }

    @Test("a Publish of \"hi\" to template.note")
    func publish() throws {
        var frame = Xunfang_Bus_V1_Frame()
        frame.publish.topic = "template.note"
        frame.publish.payload = Data("hi".utf8)
        #expect(try hex(frame) == "00 00 00 00 15 22 13 0a 0d 74 65 6d 70 6c 61 74 65 2e 6e 6f 74 65 12 02 68 69")
    }
}


@Suite("Hand-encoded Deliver")
struct DeliverEncodingTests {
    @Test("writeDeliver decodes to the same Deliver the generated code builds",
          arguments: [(UInt64(1), UInt32(1)), (300, 2), (UInt64.max, UInt32.max), (0, 0)])
    func sameAsGenerated(subscriptionID: UInt64, attempt: UInt32) throws {
        var message = Xunfang_Bus_V1_Deliver()
        message.topic = "incident.created"
        message.payload = Data(repeating: 7, count: 200)
        message.messageID = "m-1"
        message.sequence = 42
        message.publisher = "dispatch"
        message.publishedAtUnixMs = 1_700_000_000_000
        var header = Xunfang_Bus_V1_Header()
        header.key = "k"
        header.value = "v"
        message.headers = [header]
        var out = ByteBuffer()
        FrameEncoder.writeDeliver(sharedFields: try message.serializedBytes() as ByteBuffer, subscriptionID: subscriptionID, attempt: attempt, into: &out)
        let payload = try #require(try FrameDecoder().next(from: &out))
        let frame = try FrameDecoder.decode(Xunfang_Bus_V1_Frame.self, from: payload)
        var expected = message
        expected.subscriptionID = subscriptionID
        expected.deliveryAttempt = attempt
        #expect(frame.deliver == expected)
        #expect(out.readableBytes == 0)
    }
}
