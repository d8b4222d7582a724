import Foundation
import NIOCore
import SwiftProtobuf
import Testing
import XunfangProto
import XunfangWire

@Suite("Plain publish fast path")
struct PlainPublishTests {
    func bytes(_ frame: Xunfang_Bus_V1_Frame) throws -> ByteBuffer {
        try frame.serializedBytes()
    }

    @Test("reads what the generated decoder reads, and encodes the Deliver the generated encoder would")
    func matchesGenerated() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            var frame = Xunfang_Bus_V1_Frame()
            frame.publish.topic = ["a", "incident.created", "巡防.事件", String(repeating: "t", count: Int.random(in: 1...300, using: &generator))][round % 4]
            frame.publish.payload = .init((0..<Int.random(in: 0...2_000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            if round % 3 == 0 { frame.publish.messageID = "id-\(round)" }
            if round % 5 == 0 { frame.publish.receiptRef = UInt64.random(in: 1...UInt64.max, using: &generator) }
            let plain = try #require(PlainPublish(frame: try bytes(frame)))
            #expect(plain.topic == frame.publish.topic)
            #expect(plain.messageID == frame.publish.messageID)
            #expect(plain.receiptRef == frame.publish.receiptRef)

            // The Deliver written from the parts, with a publisher's id or a numbered one.
            let stamp = round % 7 == 0 ? 0 : Int64.random(in: 1...Int64.max, using: &generator)
            let ids = MessageIDs(bootID: "k3v9x0a")
            let number = round % 2 == 0 ? UInt64(round) : UInt64.random(in: 0...UInt64.max, using: &generator)
            let message = PlainMessage(topic: plain.topic, payload: round % 4 < 2 ? .received(plain.payload) : .data(Data(plain.payload.readableBytesView)), givenID: plain.messageID, number: number, ids: ids,
                                       publisher: round % 11 == 0 ? "" : "dispatch", publishedAtUnixMs: stamp)
            let subscription = UInt64.random(in: 0...UInt64.max, using: &generator)
            let attempt = UInt32.random(in: 0...UInt32.max, using: &generator)
            var written = ByteBuffer()
            FrameEncoder.writeDeliver(message, subscriptionID: subscription, attempt: attempt, into: &written)
            var expected = Xunfang_Bus_V1_Frame()
            expected.deliver.subscriptionID = subscription
            expected.deliver.topic = frame.publish.topic
            expected.deliver.payload = frame.publish.payload
            expected.deliver.messageID = frame.publish.messageID.isEmpty ? "k3v9x0a-" + String(number, radix: 36) : frame.publish.messageID
            expected.deliver.publisher = message.publisher
            expected.deliver.deliveryAttempt = attempt
            expected.deliver.publishedAtUnixMs = stamp
            #expect(message.messageID == expected.deliver.messageID)
            let payload = try #require(try FrameDecoder(limits: WireLimits(maxFrameBytes: 1 << 20)).next(from: &written))
            #expect(written.readableBytes == 0)
            #expect(try FrameDecoder.decode(Xunfang_Bus_V1_Frame.self, from: payload) == expected)
            // The shared fields alone are the Deliver without its per-subscriber fields.
            var shared = expected.deliver
            shared.subscriptionID = 0
            shared.deliveryAttempt = 0
            #expect(message.sharedFields.readableBytes == message.sharedFieldsSize)
            #expect(try Xunfang_Bus_V1_Deliver(serializedBytes: message.sharedFields) == shared)
        }
    }

    @Test("numbered message ids stay within 15 bytes, which Swift keeps inline")
    func shortIDs() {
        let ids = MessageIDs(bootID: "0000000")
        #expect(ids.string(0) == "0000000-0")
        #expect(ids.string(35) == "0000000-z")
        #expect(ids.string(36) == "0000000-10")
        #expect(ids.string(78_364_164_095) == "0000000-zzzzzzz")
        // Past that they are longer, and still right.
        #expect(ids.string(.max) == "0000000-" + String(UInt64.max, radix: 36))
    }

    @Test("anything but a plain publish is left to the generated decoder")
    func declines() throws {
        var withHeaders = Xunfang_Bus_V1_Frame()
        withHeaders.publish.topic = "a.b"
        withHeaders.publish.headers = [.with { $0.key = "k"; $0.value = "v" }]
        #expect(PlainPublish(frame: try bytes(withHeaders)) == nil)

        var subscribe = Xunfang_Bus_V1_Frame()
        subscribe.subscribe.pattern = "a.>"
        #expect(PlainPublish(frame: try bytes(subscribe)) == nil)

        var publish = Xunfang_Bus_V1_Frame()
        publish.publish.topic = "a.b"
        let good = Array(try bytes(publish).readableBytesView)
        // A second topic field (protobuf: last one wins) and trailing bytes after the publish.
        let repeated = [good[0], good[1] + 5] + Array(good[2...]) + [0x0A, 0x03, 0x78, 0x2E, 0x79]
        #expect(PlainPublish(frame: ByteBuffer(bytes: repeated)) == nil)
        #expect(PlainPublish(frame: ByteBuffer(bytes: good + [0x58, 0x01])) == nil)
        // Invalid UTF-8 in the topic, a length running past the end, an empty frame.
        #expect(PlainPublish(frame: ByteBuffer(bytes: [0x22, 0x03, 0x0A, 0x01, 0xFF])) == nil)
        #expect(PlainPublish(frame: ByteBuffer(bytes: [0x22, 0x03, 0x0A, 0x05, 0x61])) == nil)
        #expect(PlainPublish(frame: ByteBuffer()) == nil)
        // Non-ASCII text is validated, not just copied: Chinese topics read back whole.
        var chinese = Xunfang_Bus_V1_Frame()
        chinese.publish.topic = "巡防.警情"
        #expect(PlainPublish(frame: try bytes(chinese))?.topic == "巡防.警情")
        // An empty publish is still a publish (the broker refuses its empty topic).
        #expect(PlainPublish(frame: ByteBuffer(bytes: [0x22, 0x00]))?.topic == "")
    }

    @Test("no prefix of a valid frame and no byte flip crashes the reader")
    func robust() throws {
        var frame = Xunfang_Bus_V1_Frame()
        frame.publish.topic = "unit.position"
        frame.publish.payload = .init(repeating: 7, count: 200)
        frame.publish.messageID = "x"
        frame.publish.receiptRef = 300
        let good = Array(try bytes(frame).readableBytesView)
        for cut in 0..<good.count { _ = PlainPublish(frame: ByteBuffer(bytes: good[..<cut])) }
        for index in good.indices {
            var flipped = good
            flipped[index] ^= 0xFF
            if let plain = PlainPublish(frame: ByteBuffer(bytes: flipped)) {
                // Whatever it accepts, the generated decoder accepts with the same meaning.
                let generated = try Xunfang_Bus_V1_Frame(serializedBytes: flipped)
                #expect(generated.publish.topic == plain.topic)
                #expect(generated.publish.receiptRef == plain.receiptRef)
            }
        }
    }
}

@Suite("Plain deliver fast path (client side)")
struct PlainDeliverTests {
    @Test("reads every field the generated decoder reads")
    func matchesGenerated() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            var frame = Xunfang_Bus_V1_Frame()
            frame.deliver.subscriptionID = UInt64.random(in: 0...UInt64.max, using: &generator) >> UInt64(round % 64)
            frame.deliver.topic = round % 7 == 0 ? "" : "unit.position.\(round)"
            frame.deliver.payload = .init((0..<Int.random(in: 0...1_000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            frame.deliver.messageID = round % 2 == 0 ? "m-\(round)" : ""
            frame.deliver.sequence = round % 3 == 0 ? UInt64(round) : 0
            frame.deliver.publisher = "巡防-\(round)"
            frame.deliver.deliveryAttempt = UInt32(round % 5)
            frame.deliver.publishedAtUnixMs = round % 11 == 0 ? -1 : 1_764_000_000_000 + Int64(round)
            let bytes: ByteBuffer = try frame.serializedBytes()
            let plain = try #require(PlainDeliver(frame: bytes))
            var rebuilt = Xunfang_Bus_V1_Deliver()
            rebuilt.subscriptionID = plain.subscriptionID
            rebuilt.topic = plain.topic
            rebuilt.payload = .init(plain.payload.readableBytesView)
            rebuilt.messageID = plain.messageID
            rebuilt.sequence = plain.sequence
            rebuilt.publisher = plain.publisher
            rebuilt.deliveryAttempt = plain.attempt
            rebuilt.publishedAtUnixMs = plain.publishedAtUnixMs
            #expect(rebuilt == frame.deliver)
        }
    }

    @Test("headers, other kinds and broken frames go to the generated decoder")
    func declines() throws {
        var withHeaders = Xunfang_Bus_V1_Frame()
        withHeaders.deliver.topic = "a"
        withHeaders.deliver.headers = [.with { $0.key = "k" }]
        #expect(PlainDeliver(frame: try withHeaders.serializedBytes() as ByteBuffer) == nil)
        var publish = Xunfang_Bus_V1_Frame()
        publish.publish.topic = "a"
        #expect(PlainDeliver(frame: try publish.serializedBytes() as ByteBuffer) == nil)
        // delivery_attempt beyond UInt32, a repeated field, a truncated string.
        #expect(PlainDeliver(frame: ByteBuffer(bytes: [0x3A, 0x06, 0x40, 0x80, 0x80, 0x80, 0x80, 0x10])) == nil)
        #expect(PlainDeliver(frame: ByteBuffer(bytes: [0x3A, 0x04, 0x08, 0x01, 0x08, 0x02])) == nil)
        #expect(PlainDeliver(frame: ByteBuffer(bytes: [0x3A, 0x03, 0x12, 0x05, 0x61])) == nil)
        #expect(PlainDeliver(frame: ByteBuffer(bytes: [0x3A, 0x00]))?.topic == "")
    }
}

@Suite("Plain publish encoder (client side)")
struct PlainPublishEncoderTests {
    @Test("writes exactly the generated encoding of the frame", arguments: [
        ("unit.position", 0, ""), ("unit.position", 128, ""), ("巡防.事件", 300, "m-1"), ("", 0, ""), ("a", 70_000, "x"),
    ])
    func sameBytes(topic: String, payloadBytes: Int, messageID: String) throws {
        let payload = Data((0..<payloadBytes).map { UInt8(truncatingIfNeeded: $0 * 31) })
        var fast = ByteBuffer()
        FrameEncoder.writePlainPublish(topic: topic, payload: payload, messageID: messageID, into: &fast)
        var frame = Xunfang_Bus_V1_Frame()
        frame.publish.topic = topic
        frame.publish.payload = payload
        frame.publish.messageID = messageID
        if topic.isEmpty && payloadBytes == 0 && messageID.isEmpty { frame.publish = .init() }
        var general = ByteBuffer()
        try FrameEncoder.write(frame, into: &general)
        #expect(fast == general)
    }
}

@Suite("Plain call fast path")
struct PlainCallTests {
    func bytes(_ frame: Xunfang_Bus_V1_Frame) throws -> ByteBuffer {
        try frame.serializedBytes()
    }

