public import XunfangProto
public import XunfangWire
import XunfangConfig
import DequeModule

/// The on-disk log as the broker sees it. Appends are buffered; `requestSync` asks the
/// driver to write and fdatasync them, after which it calls `Broker.logSynced(through:)`
/// on the broker's thread. Many appends share one sync (group commit).
public protocol DurableLog: AnyObject {
    /// Assigns the next sequence number to `message` (setting `message.sequence`) and appends it.
    func appendMessage(_ message: inout Xunfang_Bus_V1_Deliver) -> UInt64
    func appendAck(consumer: String, sequences: [UInt64])
    /// An empty `pattern` records the consumer's deletion.
    func appendConsumer(name: String, pattern: String)
    func requestSync()
    /// What the log held when the bus started: an index, not the payloads.
    func recover() -> RecoveredLog
    /// A synced message, read back from disk (the broker keeps only recent ones in memory).
    func readMessage(_ sequence: UInt64) -> Xunfang_Bus_V1_Deliver?
    /// No consumer needs these any more; segments holding only forgotten messages may go.
    func forget(_ sequences: [UInt64])
}

public struct RecoveredLog: Sendable {
    public struct Entry: Sendable, Hashable {
        public var sequence: UInt64
        public var topic: String
        public var publishedAtUnixMs: Int64
        /// The record's size in the log.
        public var bytes: Int
        public init(sequence: UInt64, topic: String, publishedAtUnixMs: Int64 = 0, bytes: Int = 0) {
            self.sequence = sequence
            self.topic = topic
            self.publishedAtUnixMs = publishedAtUnixMs
            self.bytes = bytes
        }
    }
    public var messages: [Entry] = []
    public var consumers: [String: String] = [:]
    public var acks: [String: Set<UInt64>] = [:]
    public init() {}
}

/// A durable message as the broker holds it: always its topic (for matching), its
/// payload only while it is among the most recent `durableCacheLimit` messages.
struct StoredMessage {
    let topic: String
    var cached: Xunfang_Bus_V1_Deliver?
    let publishedAtUnixMs: Int64
    let bytes: Int
    /// Index of the retention rule that governs it.
    let rule: Int
}

/// Stored messages by sequence. Sequences come in order and leave mostly in order, so
/// they sit in a ring indexed from the oldest kept one: no hashing, and no rehashing of
/// a growing table under a stream of durable publishes.
struct StoredMessages: Sequence {
    private var slots = Deque<StoredMessage?>()
    /// The sequence of `slots.first`.
    private var base: UInt64 = 0
    private(set) var count = 0

    subscript(sequence: UInt64) -> StoredMessage? {
        get {
            guard sequence >= base, sequence - base < UInt64(slots.count) else { return nil }
            return slots[Int(sequence - base)]
        }
        set {
            if slots.isEmpty {
                guard newValue != nil else { return }
                base = sequence
            } else if sequence < base {
                guard newValue != nil else { return }
                slots.prepend(contentsOf: repeatElement(nil, count: Int(base - sequence)))
                base = sequence
            }
            let index = Int(sequence - base)
            if index >= slots.count {
                guard newValue != nil else { return }
                slots.append(contentsOf: repeatElement(nil, count: index - slots.count + 1))
            }
            count += (newValue == nil ? 0 : 1) - (slots[index] == nil ? 0 : 1)
            slots[index] = newValue
            while let first = slots.first, first == nil {
                slots.removeFirst()
                base += 1
            }
            while let last = slots.last, last == nil { slots.removeLast() }
        }
    }

    func makeIterator() -> some IteratorProtocol<(sequence: UInt64, message: StoredMessage)> {
        var index = 0
        let slots = self.slots
        let base = self.base
        return AnyIterator {
            while index < slots.count {
                defer { index += 1 }
                if let message = slots[index] { return (base + UInt64(index), message) }
            }
            return nil
        }
    }
}

