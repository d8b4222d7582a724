@testable import CommunityPolicingPlugin
import CommunityPolicingContract
import Foundation
import GRDB
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
        #expect(try await alerting.deliverDue(to: notifier).map(\.alert.id) == ["CA-2"])
        #expect(try await alerting.deliverDue(to: notifier).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/alerts") == ["CA-2.xml"])
        #expect(try String(contentsOfFile: "\(directory)/alerts/CA-2.xml", encoding: .utf8) == "<alert>CA-2 旧</alert>\n")
        #expect(try store.alerts(source: "w").map(\.deliveredAt) == [1_764_554_400_000, 1_764_554_500_000])
    }
}