    func randomData(_ generator: inout SystemRandomNumberGenerator) -> Data {
        Data((0..<Int.random(in: 0...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    @Test("requests and responses are read as the generated decoder reads them and written as it writes them")
    func matchesGenerated() throws {
        var generator = SystemRandomNumberGenerator()
        var recent = PlainRequest.Recent()
        for round in 0..<300 {
            var frame = Xunfang_Bus_V1_Frame()
            frame.request.callID = round % 5 == 0 ? 0 : UInt64.random(in: 1...UInt64.max, using: &generator)
            frame.request.method = ["/a/b", "/xunfang.dispatch.v1.Dispatch/Recommend", "/巡防.服务/查询"][round % 3]
            frame.request.payload = randomData(&generator)
            frame.request.timeoutMs = round % 4 == 0 ? 0 : UInt64.random(in: 1...60_000, using: &generator)
            frame.request.caller = round % 2 == 0 ? "" : "dispatch-\(round % 3)"
            let request = try #require(PlainRequest(frame: try bytes(frame), recent: &recent))
            #expect(request.callID == frame.request.callID && request.method == frame.request.method)
            #expect(Data(request.payload.readableBytesView) == frame.request.payload)
            #expect(request.timeoutMs == frame.request.timeoutMs && request.caller == frame.request.caller)
            var written = ByteBuffer()
            FrameEncoder.writeRequest(callID: request.callID, method: request.method, payload: .received(request.payload),
                                      timeoutMs: request.timeoutMs, caller: request.caller, into: &written)
            let writtenPayload = try #require(try FrameDecoder().next(from: &written))
            let expectedRequest: [UInt8] = try frame.serializedBytes()
            #expect(Array(writtenPayload.readableBytesView) == expectedRequest)

            var answer = Xunfang_Bus_V1_Frame()
            answer.response.callID = frame.request.callID
            answer.response.code = UInt32(round % 17)
            answer.response.message = round % 17 == 0 ? "" : "failed: \(round) 班次"
            answer.response.payload = randomData(&generator)
            let response = try #require(PlainResponse(frame: try bytes(answer)))
            #expect(response.callID == answer.response.callID && response.code == answer.response.code)
            #expect(response.message == answer.response.message && Data(response.payload.readableBytesView) == answer.response.payload)
            var out = ByteBuffer()
            FrameEncoder.writeResponse(callID: response.callID, code: response.code, message: response.message,
                                       payload: .data(answer.response.payload), into: &out)
            let outPayload = try #require(try FrameDecoder().next(from: &out))
            let expectedResponse: [UInt8] = try answer.serializedBytes()
            #expect(Array(outPayload.readableBytesView) == expectedResponse)
        }
    }

    @Test("receipts, and publishes asking for one, are written and read as generated code does")
    func receipts() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<200 {
            var frame = Xunfang_Bus_V1_Frame()
            frame.receipt.ref = round % 3 == 0 ? 0 : UInt64.random(in: 1...UInt64.max, using: &generator)
            frame.receipt.code = UInt32(round % 17)
            frame.receipt.message = round % 2 == 0 ? "" : "no \(round) 巡防"
            frame.receipt.sequence = round % 5 == 0 ? 0 : UInt64.random(in: 1...UInt64.max, using: &generator)
            frame.receipt.messageID = round % 4 == 0 ? "" : "m-\(round)"
            let receipt = try #require(PlainReceipt(frame: try bytes(frame)))
            #expect(receipt.ref == frame.receipt.ref && receipt.code == frame.receipt.code && receipt.message == frame.receipt.message)
            #expect(receipt.sequence == frame.receipt.sequence && receipt.messageID == frame.receipt.messageID)
            var out = ByteBuffer()
            FrameEncoder.writeReceipt(ref: receipt.ref, code: receipt.code, message: receipt.message, sequence: receipt.sequence,
                                      messageID: receipt.messageID, into: &out)
            let written = try #require(try FrameDecoder().next(from: &out))
            let expected: [UInt8] = try frame.serializedBytes()
            #expect(Array(written.readableBytesView) == expected)

            var publish = Xunfang_Bus_V1_Frame()
            publish.publish.topic = "incident.created"
            publish.publish.payload = randomData(&generator)
            publish.publish.messageID = round % 2 == 0 ? "" : "p-\(round)"
            publish.publish.receiptRef = frame.receipt.ref
            var encoded = ByteBuffer()
            FrameEncoder.writePlainPublish(topic: publish.publish.topic, payload: publish.publish.payload, messageID: publish.publish.messageID,
                                           receiptRef: publish.publish.receiptRef, into: &encoded)
            let publishBytes = try #require(try FrameDecoder().next(from: &encoded))
            let expectedPublish: [UInt8] = try publish.serializedBytes()
            #expect(Array(publishBytes.readableBytesView) == expectedPublish)
        }
        #expect(PlainReceipt(frame: ByteBuffer(bytes: [0x7A, 0x04, 0x08, 0x01, 0x08, 0x02])) == nil)
    }

    @Test("calls with metadata, repeated fields or bad text are left to the generated decoder")
    func declines() throws {
        var recent = PlainRequest.Recent()
        var withMetadata = Xunfang_Bus_V1_Frame()
        withMetadata.request.method = "/a/b"
        withMetadata.request.metadata = [.with { $0.key = "k"; $0.value = "v" }]
        #expect(PlainRequest(frame: try bytes(withMetadata), recent: &recent) == nil)
        var answerWithMetadata = Xunfang_Bus_V1_Frame()
        answerWithMetadata.response.metadata = [.with { $0.key = "k"; $0.value = "v" }]
        #expect(PlainResponse(frame: try bytes(answerWithMetadata)) == nil)
        // A repeated call_id, a code past 32 bits, invalid UTF-8 in the method.
        #expect(PlainRequest(frame: ByteBuffer(bytes: [0x4A, 0x04, 0x08, 0x01, 0x08, 0x02]), recent: &recent) == nil)
        #expect(PlainResponse(frame: ByteBuffer(bytes: [0x52, 0x06, 0x10, 0x80, 0x80, 0x80, 0x80, 0x10])) == nil)
        #expect(PlainRequest(frame: ByteBuffer(bytes: [0x4A, 0x03, 0x12, 0x01, 0xFF]), recent: &recent) == nil)
        // Other frame kinds.
        var ping = Xunfang_Bus_V1_Frame()
        ping.ping.nonce = 1
        let pingBytes = try bytes(ping)
        #expect(PlainRequest(frame: pingBytes, recent: &recent) == nil)
        #expect(PlainResponse(frame: pingBytes) == nil)
    }
}