final class DurableConsumer {
    let name: String
    var pattern: TopicPattern
    var acked: Set<UInt64> = []
    /// Every sequence at or below this has been considered (acked or not matching).
    var floor: UInt64 = 0
    /// Next sequence to look at for first delivery.
    var scanFrom: UInt64 = 1
    var redeliver = Deque<UInt64>()
    var inFlight: [UInt64: (deliveredAt: UInt64, binding: SubscriptionRef)] = [:]
    var attempts: [UInt64: UInt32] = [:]
    var bindings: [SubscriptionRef] = []
    var cursor = 0
    var maxInFlight: Int

    init(name: String, pattern: TopicPattern, maxInFlight: Int) {
        self.name = name
        self.pattern = pattern
        self.maxInFlight = maxInFlight
    }
}

struct DurableState {
    struct AwaitingSync {
        let sequence: UInt64
        let session: SessionID
        let ref: UInt64
        let messageID: String
        let message: Xunfang_Bus_V1_Deliver
    }
    /// Messages on disk, by sequence, kept while any consumer may still need them.
    var messages = StoredMessages()
    /// Sequences whose payload is cached, oldest first.
    var cacheOrder = Deque<UInt64>()
    var lastSequence: UInt64 = 0
    var consumers: [String: DurableConsumer] = [:]
    var awaitingSync: [AwaitingSync] = []
    var acksSinceCollection = 0
    var lastCollection: UInt64 = 0
    /// Messages and bytes kept under each retention rule.
    var usage: [Int: (messages: Int, bytes: Int)] = [:]
    var ruleOfTopic: [String: Int] = [:]
    var lastRetention: UInt64 = 0
}

extension Broker {
    func recover(from log: any DurableLog) {
        let recovered = log.recover()
        for entry in recovered.messages {
            keep(entry.sequence, StoredMessage(topic: entry.topic, cached: nil, publishedAtUnixMs: entry.publishedAtUnixMs,
                                               bytes: entry.bytes, rule: retentionRule(for: entry.topic)))
            durable.lastSequence = max(durable.lastSequence, entry.sequence)
        }
        for (name, patternText) in recovered.consumers {
            guard let pattern = try? TopicPattern(patternText) else { continue }
            let consumer = DurableConsumer(name: name, pattern: pattern, maxInFlight: settings.durableInFlightLimit)
            consumer.acked = recovered.acks[name] ?? []
            durable.consumers[name] = consumer
        }
        if !recovered.messages.isEmpty {
            logger.info("recovered durable log", metadata: [
                "xunfang.messages": "\(recovered.messages.count)", "xunfang.consumers": "\(recovered.consumers.count)"])
        }
        collectGarbage()
    }

    /// The log has made every record up to `sequence` durable: acknowledge publishers and deliver.
    public func logSynced(through sequence: UInt64) {
        var touched: [String] = []
        while let first = durable.awaitingSync.first, first.sequence <= sequence {
            durable.awaitingSync.removeFirst()
            store(first.message)
            durable.lastSequence = max(durable.lastSequence, first.sequence)
            stats.durableAppended += 1
            if let session = sessions[first.session], first.ref != 0 {
                receipt(session, ref: first.ref, sequence: first.sequence, messageID: first.messageID)
            }
            // Plain subscribers of a durable topic get it too, without acks.
            var plain = first.message
            plain.sequence = 0
            fanOut(OutgoingMessage(plain), topic: plain.topic)
            touched.append(first.message.topic)
        }
        guard !touched.isEmpty else { return }
        for consumer in durable.consumers.values where touched.contains(where: { consumer.pattern.matches($0) }) {
            pumpDurable(consumer.name)
        }
    }

