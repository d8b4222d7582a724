import Testing
@testable import XunfangBus

@Suite("Stored durable messages by sequence")
struct StoredMessagesTests {
    func message(_ sequence: UInt64) -> StoredMessage { StoredMessage(topic: "t.\(sequence)", cached: nil, publishedAtUnixMs: 0, bytes: 0, rule: 0) }

    @Test("behaves as a dictionary by sequence under random inserts and removals")
    func matchesDictionary() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var stored = StoredMessages()
            var reference: [UInt64: String] = [:]
            for _ in 0..<400 {
                let sequence = UInt64.random(in: 1...120, using: &generator)
                if Bool.random(using: &generator) {
                    stored[sequence] = message(sequence)
                    reference[sequence] = "t.\(sequence)"
                } else {
                    stored[sequence] = nil
                    reference[sequence] = nil
                }
                #expect(stored.count == reference.count)
            }
            for sequence in UInt64(0)...130 { #expect(stored[sequence]?.topic == reference[sequence]) }
            let listed = stored.map { ($0.sequence, $0.message.topic) }
            #expect(listed.map(\.0) == reference.keys.sorted())
            #expect(listed.allSatisfy { "t.\($0.0)" == $0.1 })
        }
    }
}
