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