    /// The log lost every message in `sequences` before they reached disk: their
    /// publishers are told so (they publish again), and nobody ever receives them.
    public func logFailed(sequences: Range<UInt64>, code: StatusCode, message: String) {
        stats.durableWriteFailures += 1
        guard !sequences.isEmpty else { return }
        var kept: [DurableState.AwaitingSync] = []
        for waiting in durable.awaitingSync {
            guard sequences.contains(waiting.sequence) else {
                kept.append(waiting)
                continue
            }
            if let session = sessions[waiting.session], waiting.ref != 0 { fail(session, code, message, ref: waiting.ref) }
        }
        durable.awaitingSync = kept
    }

    /// What the log set aside at start, for `ctl stats` and the metrics.
    public func recordDurableDamage(corruptRanges: Int, quarantinedBytes: Int) {
        stats.durableCorruptRanges += UInt64(corruptRanges)
        stats.durableQuarantinedBytes += UInt64(quarantinedBytes)
    }

    func bindDurable(_ subscription: Subscription, session: Session, maxInFlight: Int) -> BusError? {
        let name = subscription.durableName
        guard name.utf8.count <= 128, CountyConfig.isValidName(name.replacingOccurrences(of: ".", with: "-").replacingOccurrences(of: "_", with: "-")) else {
            return BusError(.invalidArgument, "durable name \"\(name)\" must be lower-case letters, digits, '-', '_' or '.'")
        }
        let limit = maxInFlight == 0 ? settings.durableInFlightLimit : min(maxInFlight, settings.durableInFlightLimit)
        let consumer: DurableConsumer
        if let existing = durable.consumers[name] {
            guard existing.pattern == subscription.pattern else {
                return BusError(.failedPrecondition, "durable consumer \"\(name)\" exists with pattern \"\(existing.pattern)\"")
            }
            consumer = existing
            consumer.maxInFlight = limit
        } else {
            consumer = DurableConsumer(name: name, pattern: subscription.pattern, maxInFlight: limit)
            durable.consumers[name] = consumer
            log?.appendConsumer(name: name, pattern: subscription.pattern.text)
            log?.requestSync()
        }
        consumer.bindings.append(SubscriptionRef(session: session.id, subscription: subscription.id))
        session.durableConsumers.insert(name)
        return nil
    }

    func unbindDurable(_ subscription: Subscription, session: Session) {
        guard let consumer = durable.consumers[subscription.durableName] else { return }
        let ref = SubscriptionRef(session: session.id, subscription: subscription.id)
        consumer.bindings.removeAll { $0 == ref }
        // What this binding had in flight goes to the front of the line, in order.
        let orphaned = consumer.inFlight.filter { $0.value.binding == ref }.map(\.key).sorted()
        for sequence in orphaned { consumer.inFlight[sequence] = nil }
        for sequence in orphaned.reversed() { consumer.redeliver.prepend(sequence) }
        if !consumer.bindings.contains(where: { $0.session == session.id }) {
            session.durableConsumers.remove(consumer.name)
        }
        if !consumer.bindings.isEmpty { pumpDurable(consumer.name) }
    }

    /// Sends the consumer what it may have in flight now, in log order after redeliveries.
    func pumpDurable(_ name: String) {
        guard let consumer = durable.consumers[name], !consumer.bindings.isEmpty else { return }
        let now = clock.nowMilliseconds()
        while consumer.inFlight.count < consumer.maxInFlight {
            guard let binding = nextWritableBinding(consumer) else { return }
            guard let sequence = nextSequence(for: consumer) else { return }
            guard let message = loadDurable(sequence) else {
                // Unreadable from disk (corrupted after start): report, skip, keep going.
                logger.error("durable message unreadable; skipping it", metadata: ["xunfang.sequence": "\(sequence)"])
                consumer.acked.insert(sequence)
                continue
            }
            guard let session = sessions[binding.session] else { return }
            let attempt = (consumer.attempts[sequence] ?? 0) + 1
            consumer.attempts[sequence] = attempt
            consumer.inFlight[sequence] = (now, binding)
            if attempt > 1 { stats.redelivered += 1 }
            if !deliver(OutgoingMessage(message), subscriptionID: binding.subscription, attempt: attempt, to: session) {
                // It can never fit this consumer's connection: set aside, not redelivered forever.
                logger.error("durable message larger than its consumer takes; skipped for that consumer", metadata: [
                    "xunfang.sequence": "\(sequence)", "xunfang.consumer": "\(consumer.name)"])
                settle([sequence], for: consumer)
            }
        }
    }

