@testable import CommunityPolicingPlugin
import CommunityPolicingContract
import Foundation
import GRDB
import Synchronization
import Testing

@Suite("The outbox directory notifier")
struct OutboxDirectoryNotifierTests {
    func batch(_ ids: [String], text: String) -> [DeliverableAlert] {
        ids.map { id in
            var alert = Xunfang_Community_V1_Alert()
            alert.id = id
            return DeliverableAlert(alert: alert, cap: "<alert>\(id) \(text)</alert>\n")
        }
    }

    @Test("each alert is one whole file <id>.xml, readable by the stack's user only; a repeat replaces it by its bytes and leaves nothing half-written behind")
    func files() async throws {
        let directory = NSTemporaryDirectory() + "xf-outbox-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notifier = try OutboxDirectoryNotifier(directory: directory)
        try await notifier.deliver(batch(["CA-1", "CA-2", "CA-3"], text: "first"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["CA-1.xml", "CA-2.xml", "CA-3.xml"])
        #expect(try String(contentsOfFile: "\(directory)/CA-2.xml", encoding: .utf8) == "<alert>CA-2 first</alert>\n")
        let mode = try FileManager.default.attributesOfItem(atPath: "\(directory)/CA-1.xml")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // After a crash the same alerts may come again (here with other bytes, to see which won).
        try await notifier.deliver(batch(["CA-2", "CA-4"], text: "again"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["CA-1.xml", "CA-2.xml", "CA-3.xml", "CA-4.xml"])
        #expect(try String(contentsOfFile: "\(directory)/CA-2.xml", encoding: .utf8) == "<alert>CA-2 again</alert>\n")
        #expect(try String(contentsOfFile: "\(directory)/CA-4.xml", encoding: .utf8) == "<alert>CA-4 again</alert>\n")
    }

    @Test("a directory it cannot write in is an error that names it (the batch is then handed over again)")
    func unwritable() async throws {
        let directory = NSTemporaryDirectory() + "xf-outbox-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notifier = try OutboxDirectoryNotifier(directory: directory)
        try FileManager.default.removeItem(atPath: directory)
        await #expect(throws: NotifierError.self) { try await notifier.deliver(batch(["CA-1"], text: "lost")) }
        do {
            try await notifier.deliver(batch(["CA-1"], text: "lost"))
        } catch {
            #expect("\(error)".contains(directory), "\(error)")
        }
    }
}

@Suite("Alert delivery from the store")
struct AlertDeliveryStoreTests {
    @Test("a store from before CAP documents had a table of their own opens with nothing lost: the pending alert is delivered with its document's bytes, the delivered one is not")
    func upgrade() async throws {
        let directory = NSTemporaryDirectory() + "xf-upgrade-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/community.sqlite"
        do {
            let old = try DatabaseQueue(path: path)
            try CommunityStore.migrator.migrate(old, upTo: "v7 signed pages")
            try await old.write { db in
                for (seq, delivered) in [(1, Int64(1_764_554_400_000)), (2, 0)] {
                    var alert = Xunfang_Community_V1_Alert()
                    alert.id = "CA-\(seq)"
                    alert.memberID = "M-\(seq)"
                    try db.execute(sql: """
                        INSERT INTO alert (seq, member, source, created, send_at, delivered, expires, record, cap) VALUES (?, ?, 'w', 0, 0, ?, 0, ?, ?)
                        """, arguments: [seq, alert.memberID, delivered, try alert.serializedBytes() as Data, "<alert>CA-\(seq) 旧</alert>\n"])
                }
            }
        }
        let store = try CommunityStore(path: path)
        let alerting = Alerting(store: store, policy: AlertPolicy(), sender: "xunfang.community", now: { 1_764_554_500_000 })
        let notifier = try OutboxDirectoryNotifier(directory: "\(directory)/alerts")
        #expect(try await alerting.deliverDue(to: notifier) == 1)
        #expect(try await alerting.deliverDue(to: notifier) == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/alerts") == ["CA-2.xml"])
        #expect(try String(contentsOfFile: "\(directory)/alerts/CA-2.xml", encoding: .utf8) == "<alert>CA-2 旧</alert>\n")
        #expect(try store.alerts(source: "w").map(\.deliveredAt) == [1_764_554_400_000, 1_764_554_500_000])
    }
}

/// Takes batches as a notifier does, remembering each; the first waits until a second one
/// is with it too (giving up after a minute, so a delivery that never sends a second
/// fails the test rather than hanging it), and the one numbered `failing` (from 1) fails.
final class RecordingNotifier: AlertNotifier {
    struct State {
        var batches: [[String]] = []
        var withMe = 0
        var mostWithMe = 0
        var waiting: CheckedContinuation<Void, Never>?
    }
    let state = Mutex(State())
    let failing: Int?

    init(failing: Int? = nil) { self.failing = failing }

    func deliver(_ batch: [DeliverableAlert]) async throws {
        let number = state.withLock { state in
            state.batches.append(batch.map(\.alert.id))
            state.withMe += 1
            state.mostWithMe = max(state.mostWithMe, state.withMe)
            if state.batches.count == 2 { state.waiting.take()?.resume() }
            return state.batches.count
        }
        if number == 1 {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    guard state.batches.count < 2 else { return true }
                    state.waiting = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
                Task {
                    try? await Task.sleep(for: .seconds(60))
                    state.withLock { $0.waiting.take() }?.resume()
                }
            }
        }
        state.withLock { $0.withMe -= 1 }
        if number == failing { throw NotifierError("batch \(number) refused") }
    }
}

@Suite("Alert delivery in batches")
struct AlertDeliveryBatchTests {
    /// A store holding `count` alerts due now, CA-1 up.
    func store(due count: Int) throws -> (CommunityStore, String) {
        let directory = NSTemporaryDirectory() + "xf-batches-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try CommunityStore(path: "\(directory)/community.sqlite")
        try store.queue.write { db in
            for seq in 1...count {
                var alert = Xunfang_Community_V1_Alert()
                alert.id = "CA-\(seq)"
                alert.memberID = "M-\(seq)"
                try db.execute(sql: "INSERT INTO alert (seq, member, source, created, send_at, expires, record) VALUES (?, ?, 'w', 0, 0, 0, ?)",
                               arguments: [seq, alert.memberID, try alert.serializedBytes() as Data])
                try db.execute(sql: "INSERT INTO alert_cap (seq, cap) VALUES (?, ?)", arguments: [seq, "<alert>CA-\(seq)</alert>\n"])
            }
        }
        return (store, directory)
    }

