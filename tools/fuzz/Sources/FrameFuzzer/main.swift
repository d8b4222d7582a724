import Foundation
import Logging
import NIOCore
import XunfangBus
import XunfangConfig
import XunfangProto
import XunfangWire

/// Whatever the broker sends back; the fuzzer only cares that nothing crashes or hangs.
final class SinkPeer: BrokerPeer {
    var sent = 0
    var closed = false
    var isWritable: Bool { sent % 7 != 0 }  // exercise the slow-consumer paths too
    /// Like the socket transport: held deliveries and passed-through calls as bytes.
    var takesFrames: Bool { true }
    var scratch = ByteBuffer()
    func send(_ frame: Frame) { sent += 1 }
    func writeEncoded(_ body: (inout ByteBuffer) -> Void) {
        sent += 1
        scratch.clear()
        body(&scratch)
    }
    func close() { closed = true }
}

final class FixedClock: BrokerClock, @unchecked Sendable {
    var now: UInt64 = 1_000
    func nowMilliseconds() -> UInt64 { now }
    func unixMilliseconds() -> Int64 { Int64(now) }
}

/// A durable log in memory that syncs at once, so durable publishes, acks, redeliveries
/// and collection run too.
final class MemoryLog: DurableLog {
    weak var broker: Broker?
    var next: UInt64 = 1
    var messages: [UInt64: Xunfang_Bus_V1_Deliver] = [:]
    var unsynced: UInt64 = 0
    func appendMessage(_ message: inout Xunfang_Bus_V1_Deliver) -> UInt64 {
        message.sequence = next
        next += 1
        messages[message.sequence] = message
        unsynced = message.sequence
        return message.sequence
    }
    func appendAck(consumer: String, sequences: [UInt64]) {}
    func appendConsumer(name: String, pattern: String) {}
    func requestSync() {
        // Every third sync fails, as a full disk would.
        if next % 3 == 0 {
            broker?.logFailed(sequences: unsynced..<next, code: .resourceExhausted, message: "fuzz: disk full")
        } else {
            broker?.logSynced(through: next - 1)
        }
    }
    func recover() -> RecoveredLog { RecoveredLog() }
    func readMessage(_ sequence: UInt64) -> Xunfang_Bus_V1_Deliver? { messages[sequence] }
    func forget(_ sequences: [UInt64]) { for sequence in sequences { messages[sequence] = nil } }
}

let secret = "fuzz-secret-0123456789"
nonisolated(unsafe) let clock = FixedClock()
// libFuzzer calls the entry point from one thread.
nonisolated(unsafe) let broker: Broker = {
    var config = CountyConfig(county: "Fuzz", dataDirectory: "/nonexistent", principals: [
        PrincipalConfig(name: "fuzz", credential: secret, acl: AccessControl(
            publish: [try! TopicPattern("a.>")], subscribe: [try! TopicPattern("a.*")], serve: [try! MethodPattern("/a.A/*")],
            call: [try! MethodPattern("*")])),
    ])
    config.bus.subscriberQueueLimit = 16
    config.bus.durableTopics = [try! TopicPattern("a.d.>")]
    let log = MemoryLog()
    let broker = Broker(settings: BrokerSettings(config: config, credentials: ["fuzz": secret]), clock: clock, log: log,
                        logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
    log.broker = broker
    return broker
}()

/// A valid Hello, so inputs whose first byte is odd get past the handshake.
let hello: ByteBuffer = {
    var frame = Frame()
    frame.hello.minProtocol = 1
    frame.hello.maxProtocol = 1
    frame.hello.plugin = "fuzz"
    frame.hello.version = "1.0.0"
    frame.hello.credential = secret
    frame.hello.serves = ["/a.A/B"]
    frame.hello.maxFrameBytes = 512  // small, so oversize deliveries are compressed or refused
    var out = ByteBuffer()
    try! FrameEncoder.write(frame, into: &out)
    return out
}()

/// libFuzzer entry: the input is the byte stream a peer sends, cut into reads whose
/// sizes come from the first byte.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let input = UnsafeBufferPointer(start: start, count: count)
    guard let first = input.first else { return 0 }
    let peer = SinkPeer()
    let session = broker.connect(peer)
    var reader = FrameReader(limits: WireLimits(maxFrameBytes: 1 << 16, maxDecompressedBytes: 1 << 16))
    var intake = ByteIntake()
    if first & 1 == 1 {
        // Read and handled before the input is appended: `append` keeps only unread bytes
        // of its own buffer, so a Hello left unread would be lost.
        var helloBytes = hello
        reader.append(&helloBytes)
        intake.startRead()
        while let payload = try? reader.next() { try? broker.receive(payload: payload, from: session, intake: &intake) }
    }
    let chunk = Int(first >> 1) + 1
    var offset = 1
    loop: while offset < input.count && !peer.closed {
        let end = min(offset + chunk, input.count)
        var bytes = ByteBuffer(bytes: input[offset..<end])
        offset = end
        reader.append(&bytes)
        intake.startRead()
        while true {
            do {
                guard let payload = try reader.next() else { break }
                // The server's own path: plain frames read in place, the rest decoded.
                try broker.receive(payload: payload, from: session, intake: &intake)
            } catch {
                break loop  // a violation closes the connection, as the server does
            }
        }
        clock.now += 10
        broker.tick()
    }
    broker.disconnect(session)
    return 0
}