    private func nextWritableBinding(_ consumer: DurableConsumer) -> SubscriptionRef? {
        for _ in 0..<consumer.bindings.count {
            consumer.cursor = (consumer.cursor + 1) % consumer.bindings.count
            let binding = consumer.bindings[consumer.cursor]
            if let session = sessions[binding.session], session.peer.isWritable { return binding }
        }
        return nil
    }

    private func nextSequence(for consumer: DurableConsumer) -> UInt64? {
        while let sequence = consumer.redeliver.popFirst() {
            if !consumer.acked.contains(sequence), durable.messages[sequence] != nil { return sequence }
        }
        while consumer.scanFrom <= durable.lastSequence {
            let sequence = consumer.scanFrom
            consumer.scanFrom += 1
            guard let message = durable.messages[sequence], !consumer.acked.contains(sequence),
                  consumer.inFlight[sequence] == nil, consumer.pattern.matches(message.topic) else { continue }
            return sequence
        }
        return nil
    }

    func handleAck(_ ack: Xunfang_Bus_V1_Ack, from session: Session) {
        guard let subscription = session.subscriptions[ack.subscriptionID], !subscription.durableName.isEmpty,
              let consumer = durable.consumers[subscription.durableName] else {
            fail(session, .notFound, "no durable subscription \(ack.subscriptionID) to acknowledge", ref: ack.subscriptionID)
            return
        }
        let newlyAcked = settle(ack.sequences, for: consumer)
        pumpDurable(consumer.name)
        durable.acksSinceCollection += newlyAcked.count
        if durable.acksSinceCollection >= 4_096 { collectGarbage() }
    }

    /// Marks `sequences` acknowledged by `consumer`, in memory and in the log; returns
    /// those that were not already.
    @discardableResult
    private func settle(_ sequences: [UInt64], for consumer: DurableConsumer) -> [UInt64] {
        var newlyAcked: [UInt64] = []
        for sequence in sequences where !consumer.acked.contains(sequence) {
            guard durable.messages[sequence] != nil else { continue }
            consumer.inFlight[sequence] = nil
            consumer.attempts[sequence] = nil
            consumer.acked.insert(sequence)
            newlyAcked.append(sequence)
        }
        if !newlyAcked.isEmpty {
            log?.appendAck(consumer: consumer.name, sequences: newlyAcked)
            log?.requestSync()
        }
        return newlyAcked
    }

    /// Acknowledged messages are let go within a second even when acks trickle in.
    func collectIfDue(now: UInt64) {
        if durable.acksSinceCollection > 0 && now &- durable.lastCollection >= 1_000 { collectGarbage() }
    }

    func redeliverExpired(now: UInt64) {
        for consumer in durable.consumers.values {
            let expired = consumer.inFlight.filter { now &- $0.value.deliveredAt >= settings.redeliveryAfterMilliseconds }.map(\.key).sorted()
            guard !expired.isEmpty else { continue }
            for sequence in expired { consumer.inFlight[sequence] = nil }
            for sequence in expired.reversed() { consumer.redeliver.prepend(sequence) }
            pumpDurable(consumer.name)
        }
    }

    /// Drops messages from memory that every consumer whose pattern matches has acknowledged.
    /// Messages no consumer has claimed yet are kept for the first consumer to come.
    func collectGarbage() {
        durable.acksSinceCollection = 0
        durable.lastCollection = clock.nowMilliseconds()
        guard !durable.consumers.isEmpty else { return }
        var forgotten: [UInt64] = []
        for (sequence, message) in durable.messages {
            let interested = durable.consumers.values.filter { $0.pattern.matches(message.topic) }
            guard !interested.isEmpty, interested.allSatisfy({ $0.acked.contains(sequence) }) else { continue }
            letGo(sequence)
            forgotten.append(sequence)
            for consumer in interested { consumer.acked.remove(sequence) }
        }
        if !forgotten.isEmpty { log?.forget(forgotten.sorted()) }
    }