    @Test("every due alert is handed once, in batches of 1,000 oldest first, two batches with the notifier at once and never three")
    func pipelined() async throws {
        let (store, directory) = try store(due: 2_500)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let alerting = Alerting(store: store, policy: AlertPolicy(), sender: "xunfang.community", now: { 1_764_554_500_000 })
        let notifier = RecordingNotifier()
        #expect(try await alerting.deliverDue(to: notifier) == 2_500)
        let (batches, most) = notifier.state.withLock { ($0.batches, $0.mostWithMe) }
        #expect(batches.map(\.count) == [1_000, 1_000, 500])
        #expect(batches.flatMap { $0 } == (1...2_500).map { "CA-\($0)" })
        #expect(most == 2)
        #expect(try store.undelivered(dueBy: .max, limit: 10).isEmpty)
        #expect(try await alerting.deliverDue(to: notifier) == 0)
    }

    @Test("a batch the notifier fails stays due and the run says so; the batches it took are not handed again")
    func failedBatch() async throws {
        let (store, directory) = try store(due: 2_500)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let alerting = Alerting(store: store, policy: AlertPolicy(), sender: "xunfang.community", now: { 1_764_554_500_000 })
        let failing = RecordingNotifier(failing: 2)
        await #expect(throws: NotifierError.self) { try await alerting.deliverDue(to: failing) }
        let taken = failing.state.withLock { $0.batches }
        let refused = Set(taken[1])
        let took = Set(taken.enumerated().filter { $0.offset != 1 }.flatMap(\.element))
        let retry = RecordingNotifier()
        #expect(try await alerting.deliverDue(to: retry) == 2_500 - took.count)
        let handedAgain = Set(retry.state.withLock { $0.batches.flatMap { $0 } })
        #expect(handedAgain.isSuperset(of: refused) && handedAgain.isDisjoint(with: took))
        #expect(handedAgain.union(took).count == 2_500)
    }
}
