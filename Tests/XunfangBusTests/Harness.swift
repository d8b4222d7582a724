import Foundation
import Logging
import NIOCore
import Synchronization
import XunfangBus
import XunfangConfig
import XunfangProto

final class FakePeer: BrokerPeer {
    var frames: [Frame] = []
    var isWritable = true
    var closed = false
    /// Like a socket peer: held deliveries and passed-through calls come as encoded
    /// frames (decoded here).
    var takesFrames = false
    var frameWrites = 0
    /// Becomes unwritable after this many `writeEncoded` calls.
    var writableForFrameWrites = Int.max
    func send(_ frame: Frame) { frames.append(frame) }
    func writeEncoded(_ body: (inout ByteBuffer) -> Void) {
        var encoded = ByteBuffer()
        body(&encoded)
        frames += decodeFrames(encoded)
        frameWrites += 1
        if frameWrites >= writableForFrameWrites { isWritable = false }
    }
    func close() { closed = true }

    /// Frames received since the last call.
    func take() -> [Frame] {
        defer { frames.removeAll() }
        return frames
    }

    var delivers: [Xunfang_Bus_V1_Deliver] {
        frames.compactMap { if case .deliver(let d) = $0.kind { d } else { nil } }
    }
}

final class ManualClock: BrokerClock {
    let now = Atomic<UInt64>(1_000)
    func nowMilliseconds() -> UInt64 { now.load(ordering: .relaxed) }
    func unixMilliseconds() -> Int64 { 1_700_000_000_000 + Int64(now.load(ordering: .relaxed)) }
    func advance(_ milliseconds: UInt64) { now.add(milliseconds, ordering: .relaxed) }
}

/// An in-memory DurableLog whose syncs complete only when the test says so.
final class MemoryLog: DurableLog {
    var records: [Xunfang_Bus_V1_Deliver] = []
    var acks: [String: Set<UInt64>] = [:]
    var consumers: [String: String] = [:]
    var syncRequested = false
    var synced: UInt64 = 0
    func appendMessage(_ message: inout Xunfang_Bus_V1_Deliver) -> UInt64 {
        message.sequence = UInt64(records.count + 1)
        records.append(message)
        return message.sequence
    }
    func appendAck(consumer: String, sequences: [UInt64]) { acks[consumer, default: []].formUnion(sequences) }
    func appendConsumer(name: String, pattern: String) { consumers[name] = pattern }
    func requestSync() { syncRequested = true }
    var reads = 0
    var forgotten: [UInt64] = []
    func readMessage(_ sequence: UInt64) -> Xunfang_Bus_V1_Deliver? {
        reads += 1
        return sequence >= 1 && sequence <= UInt64(records.count) ? records[Int(sequence - 1)] : nil
    }
    func forget(_ sequences: [UInt64]) { forgotten += sequences }
    func recover() -> RecoveredLog {
        var state = RecoveredLog()
        state.messages = records.prefix(Int(synced)).map { RecoveredLog.Entry(sequence: $0.sequence, topic: $0.topic) }
        state.consumers = consumers
        state.acks = acks
        return state
    }
}

let secret = "0123456789abcdef-secret"

func testConfig(_ principals: [PrincipalConfig]) -> CountyConfig {
    var config = CountyConfig(county: "Test", dataDirectory: "/tmp/unused", principals: principals)
    config.bus.durableTopics = [try! TopicPattern("incident.>")]
    config.bus.subscriberQueueLimit = 4
    config.bus.pingIntervalMilliseconds = 1_000
    return config
}

func acl(publish: [String] = [">"], subscribe: [String] = [">"], serve: [String] = ["*"], call: [String] = ["*"]) -> AccessControl {
    AccessControl(publish: publish.map { try! TopicPattern($0) }, subscribe: subscribe.map { try! TopicPattern($0) },
                  serve: serve.map { try! MethodPattern($0) }, call: call.map { try! MethodPattern($0) })
}

/// A broker with principals "a", "b", "c" (unrestricted) and "limited".
struct BrokerFixture {
    let broker: Broker
    let clock = ManualClock()
    let log: MemoryLog?

    init(log: MemoryLog? = MemoryLog(), durableCacheLimit: Int = 65_536, retention: [RetentionRule] = [],
         limited: AccessControl = acl(publish: ["unit.position"], subscribe: ["grid.*"], serve: [], call: [])) {
        let principals = ["a", "b", "c"].map { PrincipalConfig(name: $0, credential: secret, acl: acl()) }
            + [PrincipalConfig(name: "limited", credential: secret, acl: limited),
               PrincipalConfig(name: "off", enabled: false, credential: secret, acl: acl())]
        var config = testConfig(principals)
        config.bus.durableCacheMessages = durableCacheLimit
        config.bus.retention = retention
        let credentials = Dictionary(uniqueKeysWithValues: principals.map { ($0.name, secret) })
        self.log = log
        broker = Broker(settings: BrokerSettings(config: config, credentials: credentials), clock: clock, log: log,
                        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    static func hello(_ plugin: String, instance: String = "", credential: String = secret, serves: [String] = [],
                      min: UInt32 = 1, max: UInt32 = 1) -> Frame {
        var frame = Frame()
        frame.hello.plugin = plugin
        frame.hello.instance = instance
        frame.hello.credential = credential
        frame.hello.version = "1.0.0"
        frame.hello.minProtocol = min
        frame.hello.maxProtocol = max
        frame.hello.serves = serves
        return frame
    }

    /// Connects and completes the handshake; returns the peer with the Welcome consumed.
    func join(_ plugin: String, instance: String = "", serves: [String] = []) -> (FakePeer, SessionID) {
        let peer = FakePeer()
        let id = broker.connect(peer)
        broker.receive(Self.hello(plugin, instance: instance, serves: serves), from: id)
        guard case .welcome = peer.take().first?.kind else { fatalError("\(plugin) was not welcomed") }
        return (peer, id)
    }

    func subscribe(_ id: SessionID, _ subscription: UInt64, _ pattern: String, group: String = "", durable: String = "", maxInFlight: UInt32 = 0) {
        var frame = Frame()
        frame.subscribe.subscriptionID = subscription
        frame.subscribe.pattern = pattern
        frame.subscribe.queueGroup = group
        frame.subscribe.durableName = durable
        frame.subscribe.maxInFlight = maxInFlight
        broker.receive(frame, from: id)
    }

    func publish(_ id: SessionID, _ topic: String, _ text: String = "", ref: UInt64 = 0, messageID: String = "") {
        var frame = Frame()
        frame.publish.topic = topic
        frame.publish.payload = Data(text.utf8)
        frame.publish.receiptRef = ref
        frame.publish.messageID = messageID
        broker.receive(frame, from: id)
    }

    func request(_ id: SessionID, _ callID: UInt64, _ method: String, timeout: UInt64 = 0) {
        var frame = Frame()
        frame.request.callID = callID
        frame.request.method = method
        frame.request.timeoutMs = timeout
        broker.receive(frame, from: id)
    }
}