    /// Keeps a synced message, with its payload cached until newer ones push it out.
    func store(_ message: Xunfang_Bus_V1_Deliver) {
        keep(message.sequence, StoredMessage(topic: message.topic, cached: message, publishedAtUnixMs: message.publishedAtUnixMs,
                                             bytes: Self.recordBytes(message), rule: retentionRule(for: message.topic)))
        durable.cacheOrder.append(message.sequence)
        while durable.cacheOrder.count > settings.durableCacheLimit, let oldest = durable.cacheOrder.popFirst() {
            durable.messages[oldest]?.cached = nil
        }
    }

    /// About what a message's record takes in the log, for the byte limits of retention.
    static func recordBytes(_ message: Xunfang_Bus_V1_Deliver) -> Int {
        message.payload.count + message.topic.utf8.count + message.messageID.utf8.count + message.publisher.utf8.count + 32
    }

    private func keep(_ sequence: UInt64, _ message: StoredMessage) {
        durable.messages[sequence] = message
        durable.usage[message.rule, default: (0, 0)].messages += 1
        durable.usage[message.rule, default: (0, 0)].bytes += message.bytes
    }

    private func letGo(_ sequence: UInt64) {
        guard let message = durable.messages[sequence] else { return }
        durable.messages[sequence] = nil
        durable.usage[message.rule, default: (0, 0)].messages -= 1
        durable.usage[message.rule, default: (0, 0)].bytes -= message.bytes
    }

    func retentionRule(for topic: String) -> Int {
        if let known = durable.ruleOfTopic[topic] { return known }
        let index = settings.retention.firstIndex { $0.topics.matches(topic) } ?? settings.retention.count - 1
        if durable.ruleOfTopic.count < 100_000 { durable.ruleOfTopic[topic] = index }
        return index
    }

    private func isOver(_ rule: Int, _ usage: (messages: Int, bytes: Int)) -> Bool {
        let limits = settings.retention[rule]
        return usage.messages > (limits.maxMessages ?? .max) || usage.bytes > (limits.maxBytes ?? .max)
    }

    /// Why a durable publish to `topic` is refused (a full discard-new rule), or nil.
    func retentionRefusal(topic: String) -> String? {
        let rule = retentionRule(for: topic)
        let limits = settings.retention[rule]
        guard !limits.discardOld else { return nil }
        var usage = durable.usage[rule] ?? (0, 0)
        // Those still waiting for their sync count too.
        for waiting in durable.awaitingSync where retentionRule(for: waiting.message.topic) == rule {
            usage.messages += 1
            usage.bytes += Self.recordBytes(waiting.message)
        }
        guard usage.messages >= (limits.maxMessages ?? .max) || usage.bytes >= (limits.maxBytes ?? .max) else { return nil }
        return "the durable log keeps at most \(limits.maxMessages.map { "\($0) messages" } ?? "\(limits.maxBytes ?? 0) bytes") "
            + "of \(limits.topics) and discards new ones; it holds \(usage.messages) (\(usage.bytes) bytes)"
    }

    /// Drops what the retention rules no longer keep: messages past their rule's age, and
    /// the oldest of a discard-old rule over its count or bytes, acknowledged or not.
    /// Runs about once a second from `tick`.
    func enforceRetention(nowUnixMs: Int64) {
        let now = clock.nowMilliseconds()
        guard now &- durable.lastRetention >= 1_000 else { return }
        durable.lastRetention = now
        let youngestExpiry = settings.retention.compactMap(\.maxAgeDays).min().map { Int64($0) * 86_400_000 } ?? .max
        var usage = durable.usage
        var overRules = Set(usage.keys.filter { settings.retention[$0].discardOld && isOver($0, usage[$0]!) })
        var doomed: [UInt64] = []
        for (sequence, message) in durable.messages {
            let age = nowUnixMs - message.publishedAtUnixMs
            let expired = settings.retention[message.rule].maxAgeDays.map { age > Int64($0) * 86_400_000 } ?? false
            if expired || overRules.contains(message.rule) {
                doomed.append(sequence)
                usage[message.rule]!.messages -= 1
                usage[message.rule]!.bytes -= message.bytes
                if !isOver(message.rule, usage[message.rule]!) { overRules.remove(message.rule) }
            } else if overRules.isEmpty && age <= youngestExpiry {
                break  // messages come in time order: nothing after this one has expired either
            }
        }
        guard !doomed.isEmpty else { return }
        for sequence in doomed {
            letGo(sequence)
            for consumer in durable.consumers.values {
                consumer.acked.remove(sequence)
                consumer.inFlight[sequence] = nil
                consumer.attempts[sequence] = nil
            }
        }
        stats.durableDiscarded += UInt64(doomed.count)
        logger.info("retention discarded durable messages", metadata: ["xunfang.count": "\(doomed.count)"])
        log?.forget(doomed)
    }

    func loadDurable(_ sequence: UInt64) -> Xunfang_Bus_V1_Deliver? {
        guard let stored = durable.messages[sequence] else { return nil }
        if let cached = stored.cached { return cached }
        return log?.readMessage(sequence)
    }

    /// How many durable payloads are held in memory (bounded by `durableCacheLimit`).
    public var cachedDurablePayloads: Int { durable.messages.reduce(0) { $0 + ($1.message.cached == nil ? 0 : 1) } }

    /// Durable consumers for `xunfang ctl stats` and `ctl consumers`.
    public func durableSnapshots() -> [DurableSnapshot] {
        let now = clock.unixMilliseconds()
        return durable.consumers.values.map { consumer in
            var pending = 0
            var oldest: Double?
            for (sequence, message) in durable.messages where consumer.pattern.matches(message.topic) && !consumer.acked.contains(sequence) {
                if pending == 0 { oldest = Double(now - message.publishedAtUnixMs) / 1_000 }
                pending += 1
            }
            return DurableSnapshot(name: consumer.name, pattern: consumer.pattern.text, pending: pending,
                                   inFlight: consumer.inFlight.count, bindings: consumer.bindings.count, oldestUnackedSeconds: oldest)
        }.sorted { $0.name < $1.name }
    }

    /// Durable messages the bus keeps, and about how many bytes their records take.
    public var durableRetained: (messages: Int, bytes: Int) {
        durable.usage.values.reduce((0, 0)) { ($0.0 + $1.messages, $0.1 + $1.bytes) }
    }

    /// Removes a durable consumer that no session is bound to; messages only it still
    /// needed are let go (or kept by retention, if no one else claims them).
    public func deleteDurableConsumer(_ name: String) -> BusError? {
        guard let consumer = durable.consumers[name] else { return BusError(.notFound, "no durable consumer \"\(name)\"") }
        guard consumer.bindings.isEmpty else {
            return BusError(.failedPrecondition, "durable consumer \"\(name)\" has \(consumer.bindings.count) bound subscriber(s); stop them first")
        }
        durable.consumers[name] = nil
        log?.appendConsumer(name: name, pattern: "")
        log?.requestSync()
        logger.info("durable consumer deleted", metadata: ["xunfang.consumer": "\(name)"])
        collectGarbage()
        return nil
    }
}

public struct DurableSnapshot: Sendable, Codable, Hashable {
    public var name: String
    public var pattern: String
    public var pending: Int
    public var inFlight: Int
    public var bindings: Int
    /// Age of the oldest message it has not acknowledged, or nil when it is caught up.
    public var oldestUnackedSeconds: Double?
}
